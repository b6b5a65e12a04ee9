"""Thin `ConfigurableResource` wrappers over `manualqa` and `sql`.

Their fields come from `Settings` through `build_resources` and carry no defaults of
their own, so a value is set only in `Settings` (and `config.yaml` over it); nothing
here starts a server at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from manualqa.config import (
    ChunkingSettings,
    EmbeddingSettings,
    LLMRoleSettings,
    LLMSettings,
    Settings,
)
from manualqa.index.qdrant_local import QdrantSnapshotReader, QdrantSnapshotWriter
from manualqa.objectstore import LocalObjectStore
from manualqa.sources import FolderConnector
from sql import db

if TYPE_CHECKING:
    from manualqa.llm import LLMClient


class ManualSourceResource(dg.ConfigurableResource):
    """The folder connector (vendor API, webhook and crawl connectors come next)."""

    folder: str
    default_vendor: str
    default_license: str

    def connector(self) -> FolderConnector:
        return FolderConnector(Path(self.folder), self.default_vendor, self.default_license)


class ObjectStoreResource(dg.ConfigurableResource):
    root: str

    def store(self) -> LocalObjectStore:
        return LocalObjectStore(Path(self.root))


class ChunkerResource(dg.ConfigurableResource):
    """Chunk size limits, counted in the embedding model's tokens."""

    max_tokens: int
    overlap_tokens: int
    min_tokens: int

    def settings(self) -> ChunkingSettings:
        return ChunkingSettings(
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
            min_tokens=self.min_tokens,
        )


class CatalogResource(dg.ConfigurableResource):
    """The PostgreSQL catalog at `DATABASE_URL` (read from the environment, never shown in
    run config), else the embedded server under `postgres_data_dir`."""

    postgres_data_dir: str
    database: str
    config_version: str

    def engine(self) -> Engine:
        settings = Settings(
            postgres={"data_dir": Path(self.postgres_data_dir), "database": self.database}
        )
        return _migrated_engine(db.resolve_database_url(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.engine()) as session:
            yield session


@lru_cache(maxsize=4)
def _migrated_engine(url: str) -> Engine:
    db.migrate(url)
    return db.make_engine(url)


class LLMResource(dg.ConfigurableResource):
    """Chat and embedding models, all called through LiteLLM."""

    answer_model: str
    embedding_model: str
    embedding_dimension: int
    embedding_batch_size: int
    cache: str
    redis_url: str

    def client(self) -> LLMClient:
        """A process-wide client per configuration (the embedding model loads once)."""
        llm = LLMSettings(
            answer=LLMRoleSettings(model=self.answer_model),
            cache=self.cache,  # type: ignore[arg-type]
            redis_url=self.redis_url,
        )
        embedding = EmbeddingSettings(
            model=self.embedding_model,
            dimension=self.embedding_dimension,
            batch_size=self.embedding_batch_size,
        )
        return _llm_client(llm.model_dump_json(), embedding.model_dump_json())


@lru_cache(maxsize=4)
def _llm_client(llm_json: str, embedding_json: str) -> LLMClient:
    from manualqa.llm import LLMClient  # imports LiteLLM (~3 s): only when a run needs it

    return LLMClient(
        LLMSettings.model_validate_json(llm_json),
        EmbeddingSettings.model_validate_json(embedding_json),
    )


class EvalResource(dg.ConfigurableResource):
    """Which golden set to score and how retrieval runs for it."""

    golden_set: str
    top_k: int
    min_score: float
    mode: Literal["hybrid", "dense"]
    min_hit_at_5: float


class VectorIndexResource(dg.ConfigurableResource):
    """Qdrant local mode, published as snapshots the API hot-reloads."""

    path: str
    collection: str
    dimension: int

    def writer(self) -> QdrantSnapshotWriter:
        return QdrantSnapshotWriter(Path(self.path), self.collection, self.dimension)

    def reader(self) -> QdrantSnapshotReader:
        reader = QdrantSnapshotReader(Path(self.path), self.collection)
        reader.refresh()
        return reader


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Every resource the code location needs, configured from `settings`."""
    return {
        "source": ManualSourceResource(
            folder=str(settings.resolve(settings.sources.folder.path)),
            default_vendor=settings.sources.folder.default_vendor,
            default_license=settings.sources.folder.default_license,
        ),
        "object_store": ObjectStoreResource(
            root=str(settings.state_path(settings.object_store.root))
        ),
        "catalog_db": CatalogResource(
            postgres_data_dir=str(settings.state_path(settings.postgres.data_dir)),
            database=settings.postgres.database,
            config_version=settings.config_version,
        ),
        "chunker": ChunkerResource(
            max_tokens=settings.chunking.max_tokens,
            overlap_tokens=settings.chunking.overlap_tokens,
            min_tokens=settings.chunking.min_tokens,
        ),
        "llm": LLMResource(
            answer_model=settings.llm.answer.model,
            embedding_model=settings.embedding.model,
            embedding_dimension=settings.embedding.dimension,
            embedding_batch_size=settings.embedding.batch_size,
            cache=settings.llm.cache,
            redis_url=settings.llm.redis_url,
        ),
        "evaluation": EvalResource(
            golden_set=str(settings.resolve(settings.evals.golden_set)),
            top_k=settings.evals.top_k,
            min_score=settings.retrieval.min_score,
            mode=settings.retrieval.mode,
            min_hit_at_5=settings.evals.min_hit_at_5,
        ),
        "vector_index": VectorIndexResource(
            path=str(settings.state_path(settings.index.path)),
            collection=settings.index.collection,
            dimension=settings.embedding.dimension,
        ),
    }
