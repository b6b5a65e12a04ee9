"""The vector index interface: one writer per manual, readers that never block on it."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from manualqa.documents import Chunk, ManualRef, slugify

BM25_K1 = 1.2


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


def sparse_from_token_ids(token_ids: list[int]) -> SparseVector:
    """Term-frequency weights (BM25 saturation) over the embedding tokenizer's vocabulary.

    The index applies IDF at query time, so together they score like BM25.
    """
    counts = Counter(token_ids)
    indices = sorted(counts)
    values = [counts[i] * (BM25_K1 + 1) / (counts[i] + BM25_K1) for i in indices]
    return SparseVector(indices=indices, values=values)


@dataclass(frozen=True)
class IndexPoint:
    """A chunk with its vectors and the manual metadata a search result shows."""

    chunk: Chunk
    ref: ManualRef
    dense: np.ndarray
    sparse: SparseVector

    @property
    def point_id(self) -> str:
        """Deterministic: the chunk id (manual key, ordinal, content hash) as a UUID."""
        return str(uuid.UUID(hex=self.chunk.chunk_id))

    def payload(self) -> dict[str, object]:
        c, r = self.chunk, self.ref
        return {
            "chunk_id": c.chunk_id,
            "manual_key": c.manual_key,
            "ordinal": c.ordinal,
            "text": c.text,
            "page": c.page,
            "page_end": c.page_end,
            "page_label": c.page_label,
            "section": c.section,
            "section_path": list(c.section_path),
            "token_count": c.token_count,
            "vendor": r.vendor,
            "vendor_slug": slugify(r.vendor),
            "product": r.product,
            "product_slug": slugify(r.product),
            "title": r.title,
            "license": r.license,
            "is_public": r.is_public,
            "file_name": r.file_name,
            "source_uri": r.uri,
        }


@dataclass(frozen=True)
class SearchFilters:
    """Vendor and product match whole words in order, ignoring case and punctuation:
    "AC-300" selects "PureAir AC-300 Air Purifier", "acme" selects "Acme Appliances".
    `manual_keys` keeps only those manuals; an empty tuple matches nothing.
    `withheld_manual_keys` drops those manuals (serving: licenses revoked or expired)."""

    vendor: str | None = None
    product: str | None = None
    manual_key: str | None = None
    manual_keys: tuple[str, ...] | None = None  # any of these manuals (a product's editions)
    withheld_manual_keys: tuple[str, ...] = ()
    public_only: bool = True


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    manual_key: str
    text: str
    score: float  # cosine similarity between query and chunk
    page: int | None
    page_end: int | None
    page_label: str | None
    section: str
    section_path: tuple[str, ...]
    vendor: str
    product: str
    title: str
    file_name: str
    source_uri: str
    license: str

    @property
    def source(self) -> str:
        """What a reader opens: the manual's file name, or its URI when it has none."""
        return self.file_name or self.source_uri

    @classmethod
    def from_payload(cls, payload: dict[str, object], score: float) -> Hit:
        p = payload
        return cls(
            chunk_id=str(p["chunk_id"]),
            manual_key=str(p["manual_key"]),
            text=str(p["text"]),
            score=score,
            page=_opt_int(p.get("page")),
            page_end=_opt_int(p.get("page_end")),
            page_label=None if p.get("page_label") is None else str(p["page_label"]),
            section=str(p.get("section") or ""),
            section_path=tuple(str(s) for s in p.get("section_path") or ()),  # type: ignore[attr-defined]
            vendor=str(p["vendor"]),
            product=str(p["product"]),
            title=str(p["title"]),
            file_name=str(p["file_name"]),
            source_uri=str(p["source_uri"]),
            license=str(p["license"]),
        )


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class PublishResult:
    version: str
    manual_points: int
    total_points: int
    snapshot_bytes: int = 0
    removed: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class IndexWriter(Protocol):
    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        """Make `points` the only points of `manual_key` and publish the result."""
        ...

    def delete_manual(self, manual_key: str) -> PublishResult: ...


class IndexReader(Protocol):
    def search(
        self,
        dense: np.ndarray,
        sparse: SparseVector | None,
        top_k: int,
        filters: SearchFilters,
    ) -> list[Hit]: ...

    def count(self, manual_key: str | None = None) -> int: ...

    @property
    def version(self) -> str | None: ...


def cosine(a: np.ndarray, b: list[float] | np.ndarray) -> float:
    value = float(np.dot(a, np.asarray(b, dtype=np.float32)))
    return value if math.isfinite(value) else 0.0
