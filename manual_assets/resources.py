"""Thin `ConfigurableResource` wrappers over `manualqa` and `sql`.

Their fields come from `Settings` through `build_resources` and carry no defaults of
their own, so a value is set only in `Settings` (and `config.yaml` over it); nothing
here starts a server at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from manualqa.artifacts import (
    ChunkEmbeddings,
    ManualChunks,
    ManualText,
    RawManual,
    dump_chunk_embeddings,
    dump_manual_chunks,
    dump_manual_text,
    load_chunk_embeddings,
    load_manual_chunks,
    load_manual_text,
    load_raw,
    raw_metadata,
)
from manualqa.config import (
    AnswerSettings,
    ChunkingSettings,
    DedupSettings,
    EmbeddingSettings,
    FolderSourceSettings,
    IndexSettings,
    LLMRoleSettings,
    LLMSettings,
    ObjectStoreSettings,
    Settings,
    SourcesSettings,
    ValidationSettings,
)
from manualqa.governance import ExclusionList
from manualqa.index import open_index
from manualqa.index.base import IndexReader, IndexWriter
from manualqa.objectstore import ObjectStore, open_object_store, raw_key, stage_key
from manualqa.sources import Connector, FolderConnector
from manualqa.sources.base import source_of_key
from manualqa.sources.registry import build_connector, folder_connector
from sql import db

if TYPE_CHECKING:
    from manualqa.llm import LLMClient


class ManualSourceResource(dg.ConfigurableResource):
    """The folder source as `sources.folder` configures it (path, vendor, license)."""

    folder_source: str  # FolderSourceSettings as JSON, its path made absolute

    def connector(self) -> FolderConnector:
        folder = FolderSourceSettings.model_validate_json(self.folder_source)
        return folder_connector(Settings(sources={"folder": folder}))

    def holds(self, manual_key: str) -> bool:
        """Whether `manual_key` is in the folder's key namespace (else a licensed
        source harvested it into the object store)."""
        folder = FolderSourceSettings.model_validate_json(self.folder_source)
        return source_of_key(manual_key) == (folder.namespace or "")


class LicensedSourceResource(dg.ConfigurableResource):
    """One configured vendor API, licensed crawl or webhook partner. Its secrets stay in
    the environment variables (or `*_FILE` files) its settings name, read when it opens."""

    name: str
    sources: str  # SourcesSettings as JSON, holding this source alone

    def connector(self, store: ObjectStore) -> Connector:
        """The source's connector (not yet opened); a partner's reads its inbox in `store`."""
        settings = Settings(sources=SourcesSettings.model_validate_json(self.sources))
        return build_connector(settings, self.name, store)


class IngestionResource(dg.ConfigurableResource):
    """What every fetched document must pass, how near-duplicates are found, and what is
    never ingested (the version-controlled exclusion list)."""

    validation: str  # ValidationSettings as JSON
    dedup: str  # DedupSettings as JSON
    exclusions: str  # path of the exclusion list
    config_version: str

    def validation_settings(self) -> ValidationSettings:
        return ValidationSettings.model_validate_json(self.validation)

    def dedup_settings(self) -> DedupSettings:
        return DedupSettings.model_validate_json(self.dedup)

    def exclusion_list(self) -> ExclusionList:
        return ExclusionList.load(Path(self.exclusions))


def licensed_source_key(name: str) -> str:
    """The resource key of the licensed source `name` (resource keys are identifiers)."""
    return "source_" + name.replace("-", "_")


def licensed_source_resources(settings: Settings) -> dict[str, LicensedSourceResource]:
    """One resource per configured vendor API, crawl and webhook partner.

    Raises:
        ValueError: two source names map to the same resource key (`a-b` and `a_b`).
    """
    sources = settings.sources
    resources: dict[str, LicensedSourceResource] = {}
    for kind in ("apis", "crawls", "webhooks"):
        for name, source in getattr(sources, kind).items():
            key = licensed_source_key(name)
            if key in resources:
                raise ValueError(f"sources {resources[key].name!r} and {name!r} differ only in -/_")
            alone = SourcesSettings(**{kind: {name: source}})
            resources[key] = LicensedSourceResource(name=name, sources=alone.model_dump_json())
    return resources


class ObjectStoreResource(dg.ConfigurableResource):
    """The configured object store: a local folder laid out like the bucket, or S3."""

    kind: Literal["local", "s3"]
    root: str
    bucket: str
    endpoint_url: str | None
    region: str

    def store(self) -> ObjectStore:
        config = ObjectStoreSettings(
            kind=self.kind,
            root=Path(self.root),
            bucket=self.bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )
        return open_object_store(Settings(object_store=config))


# How each processed stage's value is stored: file extension, encoder, decoder.
_STAGE_FORMATS: dict[type, tuple[str, Callable[[Any], bytes], Callable[[bytes], Any]]] = {
    ManualText: (".json", dump_manual_text, load_manual_text),
    ManualChunks: (".json", dump_manual_chunks, load_manual_chunks),
    ChunkEmbeddings: (".npz", dump_chunk_embeddings, load_chunk_embeddings),
}


class StageIOManager(dg.ConfigurableIOManager):
    """Passes each per-manual stage's value to the next stage through the object store.

    Raw bytes go to their immutable content-addressed key; every other stage's value
    replaces that stage's object for the manual. The key is recorded as `object_key` on
    the materialization, and a downstream stage loads exactly the object its upstream's
    latest materialization recorded.
    """

    object_store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        store = self.object_store.store()
        manual = context.partition_key
        if isinstance(obj, RawManual):
            key = raw_key(manual, obj.sha256, obj.ref.file_name)
            created = store.put_immutable(key, obj.data, metadata=raw_metadata(obj))
            context.add_output_metadata({"object_key": key, "new_object": created})
            return
        if type(obj) not in _STAGE_FORMATS:
            raise TypeError(f"{context.asset_key.to_user_string()} returned {type(obj).__name__}")
        extension, encode, _ = _STAGE_FORMATS[type(obj)]
        key = stage_key(manual, context.asset_key.to_user_string(), extension)
        data = encode(obj)
        store.put(key, data)
        context.add_output_metadata({"object_key": key, "stored_bytes": len(data)})

    def load_input(self, context: dg.InputContext) -> object:
        upstream = context.asset_key
        manual = context.partition_key
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=upstream, asset_partitions=[manual]), limit=1
        ).records
        stored = records[0].asset_materialization if records else None
        if stored is None or "object_key" not in stored.metadata:
            raise dg.Failure(
                f"{upstream.to_user_string()} has no stored value for {manual!r}: materialize it"
            )
        key = str(stored.metadata["object_key"].value)
        store = self.object_store.store()
        if key.startswith("raw/"):
            return load_raw(store.get(key), store.metadata(key))
        # The consumer's annotation names the value type; an unannotated input cannot be read.
        expected = context.dagster_type.typing_type
        if expected not in _STAGE_FORMATS:
            raise TypeError(f"input {context.name!r} must be annotated with a stage value type")
        return _STAGE_FORMATS[expected][2](store.get(key))


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
        return _checked_engine(db.resolve_database_url(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.engine()) as session:
            yield session


@lru_cache(maxsize=4)
def _checked_engine(url: str) -> Engine:
    db.check_schema(url)  # `manualqa migrate` changes the schema; runs only use it
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
    mode: Literal["hybrid", "dense"]
    min_hit_at_5: float
    answer_settings: str  # AnswerSettings as JSON

    def answer(self) -> AnswerSettings:
        return AnswerSettings.model_validate_json(self.answer_settings)


class QualityResource(dg.ConfigurableResource):
    """Thresholds of the asset checks on extracted text and chunks."""

    min_chars_per_page: int
    image_only_page_chars: int
    max_image_only_share: float
    languages: list[str]
    short_chunk_tokens: int
    max_short_chunk_share: float


class VectorIndexResource(dg.ConfigurableResource):
    """The configured vector index (`index.backend`): a writer for the assets, readers
    for the checks. A PostgreSQL index lives in the catalog database."""

    index: str  # IndexSettings as JSON, its path made absolute
    dimension: int
    postgres_data_dir: str
    database: str

    def _settings(self) -> Settings:
        settings = Settings(
            index=IndexSettings.model_validate_json(self.index),
            embedding={"dimension": self.dimension},
            postgres={"data_dir": Path(self.postgres_data_dir), "database": self.database},
        )
        if settings.index.backend != "postgres":
            return settings
        url = db.resolve_database_url(settings)
        return settings.model_copy(update={"database_url": SecretStr(url)})

    def writer(self) -> IndexWriter:
        return open_index(self._settings()).writer()

    def reader(self) -> IndexReader:
        return open_index(self._settings()).reader()


def build_resources(
    settings: Settings,
) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    """Every resource the code location needs, configured from `settings`."""
    stored = settings.object_store
    object_store = ObjectStoreResource(
        kind=stored.kind,
        root=str(settings.state_path(stored.root)),
        bucket=stored.bucket,
        endpoint_url=stored.endpoint_url,
        region=stored.region,
    )
    return {
        **licensed_source_resources(settings),
        "ingestion": IngestionResource(
            validation=settings.validation.model_dump_json(),
            dedup=settings.dedup.model_dump_json(),
            exclusions=str(settings.resolve(settings.governance.exclusions)),
            config_version=settings.config_version,
        ),
        "source": ManualSourceResource(
            folder_source=settings.sources.folder.model_copy(
                update={"path": settings.resolve(settings.sources.folder.path)}
            ).model_dump_json()
        ),
        "object_store": object_store,
        "io_manager": StageIOManager(object_store=object_store),
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
            mode=settings.retrieval.mode,
            min_hit_at_5=settings.evals.min_hit_at_5,
            answer_settings=settings.answer.model_dump_json(),
        ),
        "quality": QualityResource(
            min_chars_per_page=settings.checks.min_chars_per_page,
            image_only_page_chars=settings.checks.image_only_page_chars,
            max_image_only_share=settings.checks.max_image_only_share,
            languages=settings.checks.languages,
            short_chunk_tokens=settings.checks.short_chunk_tokens,
            max_short_chunk_share=settings.checks.max_short_chunk_share,
        ),
        "vector_index": VectorIndexResource(
            index=settings.index.model_copy(
                update={"path": settings.state_path(settings.index.path), "api_key": None}
            ).model_dump_json(),
            dimension=settings.embedding.dimension,
            postgres_data_dir=str(settings.state_path(settings.postgres.data_dir)),
            database=settings.postgres.database,
        ),
    }
