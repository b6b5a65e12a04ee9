"""Settings: defaults in `config.yaml`, overrides from the environment.

Environment variables use the prefix `MANUALQA_` and `__` between nested
names (`MANUALQA_INDEX__BACKEND=qdrant`). `DATABASE_URL` is read as is.
Secrets never live in `config.yaml`: a field named in `SECRET_FIELDS` may be
given as `NAME` or as `NAME_FILE` pointing at a file that holds it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Where config.yaml, workspace.yaml and relative paths are found: the checkout, or
# MANUALQA_HOME for an installed package (the container sets it to /app).
PROJECT_ROOT = Path(os.environ.get("MANUALQA_HOME") or Path(__file__).resolve().parent.parent)
CONFIG_ENV = "MANUALQA_CONFIG"
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "xxx", "todo"}


def read_secret(name: str) -> str | None:
    """Return the secret `name` from the environment or from the file `${name}_FILE`."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


class FolderSourceSettings(BaseModel):
    path: Path = Path("demo_corpus/manuals")
    default_license: str = "unknown"
    default_vendor: str = "unknown"


class SourcesSettings(BaseModel):
    folder: FolderSourceSettings = FolderSourceSettings()


class ObjectStoreSettings(BaseModel):
    kind: Literal["local"] = "local"
    root: Path = Path("objects")


class ChunkingSettings(BaseModel):
    max_tokens: int = Field(200, ge=32, le=512)
    overlap_tokens: int = Field(32, ge=0, le=128)
    min_tokens: int = Field(8, ge=1)

    @model_validator(mode="after")
    def _overlap_below_max(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError("chunking.overlap_tokens must be below chunking.max_tokens")
        return self


class EmbeddingSettings(BaseModel):
    model: str = "manualqa/all-MiniLM-L6-v2"
    dimension: int = 384
    batch_size: int = Field(128, ge=1, le=2048)  # texts per LiteLLM call
    api_base: str | None = None


class LLMRoleSettings(BaseModel):
    model: str
    temperature: float = 0.0
    max_tokens: int = 512
    api_base: str | None = None


class LLMSettings(BaseModel):
    answer: LLMRoleSettings = LLMRoleSettings(model="manualqa/extractive")
    cache: Literal["memory", "redis", "none"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"


class IndexSettings(BaseModel):
    backend: Literal["qdrant_local"] = "qdrant_local"
    path: Path = Path("index")
    collection: str = "manual_chunks"


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense"] = "hybrid"
    min_score: float = Field(0.4, ge=-1.0, le=1.0)


class EvalSettings(BaseModel):
    golden_set: Path = Path("evals/golden_set.yaml")
    top_k: int = Field(5, ge=1, le=8)
    min_hit_at_5: float = Field(0.8, ge=0.0, le=1.0)


class CheckSettings(BaseModel):
    """Thresholds of the asset checks on extracted text and chunks."""

    # A page with fewer characters than this has no usable text layer (a scan, a drawing).
    image_only_page_chars: int = Field(20, ge=0)
    max_image_only_share: float = Field(0.5, ge=0.0, le=1.0)
    min_chars_per_page: int = Field(200, ge=0)  # median over the pages of a PDF
    languages: list[str] = ["en"]  # ISO 639-1 codes the embedding model and search handle
    short_chunk_tokens: int = Field(32, ge=1)
    max_short_chunk_share: float = Field(0.25, ge=0.0, le=1.0)


class ServingSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    reload_interval_s: float = Field(2.0, gt=0)


class DagsterSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 3000


class PostgresSettings(BaseModel):
    data_dir: Path = Path("postgres")
    database: str = "manualqa"


class Settings(BaseSettings):
    """The whole platform's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MANUALQA_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: SecretStr | None = None
    postgres: PostgresSettings = PostgresSettings()
    sources: SourcesSettings = SourcesSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    llm: LLMSettings = LLMSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    evals: EvalSettings = EvalSettings()
    checks: CheckSettings = CheckSettings()
    serving: ServingSettings = ServingSettings()
    dagster: DagsterSettings = DagsterSettings()
    config_version: str = "1"

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url_from_env(cls, value: Any) -> Any:
        return value or read_secret("DATABASE_URL")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production":
            if self.database_url is None:
                raise ValueError("DATABASE_URL (or DATABASE_URL_FILE) is required in production")
            password = _url_password(self.database_url.get_secret_value())
            if password is not None and password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError("DATABASE_URL carries a placeholder password")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    def resolve(self, path: Path) -> Path:
        """Make a configured relative path absolute against the project root."""
        return path if path.is_absolute() else (PROJECT_ROOT / path)

    def state_path(self, path: Path) -> Path:
        """Where run-time state lives: relative paths are taken inside `data_dir`, so one
        variable (MANUALQA_DATA_DIR) keeps two corpora's databases and indexes apart."""
        return path if path.is_absolute() else self.resolve(self.data_dir) / path


def _url_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).password


class _YamlSource(PydanticBaseSettingsSource):
    """Reads `config.yaml` (or the file named by MANUALQA_CONFIG)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get(CONFIG_ENV, PROJECT_ROOT / "config.yaml"))
        if not path.exists():
            if CONFIG_ENV in os.environ:
                raise FileNotFoundError(f"{CONFIG_ENV} names {path}, which does not exist")
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping at the top level")
        if "database_url" in data:
            raise ValueError(f"{path}: database_url is a secret; set DATABASE_URL instead")
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build `Settings(...)` directly)."""
    return Settings()
