"""The vector index port: one writer per manual, readers that never block on it.

Every backend (`manualqa.index.edge`, `.qdrant_server`, `.postgres`) implements
`VectorIndex`, and `manualqa.index.open_index(settings)` picks one from configuration;
nothing above this package names a backend.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from manualqa.documents import Chunk, ManualRef, slugify

BM25_K1 = 1.2
RRF_K = 2  # reciprocal rank fusion: score = sum of 1 / (rank + RRF_K) over the two lists


class IndexNotPublished(RuntimeError):
    """No index has been published yet: materialize `qdrant_collection` first."""


class EmbeddingMismatch(ValueError):
    """The index holds vectors of another embedding model or dimension than configured."""


@dataclass(frozen=True)
class EmbeddingSpace:
    """Which embedding model an index's vectors come from, and their dimension. Every
    publication records it; `model` is None in an index published before it was."""

    model: str | None
    dimension: int


def check_embedding(recorded: EmbeddingSpace, expected: EmbeddingSpace, where: str) -> None:
    """Raise `EmbeddingMismatch` naming what differs between `recorded` and `expected`."""
    differences = []
    if recorded.model != expected.model:
        held = "no recorded model" if recorded.model is None else f"model {recorded.model!r}"
        differences.append(f"{held}, not {expected.model!r}")
    if recorded.dimension != expected.dimension:
        differences.append(f"{recorded.dimension}-d vectors, not {expected.dimension}-d")
    if differences:
        raise EmbeddingMismatch(
            f"{where} holds embeddings of {' and '.join(differences)} "
            "(embedding.model / embedding.dimension): rebuild the index with the configured "
            "model, or configure the one it was built with"
        )


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
            # Filters match this keyword: qdrant-edge-py 0.9 matches no bool payload value.
            "visibility": "public" if r.is_public else "private",
            "allowed_uses": list(r.allowed_uses),
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
    use: str | None = "serve"  # only manuals whose license allows this use

    @property
    def matches_nothing(self) -> bool:
        return self.manual_keys is not None and not self.manual_keys


@dataclass(frozen=True)
class IndexQuery:
    """One search: the query text (for full-text backends), its dense and sparse vectors
    (sparse None for dense-only search), how many hits and which points may match."""

    text: str
    dense: np.ndarray
    sparse: SparseVector | None
    top_k: int
    filters: SearchFilters = SearchFilters()

    @property
    def hybrid(self) -> bool:
        return self.sparse is not None and bool(self.sparse.indices)

    @property
    def prefetch(self) -> int:
        """How many candidates each of the dense and sparse lists brings to the fusion."""
        return max(self.top_k * 4, 20)


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


class Hits(list[Hit]):
    """The hits of one search, best first, and the published version they were read from
    (read together with them, so it never trails or leads them)."""

    def __init__(self, hits: Iterable[Hit], version: str | None) -> None:
        super().__init__(hits)
        self.version = version


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class PublishResult:
    version: str
    manual_points: int
    total_points: int
    published_bytes: int = 0  # bytes written to publish (a change file; 0 on a server)
    removed: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class IndexWriter(Protocol):
    """Publishes one manual at a time; readers see a manual's old points or its new ones,
    never a mix."""

    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        """Make `points` the only points of `manual_key` and publish the result."""
        ...

    def delete_manual(self, manual_key: str) -> PublishResult:
        """Remove every point of `manual_key` and publish the result."""
        ...

    def close(self) -> None: ...


class IndexReader(Protocol):
    """Serves searches from the published index; `refresh` follows new publications."""

    @property
    def version(self) -> str | None:
        """The published version being served (None before the first publication)."""
        ...

    def refresh(self) -> bool:
        """Switch to the newest published version; True when it switched."""
        ...

    def search(self, query: IndexQuery) -> Hits:
        """The best `query.top_k` points and the version they come from; raises
        `IndexNotPublished` before a publication."""
        ...

    def count(self, manual_key: str | None = None) -> int: ...

    def embedding(self) -> EmbeddingSpace | None:
        """The embedding model and dimension the last publication recorded (None before
        the first publication)."""
        ...

    def close(self) -> None: ...


class VectorIndex(Protocol):
    """One configured index: readers for the API, a writer for the asset graph."""

    def reader(self) -> IndexReader:
        """A reader opened at the newest published version (if any)."""
        ...

    def writer(self) -> IndexWriter: ...


def check_points(manual_key: str, points: list[IndexPoint], dimension: int) -> None:
    """Refuse points of other manuals, or vectors the index cannot hold."""
    foreign = {p.chunk.manual_key for p in points} - {manual_key}
    if foreign:
        raise ValueError(f"points for {sorted(foreign)} passed to replace_manual({manual_key!r})")
    wrong = [p.chunk.chunk_id for p in points if p.dense.shape != (dimension,)]
    if wrong:
        raise ValueError(
            f"the index holds {dimension}-d vectors; {len(wrong)} points of {manual_key!r} do not"
        )


def named_vector(vector: object, name: str) -> Sequence[float]:
    """Vector `name` of a point read back with its named vectors."""
    if not isinstance(vector, dict) or name not in vector:
        raise ValueError(f"the point was read without its {name!r} vector")
    row: Sequence[float] = vector[name]
    return row


def cosines(query: np.ndarray, rows: Sequence[Sequence[float]]) -> list[float]:
    """The cosine between unit vector `query` and each unit-length row (0.0 where the
    product is not finite)."""
    if not rows:
        return []
    values = np.asarray(rows, dtype=np.float32) @ query
    return [float(v) if math.isfinite(v) else 0.0 for v in values]
