"""Settings: defaults in `config.yaml`, overrides from the environment.

Environment variables use the prefix `MANUALQA_` and `__` between nested
names (`MANUALQA_INDEX__BACKEND=qdrant`). `DATABASE_URL` is read as is.
Secrets never live in `config.yaml`: a field named in `SECRET_FIELDS` may be
given as `NAME` or as `NAME_FILE` pointing at a file that holds it.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
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


SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Use = Literal["index", "serve"]


class LicenseDefaults(BaseModel):
    """The license a source's documents carry when the source itself names none."""

    name: str = "unknown"
    terms: str = ""
    allowed_uses: list[Use] = ["index", "serve"]
    expires_after_days: int | None = Field(None, ge=1)


class _SourceSettings(BaseModel):
    """What every configured source has: a key namespace, a schedule and license defaults.

    `namespace` prefixes the source's manual keys (`<namespace>:<key>`) so two sources
    never collide; it defaults to the source's name. Only the folder source may have
    an empty namespace (bare keys, as in the demo golden sets).
    """

    model_config = ConfigDict(extra="forbid")

    namespace: str | None = None
    schedule: str | None = None  # cron of a pull source's harvest (None: hourly)
    license: LicenseDefaults = LicenseDefaults()
    default_vendor: str = "unknown"


class FolderSourceSettings(_SourceSettings):
    path: Path = Path("demo_corpus/manuals")
    namespace: str | None = ""

    @model_validator(mode="before")
    @classmethod
    def _default_license_names_the_license(cls, data: Any) -> Any:
        # `default_license` (the older spelling, still read from the environment) is
        # the license's name.
        if isinstance(data, dict) and "default_license" in data:
            data = dict(data)
            name = data.pop("default_license")
            data["license"] = {**dict(data.get("license") or {}), "name": name}
        return data

    @property
    def default_license(self) -> str:
        return self.license.name


class HttpClientSettings(BaseModel):
    """How an HTTP source talks to its hosts."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str = "manualqa-ingest/0.1 (+https://example.invalid/manualqa)"
    timeout_s: float = Field(30.0, gt=0)
    min_delay_s: float = Field(1.0, ge=0)  # between two requests to one host
    max_retries: int = Field(5, ge=0, le=20)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    max_retry_after_s: float = Field(300.0, gt=0)  # a longer Retry-After fails the fetch
    max_document_bytes: int = Field(100_000_000, ge=1)
    proxy: str | None = None  # egress proxy URL for every request of this source


class VendorApiSourceSettings(_SourceSettings):
    """A vendor or partner document API with OAuth2 client credentials."""

    base_url: str
    documents_path: str = "/documents"
    token_url: str | None = None  # None: the API needs no OAuth2 token
    client_id_env: str | None = None  # names of environment variables (or *_FILE)
    client_secret_env: str | None = None
    scope: str | None = None
    hmac_secret_env: str | None = None  # set to sign every request (X-Signature)
    page_size: int = Field(100, ge=1, le=1000)
    # Every Nth pass lists every document (no `updated_since`), so a document withdrawn
    # without a tombstone is noticed; 1: every pass does.
    full_listing_every: int = Field(24, ge=1)
    http: HttpClientSettings = HttpClientSettings(min_delay_s=0.0)


class CrawlSourceSettings(_SourceSettings):
    """A licensed crawl; its rules live in a version-controlled YAML file."""

    rules: Path
    http: HttpClientSettings = HttpClientSettings()


class WebhookPartnerSettings(_SourceSettings):
    """A partner that pushes manuals to `POST /v1/webhooks/{partner}`."""

    secret_env: str  # the environment variable (or *_FILE) holding the HMAC secret
    replay_window_s: int = Field(300, ge=1, le=86_400)
    max_body_bytes: int = Field(50_000_000, ge=1)
    http: HttpClientSettings = HttpClientSettings(min_delay_s=0.0)


class SourcesSettings(BaseModel):
    """Every configured source, keyed by name; the folder is the embedded default."""

    folder: FolderSourceSettings = FolderSourceSettings()
    apis: dict[str, VendorApiSourceSettings] = {}
    crawls: dict[str, CrawlSourceSettings] = {}
    webhooks: dict[str, WebhookPartnerSettings] = {}

    @model_validator(mode="after")
    def _names_and_namespaces_are_unique(self) -> SourcesSettings:
        names = ["folder", *self.apis, *self.crawls, *self.webhooks]
        bad = [name for name in names if not re.match(SOURCE_NAME, name)]
        if bad:
            raise ValueError(f"source names must match {SOURCE_NAME}: {bad}")
        if len(set(names)) != len(names):
            raise ValueError(f"two sources share a name: {sorted(names)}")
        spaces = [self.namespace(name) for name in names]
        if len(set(spaces)) != len(spaces):
            raise ValueError(f"two sources share a key namespace: {sorted(spaces)}")
        unnamespaced = [name for name, space in zip(names, spaces, strict=True) if not space]
        if unnamespaced and unnamespaced != ["folder"]:
            raise ValueError(f"only the folder source may have an empty namespace: {unnamespaced}")
        return self

    def configured(self) -> dict[str, _SourceSettings]:
        """Every source by name, the folder first."""
        return {"folder": self.folder, **self.apis, **self.crawls, **self.webhooks}

    def namespace(self, name: str) -> str:
        """The key namespace of the source `name`."""
        source = self.configured()[name]
        if source.namespace is None:
            return name
        if source.namespace and not re.match(SOURCE_NAME, source.namespace):
            raise ValueError(f"namespace of source {name!r} must match {SOURCE_NAME}")
        return source.namespace


class LifecycleSettings(BaseModel):
    raw_transition_days: int = Field(30, ge=1)
    raw_storage_class: str = "STANDARD_IA"
    derived_expire_days: int = Field(90, ge=1)


class ObjectStoreSettings(BaseModel):
    kind: Literal["local", "s3"] = "local"
    root: Path = Path("objects")  # local store
    bucket: str = "manualqa"  # s3 store; credentials as boto3 reads them (AWS_* env)
    endpoint_url: str | None = None  # MinIO, GCS interop, a test server
    region: str = "us-east-1"
    lifecycle: LifecycleSettings = LifecycleSettings()


class ValidationSettings(BaseModel):
    """What a fetched document must satisfy before it may be ingested."""

    min_bytes: int = Field(64, ge=1)
    max_bytes: int = Field(100_000_000, ge=1)
    max_pages: int = Field(5000, ge=1)
    min_chars_per_page: float = Field(40.0, ge=0)  # mean over the pages with text
    # The share of pages without text above which a PDF is refused. At 1.0 only a PDF
    # with no text at all is; a partly scanned one passes and its checks warn.
    max_image_only_ratio: float = Field(1.0, ge=0, le=1)
    languages: list[str] = []  # ISO 639-1 codes accepted; empty accepts any


class DedupSettings(BaseModel):
    threshold: float = Field(0.85, gt=0, le=1)  # estimated Jaccard of word shingles
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_words: int = Field(5, ge=1, le=20)


class GovernanceSettings(BaseModel):
    exclusions: Path = Path("governance/exclusions.yaml")  # version-controlled


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
    # litellm: any LiteLLM embedding model; tei: the model a Text Embeddings Inference
    # server at `api_base` serves, called on its OpenAI-compatible /v1/embeddings route.
    provider: Literal["litellm", "tei"] = "litellm"
    model: str = "manualqa/all-MiniLM-L6-v2"
    dimension: int = 384
    batch_size: int = Field(128, ge=1, le=2048)  # texts per LiteLLM call
    api_base: str | None = None

    @model_validator(mode="after")
    def _tei_needs_a_server(self) -> EmbeddingSettings:
        if self.provider == "tei" and not self.api_base:
            raise ValueError("embedding.provider tei needs embedding.api_base (http://host/v1)")
        return self


class LLMFallbackSettings(BaseModel):
    """A further model tried, in order, when the role's model keeps failing."""

    model: str
    api_base: str | None = None


class LLMRoleSettings(BaseModel):
    """One role's model, its limits and how it fails over (a LiteLLM Router model group)."""

    model: str
    api: Literal["chat", "responses"] = "chat"  # OpenAI Chat Completions or Responses API
    temperature: float = Field(0.0, ge=0.0, le=2.0)  # never sent to reasoning models
    max_tokens: int = Field(512, ge=1)  # sent under the name the model family expects
    timeout_s: float = Field(30.0, gt=0)
    num_retries: int = Field(1, ge=0, le=10)
    fallbacks: list[LLMFallbackSettings] = []
    api_base: str | None = None


class LLMSettings(BaseModel):
    """Models per role; every role defaults to the offline `manualqa/…` provider."""

    answer: LLMRoleSettings = LLMRoleSettings(model="manualqa/extractive", timeout_s=20.0)
    sql: LLMRoleSettings = LLMRoleSettings(model="manualqa/catalog-sql", max_tokens=400)
    router: LLMRoleSettings = LLMRoleSettings(model="manualqa/intent", max_tokens=16)
    composition: LLMRoleSettings = LLMRoleSettings(model="manualqa/composer", timeout_s=20.0)
    # Model names (after the provider prefix) that take `max_completion_tokens` and no
    # `temperature`; fnmatch patterns, case-insensitive.
    reasoning_models: list[str] = ["gpt-5*", "o1*", "o3*", "o4*"]
    cache: Literal["memory", "redis", "none"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_ttl_s: int = Field(86_400, ge=1)


class IndexSettings(BaseModel):
    """Where the vector index lives. `edge`: Qdrant Edge in-process, its change log under
    `path`; `qdrant`: a Qdrant server at `url` (key from QDRANT_API_KEY or
    QDRANT_API_KEY_FILE), `collection` being the alias readers search; `postgres`: tables
    `<collection>_points` and `<collection>_publication` in the catalog database.

    `edge_search_threads`: the threads one Edge search may spread over. Concurrent requests
    already keep the cores busy, and the engine serves concurrent calls one after the
    other, so one thread is cheapest (at 100k chunks, two callers side by side: 1.07 ms of
    CPU a hybrid search on one thread, 2.1 ms on the engine's default pool of 8)."""

    backend: Literal["edge", "qdrant", "postgres"] = "edge"
    path: Path = Path("index")
    edge_search_threads: int = Field(1, ge=1, le=64)
    collection: str = Field("manual_chunks", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    url: str | None = None
    api_key: SecretStr | None = None

    @field_validator("api_key", mode="before")
    @classmethod
    def _api_key_from_env(cls, value: Any) -> Any:
        return value or read_secret("QDRANT_API_KEY")

    @model_validator(mode="after")
    def _server_needs_url(self) -> IndexSettings:
        if self.backend == "qdrant" and not self.url:
            raise ValueError("index.backend 'qdrant' needs index.url (the Qdrant server)")
        return self


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense"] = "hybrid"


class VerifySettings(BaseModel):
    """When a cited passage supports an answer sentence (see manualqa.answer.verify)."""

    min_term_support: float = Field(0.6, ge=0.0, le=1.0)  # share of its words in the passage
    min_cosine: float = Field(0.55, ge=-1.0, le=1.0)  # to the closest unit of the passage
    model: str | None = None  # a hosted rerank/NLI model (LiteLLM rerank) replaces the above
    api_base: str | None = None
    min_score: float = Field(0.5, ge=0.0, le=1.0)  # the hosted model's relevance score


class RerankSettings(BaseModel):
    """An optional cross-encoder over the retrieved passages; off unless a model is set."""

    model: str | None = None  # LiteLLM rerank model (e.g. cohere/..., a TEI or Jina endpoint)
    api_base: str | None = None
    path: Path | None = None  # or a local sentence-transformers CrossEncoder folder
    max_gap: float = Field(0.05, ge=0.0)  # rerank only when the top scores are this close


class AnswerSettings(BaseModel):
    """The answer engine; weights and thresholds come from `python -m evals calibrate`."""

    top_k: int = Field(6, ge=1, le=20)  # passages the answer is drawn from
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)  # below it the answer abstains
    multi_product_margin: float = Field(0.1, ge=0.0)  # score gap within which products share
    # A unit from the same place within this score gap is quoted beside the best one
    # (`evidence.companion`); fitted by `python -m evals calibrate`.
    companion_margin: float = Field(0.3, ge=0.0)
    ranker_weights: dict[str, float] = {
        "cosine": 1.0,
        "passage_cosine": 0.5,
        "passage_rank": 0.1,
        "term_coverage": 0.8,
        "context_coverage": 0.3,
        "measure_match": 0.2,
        "number": 0.1,
        "procedure": 0.15,
        "code_match": 0.3,
        "short": -0.15,
    }
    confidence_weights: dict[str, float] = {
        "bias": -6.0,
        "score": 3.0,
        "cosine": 2.0,
        "passage_cosine": 2.0,
        "term_coverage": 2.0,
        "lead": 1.0,
        "missing_code": -3.0,
    }
    verify: VerifySettings = VerifySettings()
    rerank: RerankSettings = RerankSettings()


class TextToSqlSettings(BaseModel):
    """Limits on catalog questions answered in SQL (`POST /v1/sql`)."""

    max_rows: int = Field(100, ge=1, le=10_000)  # a LIMIT no statement may exceed
    statement_timeout_ms: int = Field(2_000, ge=100, le=60_000)
    template_cache_size: int = Field(1_024, ge=0)  # normalised question -> checked statement


class QuestionSettings(BaseModel):
    """What a question to the API may be: longer ones and control characters are refused."""

    max_chars: int = Field(1_000, ge=16, le=10_000)


class EvalSettings(BaseModel):
    golden_set: Path = Path("evals/golden_set.yaml")
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


class JwtSettings(BaseModel):
    """Bearer JSON Web Tokens from an identity provider, accepted beside API keys.

    The verification key (an HMAC secret or a PEM public key) is a secret: it is read
    from the environment variable named by `key_env`, or from `<key_env>_FILE`. Scopes
    come from the `scope` claim (space-separated), vendor and product restrictions from
    the `vendors` and `products` claims (lists of slugs)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    issuer: str | None = None
    audience: str | None = None
    algorithms: list[str] = ["RS256"]
    key_env: str = "MANUALQA_JWT_KEY"
    leeway_s: int = Field(30, ge=0, le=600)

    @model_validator(mode="after")
    def _issuer_and_audience_when_enabled(self) -> JwtSettings:
        if self.enabled and not (self.issuer and self.audience):
            raise ValueError("serving.jwt.enabled needs serving.jwt.issuer and .audience")
        if any(a.lower() == "none" for a in self.algorithms):
            raise ValueError("serving.jwt.algorithms may not include 'none'")
        return self


class RateLimitSettings(BaseModel):
    """Requests allowed per API key and per client IP ("60/minute", "3 per 2 seconds"), each
    a token bucket of that size refilled at that rate.

    Kept in Redis when `storage` is a redis:// URL (shared by every worker and replica),
    else in each process's memory."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    per_key: str = "120/minute"
    per_ip: str = "300/minute"
    storage: str = "memory://"


class ServingSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1, le=64)  # uvicorn worker processes of `manualqa up`
    # Threads of one worker that run the short work of every request at once: the catalog
    # read that admits it, and a search (query embedding, index search). That work holds
    # the GIL, so more threads only queue for it, and a thread back from the catalog then
    # waits behind all of them. Raise it when embeddings come from a server.
    request_threads: int = Field(2, ge=1, le=256)
    reload_interval_s: float = Field(2.0, gt=0)
    max_body_bytes: int = Field(65_536, ge=1_024)  # JSON bodies; webhooks have their own cap
    cors_origins: list[str] = []  # browser origins allowed to call the API; none by default
    jwt: JwtSettings = JwtSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()


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
    # The login of the read-only role that runs text-to-SQL (`READONLY_DATABASE_URL`); by
    # default the catalog URL with that role's name and no password (embedded trust auth).
    readonly_database_url: SecretStr | None = None
    postgres: PostgresSettings = PostgresSettings()
    sources: SourcesSettings = SourcesSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    validation: ValidationSettings = ValidationSettings()
    dedup: DedupSettings = DedupSettings()
    governance: GovernanceSettings = GovernanceSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    llm: LLMSettings = LLMSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    text_to_sql: TextToSqlSettings = TextToSqlSettings()
    questions: QuestionSettings = QuestionSettings()
    evals: EvalSettings = EvalSettings()
    checks: CheckSettings = CheckSettings()
    serving: ServingSettings = ServingSettings()
    dagster: DagsterSettings = DagsterSettings()
    config_version: str = "1"

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url_from_env(cls, value: Any) -> Any:
        return value or read_secret("DATABASE_URL")

    @field_validator("readonly_database_url", mode="before")
    @classmethod
    def _readonly_url_from_env(cls, value: Any) -> Any:
        return value or read_secret("READONLY_DATABASE_URL")

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
        for secret in ("database_url", "readonly_database_url"):
            if secret in data:
                raise ValueError(f"{path}: {secret} is a secret; set {secret.upper()} instead")
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build `Settings(...)` directly)."""
    return Settings()
