"""Every answer sentence checked against the passage it cites; unsupported ones are dropped.

Offline, a sentence is supported when its numbers all occur in the cited passage, enough
of its content words do (`min_term_support`), it is close in meaning to one of the
passage's units (`min_cosine`, with the embedding model) and it does not negate what that
unit says, or the reverse. A quote of the passage, or of one of its units as an answer
shows it (a table row labelled by its header), passes at once. With `verify.model`
set, a hosted rerank/NLI endpoint scores each (sentence, passage) pair instead
(`min_score`). The same check runs on every answer, offline or hosted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from manualqa.answer import text as t
from manualqa.config import VerifySettings
from manualqa.sentences import split_sentences

_CITATION_RE = re.compile(r"\s*\[(\d+)\]")
_AFTER_CITATION_RE = re.compile(r"(?<=\])[.!?]?\s+(?=[A-Z0-9\"(])")
_PRODUCT_PREFIX_RE = re.compile(r"^For the [^:]{1,120}:\s*")


@dataclass(frozen=True)
class SupportPassage:
    """A cited passage as the verifier sees it."""

    text: str
    context: str  # section title and product name: words a sentence may use freely
    units: tuple[str, ...]
    unit_vectors: np.ndarray


@dataclass(frozen=True)
class Claim:
    text: str  # as written, citations included
    body: str  # without citations or a "For the X:" opening
    cited: tuple[int, ...]


@dataclass(frozen=True)
class Support:
    term_support: float
    cosine: float
    numbers_found: bool
    negation_agrees: bool
    quoted: bool


@dataclass(frozen=True)
class Verdict:
    text: str  # the kept sentences
    cited: tuple[int, ...]  # passage numbers the kept sentences cite, in order of first use
    dropped: tuple[str, ...]


def claims(answer: str) -> list[Claim]:
    """The sentences of an answer (steps and lines count as sentences)."""
    out = []
    for line in answer.splitlines():
        for sentence in _sentences(line):
            cited = tuple(int(n) for n in _CITATION_RE.findall(sentence))
            body = _PRODUCT_PREFIX_RE.sub("", _CITATION_RE.sub("", sentence)).strip()
            out.append(Claim(sentence, body, cited))
    return out


def _sentences(line: str) -> list[str]:
    """Sentences of an answer line: split after each citation, then at sentence ends."""
    return [s for piece in _AFTER_CITATION_RE.split(line.strip()) for s in split_sentences(piece)]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9%.]+", " ", text.lower()).split())


def measure(
    body: str, passages: Sequence[SupportPassage], body_vector: np.ndarray | None
) -> Support:
    """How well the cited passages support one sentence."""
    joined = " ".join(p.text for p in passages)
    context = " ".join(p.context for p in passages)
    said = _normal(body).rstrip(".")
    # A quote of the passage, or of one of its units as the answerer shows it (a table row
    # with its column names: "Task: Replace the filter; How often: Every 6 months").
    quoted = bool(said) and (
        said in _normal(joined)
        or any(said == _normal(u).rstrip(".") for p in passages for u in p.units)
    )
    terms = set(t.content_terms(body))
    present = set(t.content_terms(joined)) | set(t.content_terms(context))
    term_support = len(terms & present) / len(terms) if terms else 1.0
    numbers_found = t.numbers(body) <= t.numbers(joined) | t.numbers(context)
    if quoted or body_vector is None:
        return Support(term_support, 1.0 if quoted else 0.0, numbers_found, True, quoted)
    units = [u for p in passages for u in p.units]
    if not units:  # passages of headings or contents only
        return Support(term_support, 0.0, numbers_found, False, False)
    cosines = np.vstack([p.unit_vectors for p in passages if len(p.units)]) @ body_vector
    best = int(np.argmax(cosines))
    agrees = t.negated(body) == t.negated(units[best])
    return Support(term_support, float(cosines[best]), numbers_found, agrees, False)


class Verifier:
    """Keeps the sentences of an answer that the passages they cite support."""

    def __init__(
        self,
        settings: VerifySettings,
        embed: Callable[[list[str]], np.ndarray],
        hosted_score: Callable[[str, list[str]], list[float]] | None = None,
    ) -> None:
        self.settings = settings
        self.embed = embed
        self.hosted_score = hosted_score

    def supported(self, support: Support) -> bool:
        if support.quoted:
            return True
        return (
            support.numbers_found
            and support.negation_agrees
            and support.term_support >= self.settings.min_term_support
            and support.cosine >= self.settings.min_cosine
        )

    def verify(self, answer: str, passages: Sequence[SupportPassage]) -> Verdict:
        found = claims(answer)
        valid = [
            c for c in found if c.body and c.cited and all(1 <= n <= len(passages) for n in c.cited)
        ]
        kept = [c for c in valid if self._check(c, passages)] if valid else []
        kept_ids = {id(c) for c in kept}
        dropped = tuple(c.text for c in found if id(c) not in kept_ids)
        cited: list[int] = []
        for c in kept:
            cited += [n for n in c.cited if n not in cited]
        return Verdict(_rejoin(answer, kept), tuple(cited), dropped)

    def _check(self, claim: Claim, passages: Sequence[SupportPassage]) -> bool:
        cited = [passages[n - 1] for n in claim.cited]
        if self.hosted_score is not None:
            scores = self.hosted_score(claim.body, [p.text for p in cited])
            return max(scores, default=0.0) >= self.settings.min_score
        support = measure(claim.body, cited, None)
        if not support.quoted:
            support = measure(claim.body, cited, self.embed([claim.body])[0])
        return self.supported(support)


def _rejoin(answer: str, kept: Sequence[Claim]) -> str:
    """The kept sentences, keeping the answer's line breaks."""
    wanted = [c.text for c in kept]
    lines = []
    for line in answer.splitlines():
        parts = _sentences(line)
        keep = []
        for part in parts:
            if wanted and part == wanted[0]:
                keep.append(wanted.pop(0))
        if keep:
            lines.append(" ".join(keep))
        elif not parts and lines and lines[-1] != "":
            lines.append("")
    return "\n".join(lines).strip()
