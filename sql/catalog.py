"""Catalog reads and writes for the pipeline and the API.

Every function takes a `Session` and leaves committing to the caller
(`sql.db.session_scope`). Writes are idempotent: re-running one for a manual replaces
that manual's rows. Reads return small frozen dataclasses, never ORM objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, Select, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from manualqa import documents
from manualqa.documents import HiddenText, ManualProfile, ManualRef, SectionInfo, slugify
from manualqa.injection import Finding
from sql.models import (
    SECTION_PATH_SEPARATOR,
    AnswerUnitVector,
    AuditLog,
    Chunk,
    ChunkInjectionFlag,
    FileArtifact,
    HiddenTextRecord,
    License,
    Manual,
    ManualStatus,
    Product,
    QuarantinedObject,
    Section,
    Vendor,
)

logger = logging.getLogger(__name__)

RAW_ARTIFACT = "raw"
PIPELINE_ACTOR = "pipeline"

# Columns `set_manual_status` may change besides `status`.
_STATUS_FIELDS = frozenset(
    {"page_count", "quarantine_reason", "title", "config_version", "model_mentions"}
)


UNIT_VECTOR_DTYPE = np.dtype("<f4")  # answer-unit vectors are stored as float32 bytes


class ManualNotFoundError(LookupError):
    """No manual with that key is in the catalog."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no manual {key!r} in the catalog")
        self.key = key


@dataclass(frozen=True)
class ManualRecord:
    """A manual as the catalog knows it, with its vendor, product and license."""

    key: str
    title: str
    vendor: str
    vendor_name: str
    product: str
    product_name: str
    license: str
    media_type: str
    file_name: str
    source: str
    source_uri: str
    is_public: bool
    content_hash: str
    size_bytes: int
    page_count: int | None
    status: str
    quarantine_reason: str | None
    config_version: str
    uploaded_at: datetime
    updated_at: datetime


def upsert_manual(
    session: Session,
    ref: ManualRef,
    *,
    content_hash: str,
    size_bytes: int,
    object_key: str,
    config_version: str,
    actor: str = PIPELINE_ACTOR,
    artifact_kind: str = RAW_ARTIFACT,
) -> Manual:
    """Insert or update the manual `ref.key` with its vendor, product, license manifest and
    raw file (`artifact_kind` names where the bytes went: `raw`, or `quarantine`).
    A license revocation survives the update.

    A changed content hash or config version sends the manual back to status
    `ingested` (and clears a quarantine); otherwise its status is kept, so re-reading an
    unchanged manual does not undo downstream work. Writes an audit row either way.

    Returns:
        The `Manual` row (flushed, so `id` is set).
    """
    vendor_id = session.execute(
        insert(Vendor)
        .values(slug=slugify(ref.vendor) or "unknown", name=ref.vendor)
        .on_conflict_do_update(index_elements=[Vendor.slug], set_={"name": ref.vendor})
        .returning(Vendor.id)
    ).scalar_one()
    product_id = session.execute(
        insert(Product)
        .values(vendor_id=vendor_id, slug=slugify(ref.product) or "unknown", name=ref.product)
        .on_conflict_do_update(
            index_elements=[Product.vendor_id, Product.slug], set_={"name": ref.product}
        )
        .returning(Product.id)
    ).scalar_one()
    # A license row may have been curated (url, redistributable): never overwrite it here.
    license_id = session.execute(
        insert(License)
        .values(name=ref.license)
        .on_conflict_do_update(index_elements=[License.name], set_={"name": ref.license})
        .returning(License.id)
    ).scalar_one()

    previous = session.execute(
        select(Manual.content_hash, Manual.config_version).where(Manual.key == ref.key)
    ).first()
    values: dict[str, Any] = {
        "key": ref.key,
        "product_id": product_id,
        "license_id": license_id,
        "title": ref.title,
        "media_type": ref.media_type,
        "file_name": ref.file_name,
        "source": ref.source,
        "source_uri": ref.uri,
        "version_token": ref.version_token,
        "is_public": ref.is_public,
        "content_hash": content_hash,
        "size_bytes": size_bytes,
        "config_version": config_version,
        "status": ManualStatus.INGESTED.value,
        "license_terms": ref.license_terms,
        "allowed_uses": list(ref.allowed_uses),
        "license_expires_at": ref.license_expiry,
        "edition": ref.edition,
        "published_on": date.fromisoformat(ref.published) if ref.published else None,
        "aliases": list(ref.aliases),
    }
    statement = insert(Manual).values(**values)
    unchanged = (Manual.content_hash == statement.excluded.content_hash) & (
        Manual.config_version == statement.excluded.config_version
    )
    updates: dict[str, Any] = {
        name: statement.excluded[name] for name in values if name not in {"key", "status"}
    }
    updates["status"] = case((unchanged, Manual.status), else_=ManualStatus.INGESTED.value)
    updates["quarantine_reason"] = case((unchanged, Manual.quarantine_reason), else_=None)
    updates["updated_at"] = func.now()
    manual_id = session.execute(
        statement.on_conflict_do_update(index_elements=[Manual.key], set_=updates).returning(
            Manual.id
        )
    ).scalar_one()

    _upsert_artifact(
        session,
        manual_id,
        kind=artifact_kind,
        object_key=object_key,
        content_hash=content_hash,
        size_bytes=size_bytes,
        media_type=ref.media_type,
    )
    changed = previous is None or tuple(previous) != (content_hash, config_version)
    record_audit(
        session,
        actor,
        "manual.created" if previous is None else "manual.upserted",
        ref.key,
        {
            "content_hash": content_hash,
            "size_bytes": size_bytes,
            "config_version": config_version,
            "changed": changed,
        },
    )
    manual = session.get(Manual, manual_id, populate_existing=True)
    assert manual is not None
    return manual


def set_manual_status(
    session: Session, key: str, status: ManualStatus | str, **fields: Any
) -> None:
    """Set a manual's pipeline status, and optionally `page_count`, `title`,
    `config_version` or `quarantine_reason`. Any status but `quarantined` clears the
    quarantine reason unless one is given.

    Raises:
        ManualNotFoundError: no manual has this key.
        ValueError: an unknown status or field.
    """
    unknown = set(fields) - _STATUS_FIELDS
    if unknown:
        raise ValueError(f"set_manual_status cannot set {sorted(unknown)}")
    status = ManualStatus(status)
    values: dict[str, Any] = {"status": status.value, "updated_at": func.now()}
    if status is not ManualStatus.QUARANTINED:
        values["quarantine_reason"] = None
    values.update(fields)
    result = session.execute(
        update(Manual).where(Manual.key == key).values(**values).returning(Manual.id)
    )
    if result.first() is None:
        raise ManualNotFoundError(key)


def quarantine_manual(
    session: Session,
    key: str,
    reason: str,
    *,
    actor: str = PIPELINE_ACTOR,
    code: str = "unreadable",
    object_key: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Mark a manual quarantined with the reason, keep a quarantine row pointing at its
    bytes (`object_key`, by default its current raw file), and audit it."""
    set_manual_status(session, key, ManualStatus.QUARANTINED, quarantine_reason=reason)
    manual = session.execute(
        select(Manual.id, Manual.content_hash, Manual.source).where(Manual.key == key)
    ).one()
    if object_key is None:
        object_key = (
            session.execute(
                select(FileArtifact.object_key).where(
                    FileArtifact.manual_id == manual.id,
                    FileArtifact.content_hash == manual.content_hash,
                )
            )
            .scalars()
            .first()
            or ""
        )
    statement = insert(QuarantinedObject).values(
        manual_key=key,
        source=manual.source,
        content_hash=manual.content_hash,
        object_key=object_key,
        reason_code=code,
        reason=reason,
        detail=dict(detail or {}),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[QuarantinedObject.manual_key, QuarantinedObject.content_hash],
            set_={
                "object_key": statement.excluded.object_key,
                "reason_code": statement.excluded.reason_code,
                "reason": statement.excluded.reason,
                "detail": statement.excluded.detail,
                "quarantined_at": func.now(),
                "released_at": None,
                "released_by": None,
            },
        )
    )
    record_audit(session, actor, "manual.quarantined", key, {"reason": reason, "code": code})
    logger.warning("quarantined manual %s: %s", key, reason)


def replace_sections(session: Session, key: str, sections: Sequence[SectionInfo]) -> int:
    """Replace a manual's sections; return how many were written."""
    manual_id = _manual_id(session, key)
    session.execute(delete(Section).where(Section.manual_id == manual_id))
    if sections:
        session.execute(
            insert(Section),
            [
                {
                    "manual_id": manual_id,
                    "ordinal": section.ordinal,
                    "title": section.title,
                    "level": section.level,
                    "path": SECTION_PATH_SEPARATOR.join(section.path),
                    "page": section.page,
                }
                for section in sections
            ],
        )
    return len(sections)


def replace_chunks(session: Session, key: str, chunks: Sequence[documents.Chunk]) -> int:
    """Replace a manual's chunks; their answer-unit vectors and flags go with them (FK cascade).

    Raises:
        ValueError: a chunk belongs to another manual.
    """
    strangers = {chunk.manual_key for chunk in chunks} - {key}
    if strangers:
        raise ValueError(f"chunks of {sorted(strangers)} given for manual {key!r}")
    manual_id = _manual_id(session, key)
    session.execute(delete(Chunk).where(Chunk.manual_id == manual_id))
    if chunks:
        session.execute(
            insert(Chunk),
            [
                {
                    "id": chunk.chunk_id,
                    "manual_id": manual_id,
                    "ordinal": chunk.ordinal,
                    "text": chunk.text,
                    "page": chunk.page,
                    "page_end": chunk.page_end,
                    "page_label": chunk.page_label,
                    "section": chunk.section,
                    "section_path": SECTION_PATH_SEPARATOR.join(chunk.section_path),
                    "token_count": chunk.token_count,
                    "content_hash": chunk.content_hash,
                }
                for chunk in chunks
            ],
        )
    return len(chunks)


def replace_chunk_flags(session: Session, key: str, flags: Mapping[str, Sequence[Finding]]) -> int:
    """Replace the injection flags of a manual's chunks (`manualqa.injection.scan_chunks`);
    return how many chunks are flagged.

    Raises:
        ValueError: a flagged chunk id is not one of this manual's chunks.
    """
    manual_id = _manual_id(session, key)
    chunk_ids = select(Chunk.id).where(Chunk.manual_id == manual_id)
    strangers = set(flags) - set(session.scalars(chunk_ids))
    if strangers:
        raise ValueError(f"{len(strangers)} flagged chunks are not in manual {key!r}")
    session.execute(delete(ChunkInjectionFlag).where(ChunkInjectionFlag.chunk_id.in_(chunk_ids)))
    rows = [
        {"chunk_id": chunk_id, "rule": finding.rule, "excerpt": finding.excerpt}
        for chunk_id, findings in flags.items()
        for finding in findings
    ]
    if rows:
        session.execute(insert(ChunkInjectionFlag), rows)
    return len(flags)


@dataclass(frozen=True)
class FlaggedChunk:
    manual_key: str
    chunk_id: str
    page: int | None
    section: str
    rule: str
    excerpt: str


def list_flagged_chunks(session: Session, key: str | None = None) -> list[FlaggedChunk]:
    """Chunks flagged for prompt injection, by manual and chunk order."""
    query = (
        select(
            Manual.key.label("manual_key"),
            Chunk.id.label("chunk_id"),
            Chunk.page,
            Chunk.section,
            ChunkInjectionFlag.rule,
            ChunkInjectionFlag.excerpt,
        )
        .join(Chunk, ChunkInjectionFlag.chunk_id == Chunk.id)
        .join(Manual, Chunk.manual_id == Manual.id)
        .order_by(Manual.key, Chunk.ordinal, ChunkInjectionFlag.rule)
    )
    if key is not None:
        query = query.where(Manual.key == key)
    return [FlaggedChunk(**row._mapping) for row in session.execute(query)]


HIDDEN_EXCERPT_CHARS = 200  # how much of each hidden run the catalog keeps (`chars` counts all)


def replace_hidden_text(session: Session, key: str, hidden: Sequence[HiddenText]) -> int:
    """Replace the record of a manual's hidden text (left out of its extracted text at
    ingest); return how many runs it lists."""
    manual_id = _manual_id(session, key)
    session.execute(delete(HiddenTextRecord).where(HiddenTextRecord.manual_id == manual_id))
    if hidden:
        session.execute(
            insert(HiddenTextRecord),
            [
                {
                    "manual_id": manual_id,
                    "page": h.page,
                    "reason": h.reason,
                    "excerpt": h.text[:HIDDEN_EXCERPT_CHARS],
                    "chars": len(h.text),
                }
                for h in hidden
            ],
        )
    return len(hidden)


@dataclass(frozen=True)
class HiddenTextRow:
    manual_key: str
    page: int
    reason: str
    excerpt: str
    chars: int


def list_hidden_text(session: Session, key: str | None = None) -> list[HiddenTextRow]:
    """Text left out of manuals because a reader cannot see it, by manual and page."""
    query = (
        select(
            Manual.key.label("manual_key"),
            HiddenTextRecord.page,
            HiddenTextRecord.reason,
            HiddenTextRecord.excerpt,
            HiddenTextRecord.chars,
        )
        .join(Manual, HiddenTextRecord.manual_id == Manual.id)
        .order_by(Manual.key, HiddenTextRecord.page, HiddenTextRecord.id)
    )
    if key is not None:
        query = query.where(Manual.key == key)
    return [HiddenTextRow(**row._mapping) for row in session.execute(query)]


def replace_unit_vectors(
    session: Session, key: str, model: str, units: Mapping[str, Sequence[tuple[str, np.ndarray]]]
) -> int:
    """Replace the answer-unit embeddings of a manual's chunks: chunk id -> (text, vector)
    per unit, in order."""
    manual_id = _manual_id(session, key)
    chunk_ids = set(session.scalars(select(Chunk.id).where(Chunk.manual_id == manual_id)))
    strangers = set(units) - chunk_ids
    if strangers:
        raise ValueError(f"{len(strangers)} unit vectors for chunks not in manual {key!r}")
    session.execute(
        delete(AnswerUnitVector).where(
            AnswerUnitVector.chunk_id.in_(select(Chunk.id).where(Chunk.manual_id == manual_id))
        )
    )
    rows = [
        {
            "chunk_id": chunk_id,
            "ordinal": i,
            "model": model,
            "text": text,
            "vector": np.asarray(vector, dtype=UNIT_VECTOR_DTYPE).tobytes(),
        }
        for chunk_id, pairs in units.items()
        for i, (text, vector) in enumerate(pairs)
    ]
    if rows:
        session.execute(insert(AnswerUnitVector), rows)
    return len(rows)


def unit_vectors(session: Session, chunk_ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """Unit text -> its stored embedding, for these chunks and embedding model."""
    rows = session.execute(
        select(AnswerUnitVector.text, AnswerUnitVector.vector).where(
            AnswerUnitVector.chunk_id.in_(list(chunk_ids)), AnswerUnitVector.model == model
        )
    )
    return {r.text: np.frombuffer(r.vector, dtype=UNIT_VECTOR_DTYPE) for r in rows}


def unit_vector_lookup(
    engine: Engine, model: str
) -> Callable[[Sequence[str]], dict[str, np.ndarray]]:
    """`unit_vectors` over a connection pool: what the answer engine reads at query time."""

    def lookup(chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        with Session(engine) as session:
            return unit_vectors(session, chunk_ids, model)

    return lookup


def record_artifact(
    session: Session,
    key: str,
    kind: str,
    object_key: str,
    content_hash: str,
    size_bytes: int,
    media_type: str,
) -> None:
    """Record an object-store file derived from a manual (one row per kind and content)."""
    _upsert_artifact(
        session,
        _manual_id(session, key),
        kind=kind,
        object_key=object_key,
        content_hash=content_hash,
        size_bytes=size_bytes,
        media_type=media_type,
    )


def record_audit(
    session: Session, actor: str, action: str, subject: str, detail: Mapping[str, Any]
) -> None:
    """Append a row to the audit log."""
    session.execute(
        insert(AuditLog).values(actor=actor, action=action, subject=subject, detail=dict(detail))
    )


def set_published_if_unknown(session: Session, key: str, published: str) -> None:
    """Record the document's own publication date when its source gave none."""
    session.execute(
        update(Manual)
        .where(Manual.key == key, Manual.published_on.is_(None))
        .values(published_on=date.fromisoformat(published))
    )


def manual_profiles(session: Session) -> list[ManualProfile]:
    """Names, edition and model-number mentions of every manual not quarantined."""
    rows = session.execute(
        select(
            Manual.key,
            Vendor.name.label("vendor"),
            Product.name.label("product"),
            Manual.title,
            Manual.edition,
            Manual.published_on,
            Manual.aliases,
            Manual.model_mentions,
        )
        .join(Product, Manual.product_id == Product.id)
        .join(Vendor, Product.vendor_id == Vendor.id)
        .where(Manual.status != ManualStatus.QUARANTINED.value)
        .order_by(Manual.key)
    )
    return [
        ManualProfile(
            key=r.key,
            vendor=r.vendor,
            product=r.product,
            title=r.title,
            edition=r.edition,
            published=r.published_on.isoformat() if r.published_on else None,
            aliases=tuple(r.aliases or ()),
            model_mentions=dict(r.model_mentions or {}),
        )
        for r in rows
    ]


def get_manual(session: Session, key: str) -> ManualRecord | None:
    """The manual with this key, or None."""
    row = session.execute(_manual_records().where(Manual.key == key)).first()
    return ManualRecord(**row._mapping) if row is not None else None


def version_tokens(session: Session, *, source: str | None = None) -> dict[str, str]:
    """Each manual's key and the version token its source gave for the bytes the catalog
    holds, optionally only the manuals of one source (a connector's name)."""
    query = select(Manual.key, Manual.version_token)
    if source is not None:
        query = query.where(Manual.source == source)
    return {key: token for key, token in session.execute(query)}


def remove_manual(session: Session, key: str, *, actor: str = PIPELINE_ACTOR) -> bool:
    """Delete a manual with its sections, chunks, answer-unit vectors and artifact rows, and record
    it in the audit log; return whether the catalog had it. Its objects stay in the store."""
    removed = session.execute(delete(Manual).where(Manual.key == key).returning(Manual.id))
    if removed.first() is None:
        return False
    record_audit(session, actor, "manual.removed", key, {})
    return True


def chunk_count(session: Session, key: str) -> int:
    """How many chunks the manual has (0 for an unknown key)."""
    query = select(func.count()).select_from(Chunk).join(Manual).where(Manual.key == key)
    return session.execute(query).scalar_one()


def _manual_id(session: Session, key: str) -> int:
    manual_id = session.execute(select(Manual.id).where(Manual.key == key)).scalar_one_or_none()
    if manual_id is None:
        raise ManualNotFoundError(key)
    return manual_id


def _upsert_artifact(
    session: Session,
    manual_id: int,
    *,
    kind: str,
    object_key: str,
    content_hash: str,
    size_bytes: int,
    media_type: str,
) -> None:
    statement = insert(FileArtifact).values(
        manual_id=manual_id,
        kind=kind,
        object_key=object_key,
        content_hash=content_hash,
        size_bytes=size_bytes,
        media_type=media_type,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[FileArtifact.manual_id, FileArtifact.kind, FileArtifact.content_hash],
            set_={
                "object_key": statement.excluded.object_key,
                "size_bytes": statement.excluded.size_bytes,
                "media_type": statement.excluded.media_type,
            },
        )
    )


def _manual_records() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Manual.key,
            Manual.title,
            Vendor.slug.label("vendor"),
            Vendor.name.label("vendor_name"),
            Product.slug.label("product"),
            Product.name.label("product_name"),
            License.name.label("license"),
            Manual.media_type,
            Manual.file_name,
            Manual.source,
            Manual.source_uri,
            Manual.is_public,
            Manual.content_hash,
            Manual.size_bytes,
            Manual.page_count,
            Manual.status,
            Manual.quarantine_reason,
            Manual.config_version,
            Manual.uploaded_at,
            Manual.updated_at,
        )
        .join(Product, Manual.product_id == Product.id)
        .join(Vendor, Product.vendor_id == Vendor.id)
        .join(License, Manual.license_id == License.id)
    )
