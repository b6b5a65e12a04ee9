"""What each pipeline stage hands to the next, and the stored form of each.

A stage's value carries everything later stages need from it (the manual's
`ManualRef` travels with the text and the chunks), so no stage reads a side
channel to learn which manual or which version it works on.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from manualqa.documents import (
    Chunk,
    ExtractedManual,
    HiddenText,
    ManualRef,
    SectionInfo,
    TextBlock,
    content_hash,
)

FORMAT_VERSION = 3


@dataclass(frozen=True)
class RawManual:
    """A manual's original bytes as fetched from its source."""

    ref: ManualRef
    sha256: str
    data: bytes
    fetched_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class ManualText:
    """The page- and section-aware text of one manual."""

    ref: ManualRef
    doc: ExtractedManual


@dataclass(frozen=True)
class ManualChunks:
    """The retrievable passages of one manual, in reading order."""

    ref: ManualRef
    chunks: list[Chunk]


@dataclass(frozen=True)
class ChunkEmbeddings:
    """One vector per chunk: row i belongs to `chunk_ids[i]`."""

    model: str
    chunk_ids: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if len(self.chunk_ids) != len(self.vectors):
            raise ValueError(f"{len(self.chunk_ids)} chunk ids but {len(self.vectors)} vectors")


def fingerprint(value: ManualText | ManualChunks | ChunkEmbeddings) -> str:
    """A hash that changes exactly when the stage's content changes (its data version)."""
    if isinstance(value, ManualText):
        return content_hash(dump_manual_text(value))
    if isinstance(value, ManualChunks):
        return content_hash(dump_manual_chunks(value))
    return content_hash(
        value.model.encode()
        + "\x1f".join(value.chunk_ids).encode()
        + np.ascontiguousarray(value.vectors, dtype=np.float32).tobytes()
    )


def raw_metadata(raw: RawManual) -> dict[str, Any]:
    """What is stored beside the raw bytes: enough to rebuild `RawManual` from them."""
    return {
        "ref": asdict(raw.ref),
        "sha256": raw.sha256,
        "size_bytes": len(raw.data),
        "fetched_at": raw.fetched_at,
        "license": raw.ref.license,
        "source": raw.ref.source,
    }


def load_raw(data: bytes, metadata: dict[str, Any]) -> RawManual:
    """Rebuild a `RawManual` from its bytes and `raw_metadata`."""
    return RawManual(
        ref=_ref(metadata["ref"]),
        sha256=metadata["sha256"],
        data=data,
        fetched_at=metadata["fetched_at"],
    )


def dump_manual_text(text: ManualText) -> bytes:
    return _dump({"ref": asdict(text.ref), "doc": asdict(text.doc)})


def load_manual_text(data: bytes) -> ManualText:
    raw = _load(data)
    doc = raw["doc"]
    return ManualText(
        ref=_ref(raw["ref"]),
        doc=ExtractedManual(
            key=doc["key"],
            media_type=doc["media_type"],
            title=doc["title"],
            page_count=doc["page_count"],
            blocks=[
                TextBlock(**{**b, "section_path": tuple(b["section_path"])}) for b in doc["blocks"]
            ],
            sections=[SectionInfo(**{**s, "path": tuple(s["path"])}) for s in doc["sections"]],
            published=doc["published"],
            hidden=[HiddenText(**h) for h in doc["hidden"]],
        ),
    )


def dump_manual_chunks(chunks: ManualChunks) -> bytes:
    return _dump({"ref": asdict(chunks.ref), "chunks": [asdict(c) for c in chunks.chunks]})


def load_manual_chunks(data: bytes) -> ManualChunks:
    raw = _load(data)
    return ManualChunks(
        ref=_ref(raw["ref"]),
        chunks=[Chunk(**{**c, "section_path": tuple(c["section_path"])}) for c in raw["chunks"]],
    )


def dump_chunk_embeddings(embeddings: ChunkEmbeddings) -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format=np.array(FORMAT_VERSION),
        model=np.array(embeddings.model),
        chunk_ids=np.array(embeddings.chunk_ids, dtype=str),
        vectors=embeddings.vectors.astype(np.float32),
    )
    return buffer.getvalue()


def load_chunk_embeddings(data: bytes) -> ChunkEmbeddings:
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        _check_format(int(stored["format"]))
        return ChunkEmbeddings(
            model=str(stored["model"]),
            chunk_ids=tuple(str(i) for i in stored["chunk_ids"]),
            vectors=stored["vectors"],
        )


def _ref(stored: dict[str, Any]) -> ManualRef:
    # JSON has no tuples: give tuple fields back their type.
    return ManualRef(
        **{
            **stored,
            "allowed_uses": tuple(stored["allowed_uses"]),
            "aliases": tuple(stored.get("aliases", ())),
        }
    )


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {"format": FORMAT_VERSION, **obj}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _load(data: bytes) -> dict[str, Any]:
    obj = json.loads(data)
    _check_format(obj.get("format"))
    return obj


def _check_format(found: object) -> None:
    # Stored by an older release: re-materialize the stage rather than guess its shape.
    if found != FORMAT_VERSION:
        raise ValueError(f"stored artefact has format {found}, expected {FORMAT_VERSION}")
