"""Vector index backends behind one port (`manualqa.index.base`), opened from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manualqa.config import Settings
    from manualqa.index.base import VectorIndex

__all__ = ["open_index"]


def open_index(settings: Settings) -> VectorIndex:
    """The index `settings.index.backend` names, for vectors of the configured embedding
    model and dimension (each publication records both)."""
    from manualqa.index.base import EmbeddingSpace

    index = settings.index
    space = EmbeddingSpace(settings.embedding.model, settings.embedding.dimension)
    if index.backend == "edge":
        from manualqa.index.edge import EdgeIndex

        return EdgeIndex(settings.state_path(index.path), space, index.edge_search_threads)
    if index.backend == "qdrant":
        from qdrant_client import QdrantClient

        from manualqa.index.qdrant_server import QdrantServerIndex

        url, key = index.url, index.api_key

        def connect() -> QdrantClient:
            return QdrantClient(url=url, api_key=key.get_secret_value() if key else None)

        return QdrantServerIndex(connect, index.collection, space)
    if index.backend == "postgres":
        from manualqa.index.postgres import PostgresIndex

        if settings.database_url is None:  # the floors above resolve the embedded server's
            raise ValueError("index.backend 'postgres' needs the catalog's DATABASE_URL")
        return PostgresIndex(settings.database_url.get_secret_value(), index.collection, space)
    raise ValueError(f"unknown index backend {index.backend!r}")
