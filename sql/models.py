"""The catalog schema: SQLAlchemy models, the source of truth for the Alembic migrations.

Every constraint gets its name from `NAMING_CONVENTION` and every index is named
explicitly, so migrations and autogenerate diffs stay stable across databases.
Foreign-key columns that lead a unique constraint or a composite index are covered
by that index and get no separate one.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SECTION_PATH_SEPARATOR = " > "

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ManualStatus(enum.StrEnum):
    """How far a manual has come through the pipeline."""

    INGESTED = "ingested"
    EXTRACTED = "extracted"
    CHUNKED = "chunked"
    EMBEDDED = "embedded"
    INDEXED = "indexed"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"  # kept, linked to the manual it duplicates, never indexed


class CrawlStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _in_check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class Vendor(Base):
    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    products: Mapped[list[Product]] = relationship(back_populates="vendor")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("vendor_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"))
    slug: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    vendor: Mapped[Vendor] = relationship(back_populates="products")
    manuals: Mapped[list[Manual]] = relationship(back_populates="product")


class License(Base):
    __tablename__ = "licenses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str | None] = mapped_column(Text)
    redistributable: Mapped[bool] = mapped_column(server_default=false())

    manuals: Mapped[list[Manual]] = relationship(back_populates="license")


class Manual(Base):
    """One manual; `key` is its stable Dagster partition key."""

    __tablename__ = "manuals"
    __table_args__ = (
        CheckConstraint(_in_check("status", ManualStatus), name="status"),
        CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),
        Index("ix_manuals_license_id", "license_id"),
        Index("ix_manuals_is_public", "is_public"),
        Index("ix_manuals_status", "status"),
        Index("ix_manuals_duplicate_of_id", "duplicate_of_id"),
        Index("ix_manuals_source", "source"),
        Index(
            "ix_manuals_product_id_is_public_uploaded_at",
            "product_id",
            "is_public",
            "uploaded_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    source_uri: Mapped[str] = mapped_column(Text)
    version_token: Mapped[str] = mapped_column(Text, server_default="")
    is_public: Mapped[bool]
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), server_default=ManualStatus.INGESTED.value)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    config_version: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    # The copy held: HTTP validators and the normalised text's checksum, for the next
    # conditional fetch; the MinHash signature, for near-duplicate detection.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    text_checksum: Mapped[str | None] = mapped_column(String(64))
    minhash: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("manuals.id", ondelete="SET NULL")
    )
    # The license manifest: terms, allowed uses, expiry; a revocation overrides it.
    license_terms: Mapped[str] = mapped_column(Text, server_default="")
    allowed_uses: Mapped[list[str]] = mapped_column(
        ARRAY(String(20)), server_default=text("'{index,serve}'")
    )
    license_expires_at: Mapped[datetime | None]
    license_revoked_at: Mapped[datetime | None]
    license_revoked_by: Mapped[str | None] = mapped_column(String(200))
    # What citations show and questions are matched by (see manualqa.answer.products).
    edition: Mapped[str] = mapped_column(Text, server_default="")
    published_on: Mapped[date | None]
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    model_mentions: Mapped[dict[str, int]] = mapped_column(JSONB, server_default=text("'{}'"))

    product: Mapped[Product] = relationship(back_populates="manuals")
    license: Mapped[License] = relationship(back_populates="manuals")
    artifacts: Mapped[list[FileArtifact]] = relationship(
        back_populates="manual", passive_deletes=True
    )
    sections: Mapped[list[Section]] = relationship(back_populates="manual", passive_deletes=True)
    chunks: Mapped[list[Chunk]] = relationship(back_populates="manual", passive_deletes=True)


class FileArtifact(Base):
    """An object-store file derived from (or holding) a manual: raw bytes, text, chunks."""

    __tablename__ = "file_artifacts"
    __table_args__ = (
        UniqueConstraint("manual_id", "kind", "content_hash"),
        CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    manual_id: Mapped[int] = mapped_column(ForeignKey("manuals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    object_key: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    manual: Mapped[Manual] = relationship(back_populates="artifacts")


class Section(Base):
    """A heading of a manual; `path` joins the heading path with `SECTION_PATH_SEPARATOR`."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("manual_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    manual_id: Mapped[int] = mapped_column(ForeignKey("manuals.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    level: Mapped[int]
    path: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None]

    manual: Mapped[Manual] = relationship(back_populates="sections")


class AnswerUnitVector(Base):
    """The embedding of one answer unit (sentence, step, table row) of a chunk."""

    __tablename__ = "answer_unit_vectors"

    chunk_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian


class Chunk(Base):
    """A retrievable passage; `id` is the deterministic `manualqa.documents.Chunk.chunk_id`."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("manual_id", "ordinal"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    manual_id: Mapped[int] = mapped_column(ForeignKey("manuals.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None]
    page_end: Mapped[int | None]
    page_label: Mapped[str | None] = mapped_column(String(50))
    section: Mapped[str] = mapped_column(Text, server_default="")
    section_path: Mapped[str] = mapped_column(Text, server_default="")
    token_count: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))

    manual: Mapped[Manual] = relationship(back_populates="chunks")


class CrawlJob(Base):
    """One run over a source (a crawl, an API pass, an inbox drain) and its counts."""

    __tablename__ = "crawl_jobs"
    __table_args__ = (
        CheckConstraint(_in_check("status", CrawlStatus), name="status"),
        Index("ix_crawl_jobs_source_started_at", "source", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), server_default=CrawlStatus.RUNNING.value)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    discovered: Mapped[int] = mapped_column(server_default=text("0"))
    changed: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    fetched: Mapped[int] = mapped_column(server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(server_default=text("0"))
    new: Mapped[int] = mapped_column(server_default=text("0"))
    failed: Mapped[int] = mapped_column(server_default=text("0"))
    quarantined: Mapped[int] = mapped_column(server_default=text("0"))
    duplicates: Mapped[int] = mapped_column(server_default=text("0"))
    excluded: Mapped[int] = mapped_column(server_default=text("0"))
    gone: Mapped[int] = mapped_column(server_default=text("0"))  # held, no longer offered
    config_version: Mapped[str | None] = mapped_column(String(100))
    cursor: Mapped[str | None] = mapped_column(Text)  # where the next run of the source starts


class QuarantinedObject(Base):
    """Bytes refused at ingest (or unreadable at extraction), kept under `quarantine/`
    with the reason, until an operator releases them."""

    __tablename__ = "quarantined_objects"
    __table_args__ = (
        UniqueConstraint("manual_key", "content_hash"),
        Index("ix_quarantined_objects_released_at", "released_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    manual_key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    quarantined_at: Mapped[datetime] = mapped_column(server_default=func.now())
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))


class AuditLog(Base):
    """Append-only record of catalog writes and refused operations."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_subject_at", "subject", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


class ChunkInjectionFlag(Base):
    """A chunk that reads like an instruction aimed at a model, or hides text (found at
    ingest by `manualqa.injection`); such chunks are kept out of prompts."""

    __tablename__ = "chunk_injection_flags"
    __table_args__ = (UniqueConstraint("chunk_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(32), ForeignKey("chunks.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(100))
    excerpt: Mapped[str] = mapped_column(Text)
    flagged_at: Mapped[datetime] = mapped_column(server_default=func.now())


class HiddenTextRecord(Base):
    """Text on a page of a PDF manual that a reader cannot see (invisible, white or tiny
    type), found at ingest by `manualqa.extraction.pdf_hidden` and left out of the text."""

    __tablename__ = "hidden_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    manual_id: Mapped[int] = mapped_column(ForeignKey("manuals.id", ondelete="CASCADE"), index=True)
    page: Mapped[int]
    reason: Mapped[str] = mapped_column(String(100))
    excerpt: Mapped[str] = mapped_column(Text)
    chars: Mapped[int]  # the length of the removed text, of which `excerpt` is the start
    found_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LLMCallRecord(Base):
    """One chat or embedding call: tokens, cost, prompt hash, and whom it served."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_client_id_at", "client_id", "at"),
        Index("ix_llm_calls_partition_at", "partition", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    role: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    prompt_name: Mapped[str | None] = mapped_column(String(100))
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(200))
    partition: Mapped[str | None] = mapped_column(String(300))
    prompt_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    completion_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cost_usd: Mapped[float | None] = mapped_column(Float)  # null: no price known
    cached: Mapped[bool] = mapped_column(server_default=false())
    latency_ms: Mapped[float] = mapped_column(Float)


class ApiKey(Base):
    """A client's API key: only a SHA-256 hash of its secret is stored. `vendors` and
    `products` (slugs), when not empty, are the only manuals the key may see."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("cardinality(scopes) > 0", name="has_scopes"),
        Index("ix_api_keys_revoked_at", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # public half of the key
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    vendors: Mapped[list[str]] = mapped_column(ARRAY(String(200)), server_default=text("'{}'"))
    products: Mapped[list[str]] = mapped_column(ARRAY(String(200)), server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class GovernanceVersion(Base):
    """One row naming the last committed transaction that changed what serving may show
    (a manual's license, uses, status, key or product; a vendor or product slug).

    Deferred triggers (migration 0008) set it at commit, so a reader that sees a version
    also sees that transaction's changes; serving caches what it derives under it.
    """

    __tablename__ = "governance_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
