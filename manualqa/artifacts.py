"""JSON forms of stage outputs, as stored under `processed/` in the object store."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from manualqa.documents import Chunk, ExtractedManual, SectionInfo, TextBlock

FORMAT_VERSION = 1


def dump_extracted(doc: ExtractedManual) -> bytes:
    return _dump({"format": FORMAT_VERSION, **asdict(doc)})


def load_extracted(data: bytes) -> ExtractedManual:
    raw = _load(data)
    return ExtractedManual(
        key=raw["key"],
        media_type=raw["media_type"],
        title=raw["title"],
        page_count=raw["page_count"],
        blocks=[_block(b) for b in raw["blocks"]],
        sections=[_section(s) for s in raw["sections"]],
    )


def dump_chunks(chunks: list[Chunk]) -> bytes:
    return _dump({"format": FORMAT_VERSION, "chunks": [asdict(c) for c in chunks]})


def load_chunks(data: bytes) -> list[Chunk]:
    return [Chunk(**{**c, "section_path": tuple(c["section_path"])}) for c in _load(data)["chunks"]]


def dump_vectors(vectors: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, vectors.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def load_vectors(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _block(raw: dict[str, Any]) -> TextBlock:
    return TextBlock(**{**raw, "section_path": tuple(raw["section_path"])})


def _section(raw: dict[str, Any]) -> SectionInfo:
    return SectionInfo(**{**raw, "path": tuple(raw["path"])})


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load(data: bytes) -> dict[str, Any]:
    obj = json.loads(data)
    if obj.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"stored artefact has format {obj.get('format')}, expected {FORMAT_VERSION}"
        )
    return obj
