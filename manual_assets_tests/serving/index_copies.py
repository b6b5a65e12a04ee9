"""The demo index copied into indexes of the tests' own, and new publications of one manual
whose hits say which publication they came from."""

from __future__ import annotations

from dataclasses import replace

from manualqa.artifacts import load_chunk_embeddings, load_manual_chunks
from manualqa.config import Settings
from manualqa.index.base import IndexPoint
from manualqa.index.points import index_points
from manualqa.objectstore import open_object_store, stage_key

MANUAL = "acme__ac-200__owners-manual"
PRODUCT = "AC-200"
ORDINAL_STEP = 1000  # publication n gives chunk i the ordinal i + n * ORDINAL_STEP


def demo_points(settings: Settings, keys: list[str]) -> dict[str, list[IndexPoint]]:
    """Every demo manual's points, from the chunks and vectors the pipeline stored."""
    store = open_object_store(settings)
    points = {}
    for key in keys:
        chunks = load_manual_chunks(store.get(stage_key(key, "manual_chunks", ".json")))
        vectors = load_chunk_embeddings(store.get(stage_key(key, "chunk_embeddings", ".npz")))
        points[key] = index_points(chunks, vectors)
    return points


def publication(points: list[IndexPoint], n: int) -> list[IndexPoint]:
    """The same passages as publication `n`: same text and vectors, new ordinals, so new
    chunk and point ids."""
    moved = [
        replace(p.chunk, ordinal=p.chunk.ordinal % ORDINAL_STEP + n * ORDINAL_STEP) for p in points
    ]
    return [replace(p, chunk=c) for p, c in zip(points, moved, strict=True)]


def publication_of(publications: list[list[IndexPoint]]) -> dict[str, int]:
    """Chunk id -> the publication it belongs to."""
    return {p.chunk.chunk_id: n for n, points in enumerate(publications) for p in points}
