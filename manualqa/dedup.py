"""Near-duplicate manuals across sources, found with MinHash LSH (datasketch).

A manual's signature is the MinHash of its word shingles. The index holds the
signatures of manuals already kept; a new manual whose estimated Jaccard similarity to
one of them reaches the threshold is a duplicate of it and is linked, not indexed.
Signatures are plain lists of integers, so the catalog can store them and an index can
be rebuilt from it in any process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

from manualqa.config import DedupSettings
from manualqa.inspection import normalise

# Stored signatures are only comparable under the scheme that made them: name it.
SCHEME = "affine32"


def shingles(text: str, size: int) -> set[bytes]:
    """The set of `size`-word shingles of `text`, lower-cased."""
    words = normalise(text).lower().split(" ")
    if len(words) < size:
        return {" ".join(words).encode()} if words != [""] else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str, settings: DedupSettings) -> list[int]:
    """The MinHash signature of `text` (empty for a text without words)."""
    grams = shingles(text, settings.shingle_words)
    if not grams:
        return []
    minhash = MinHash(num_perm=settings.num_perm, scheme=SCHEME)
    minhash.update_batch(list(grams))
    return [int(v) for v in minhash.hashvalues]


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures of equal length."""
    if not a or len(a) != len(b):
        return 0.0
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


class NearDuplicateIndex:
    """The signatures of kept manuals, queried for near-duplicates of a new one."""

    def __init__(self, settings: DedupSettings, kept: Iterable[tuple[str, Sequence[int]]] = ()):
        self.settings = settings
        self._lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
        self._signatures: dict[str, Sequence[int]] = {}
        for key, sig in kept:
            self.add(key, sig)

    def __len__(self) -> int:
        return len(self._signatures)

    def _minhash(self, sig: Sequence[int]) -> MinHash:
        if len(sig) != self.settings.num_perm:
            raise ValueError(f"a signature has {len(sig)} values, not {self.settings.num_perm}")
        return MinHash(
            num_perm=self.settings.num_perm, hashvalues=np.asarray(sig, np.uint64), scheme=SCHEME
        )

    def add(self, key: str, sig: Sequence[int]) -> None:
        """Keep `key` as an original; an empty signature (no text) is never matched."""
        if not sig or key in self._signatures:
            return
        self._lsh.insert(key, self._minhash(sig))
        self._signatures[key] = sig

    def remove(self, key: str) -> None:
        if key in self._signatures:
            self._lsh.remove(key)
            del self._signatures[key]

    def keep_or_match(self, key: str, sig: Sequence[int]) -> tuple[str, float] | None:
        """The kept manual that `key`'s signature nearly duplicates, and the similarity;
        None after keeping `key` as an original. Every source's manuals pass here."""
        match = self.duplicate_of(key, sig)
        if match is None:
            self.add(key, sig)
        return match

    def duplicate_of(self, key: str, sig: Sequence[int]) -> tuple[str, float] | None:
        """The most similar kept manual (other than `key`) at or above the threshold, and
        the similarity; None when there is none."""
        if not sig:
            return None
        best: tuple[str, float] | None = None
        for candidate in self._lsh.query(self._minhash(sig)):
            if candidate == key:
                continue
            score = similarity(sig, self._signatures[candidate])
            if score >= self.settings.threshold and (best is None or score > best[1]):
                best = (candidate, score)
        return best
