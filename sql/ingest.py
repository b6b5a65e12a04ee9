"""The catalog side of licensed ingestion: harvest runs, quarantine, duplicates,
licenses and the audit trail.

Like `sql.catalog`, every function takes a `Session` and leaves committing to the
caller, and reads return frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from manualqa.documents import ManualRef
from manualqa.sources.base import Validators
from sql import catalog
from sql.catalog import PIPELINE_ACTOR, ManualNotFoundError, record_audit
from sql.models import (
    AuditLog,
    CrawlJob,
    CrawlStatus,
    FileArtifact,
    Manual,
    ManualStatus,
    QuarantinedObject,
)

if TYPE_CHECKING:
    from manualqa.harvest import HarvestItem, HarvestResult, HeldCopy

QUARANTINE_ARTIFACT = "quarantine"


@dataclass(frozen=True)
class QuarantineRecord:
    manual_key: str
    source: str
    content_hash: str
    object_key: str
    reason_code: str
    reason: str
    quarantined_at: datetime
    released_at: datetime | None
    released_by: str | None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CrawlJobRecord:
    id: int
    source: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str | None
    cursor: str | None


@dataclass(frozen=True)
class SourceStats:
    """What the catalog holds from one source."""

    manuals: int
    quarantined: int
    duplicates: int
    last_job: CrawlJobRecord | None


_COUNT_COLUMNS = (
    "discovered",
    "fetched",
    "unchanged",
    "new",
    "changed",
    "failed",
    "quarantined",
    "duplicates",
    "excluded",
    "gone",
)


def held_copies(session: Session, source: str) -> dict[str, HeldCopy]:
    """The copy the catalog holds of each of `source`'s manuals, for conditional fetches."""
    from manualqa.harvest import HeldCopy

    rows = session.execute(
        select(
            Manual.key, Manual.content_hash, Manual.etag, Manual.last_modified, Manual.text_checksum
        ).where(Manual.source == source)
    )
    return {
        row.key: HeldCopy(
            row.content_hash, Validators(row.etag, row.last_modified, row.text_checksum)
        )
        for row in rows
    }


def kept_signatures(session: Session) -> list[tuple[str, list[int]]]:
    """The MinHash signatures of the manuals kept as originals (not duplicates, not
    quarantined), to seed a `NearDuplicateIndex`."""
    rows = session.execute(
        select(Manual.key, Manual.minhash).where(
            Manual.minhash.is_not(None),
            Manual.duplicate_of_id.is_(None),
            Manual.status.not_in([ManualStatus.DUPLICATE.value, ManualStatus.QUARANTINED.value]),
        )
    )
    return [(row.key, list(row.minhash)) for row in rows]


def record_harvest(session: Session, result: HarvestResult, *, actor: str = PIPELINE_ACTOR) -> int:
    """Write one harvest run to the catalog: its `crawl_jobs` row with counts, and for
    each manual its row, validators, signature, quarantine or duplicate link, and an
    audit entry for every ingress, every manual the source no longer offers and every
    withdrawal of a manual the catalog does not hold from it.
    Returns the crawl job's id."""
    counts = result.counts()
    job_id: int = session.execute(
        insert(CrawlJob)
        .values(
            source=result.source,
            status=CrawlStatus.FAILED.value if result.error else CrawlStatus.SUCCEEDED.value,
            started_at=result.started_at,
            finished_at=func.now(),
            error=result.error,
            config_version=result.config_version,
            cursor=result.cursor,
            **{name: counts[name] for name in _COUNT_COLUMNS},
        )
        .returning(CrawlJob.id)
    ).scalar_one()
    for item in result.items:
        _record_item(session, item, result.config_version, actor, job_id)
    for key in result.gone:  # removed from index and catalog by `remove_manual_job`
        record_audit(session, actor, "ingest.gone", key, {"source": result.source, "job": job_id})
    for key in sorted(set(result.withdrawn) - set(result.gone)):
        detail = {"source": result.source, "job": job_id, "reason": "not held from this source"}
        record_audit(session, actor, "ingest.withdrawal_ignored", key, detail)
    return int(job_id)


def _record_item(
    session: Session, item: HarvestItem, config_version: str, actor: str, job_id: int
) -> None:
    outcome = item.outcome.value
    if outcome in ("excluded", "failed"):
        record_audit(
            session, actor, f"ingest.{outcome}", item.key, {"reason": item.reason, "job": job_id}
        )
        return
    if outcome == "unchanged":
        if item.validators != Validators():
            _set_validators(session, item.key, item.validators)
        return
    assert item.content_hash is not None and item.object_key is not None
    if outcome == "quarantined":
        code, _, reason = item.reason.partition(": ")
        record_quarantine(
            session,
            item.ref,
            content_hash=item.content_hash,
            size_bytes=item.size_bytes,
            object_key=item.object_key,
            config_version=config_version,
            code=code,
            reason=reason or code,
            detail=item.check,
            actor=actor,
        )
        _set_validators(session, item.key, item.validators)
        return
    catalog.upsert_manual(
        session,
        item.ref,
        content_hash=item.content_hash,
        size_bytes=item.size_bytes,
        object_key=item.object_key,
        config_version=config_version,
        actor=actor,
    )
    _set_validators(session, item.key, item.validators)
    record_signature(
        session,
        item.key,
        item.signature,
        item.duplicate_of,
        item.similarity,
        actor=actor,
        detail={"job": job_id},
    )


def record_signature(
    session: Session,
    key: str,
    signature: Sequence[int],
    duplicate_of: str | None,
    similarity: float | None,
    *,
    actor: str = PIPELINE_ACTOR,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Store manual `key`'s MinHash signature and its link to the manual it nearly
    duplicates (None: it is an original, any old link cleared); a duplicate is marked
    so and audited."""
    original = None
    if duplicate_of is not None:
        original = session.execute(
            select(Manual.id).where(Manual.key == duplicate_of)
        ).scalar_one_or_none()
    session.execute(
        update(Manual)
        .where(Manual.key == key)
        .values(
            minhash=list(signature) or None,
            duplicate_of_id=original,
            **({"status": ManualStatus.DUPLICATE.value} if original is not None else {}),
        )
    )
    if original is not None:
        record_audit(
            session,
            actor,
            "manual.duplicate",
            key,
            {"duplicate_of": duplicate_of, "similarity": similarity, **(detail or {})},
        )


def record_quarantine(
    session: Session,
    ref: ManualRef,
    *,
    content_hash: str,
    size_bytes: int,
    object_key: str,
    config_version: str,
    code: str,
    reason: str,
    detail: Mapping[str, Any],
    actor: str = PIPELINE_ACTOR,
) -> None:
    """A refused document: the manual's row points at its bytes under `quarantine/`,
    it is marked quarantined with the reason, and an audit row says so."""
    catalog.upsert_manual(
        session,
        ref,
        content_hash=content_hash,
        size_bytes=size_bytes,
        object_key=object_key,
        config_version=config_version,
        actor=actor,
        artifact_kind=QUARANTINE_ARTIFACT,
    )
    catalog.quarantine_manual(
        session, ref.key, reason, actor=actor, code=code, object_key=object_key, detail=detail
    )


def was_released(session: Session, key: str, content_hash: str) -> bool:
    """Whether someone released these bytes of manual `key` from quarantine (so they are
    not to be refused again)."""
    return (
        session.execute(
            select(QuarantinedObject.id).where(
                QuarantinedObject.manual_key == key,
                QuarantinedObject.content_hash == content_hash,
                QuarantinedObject.released_at.is_not(None),
            )
        ).first()
        is not None
    )


def held_object_key(session: Session, key: str) -> str | None:
    """Where the bytes the catalog holds for manual `key` are: its raw file, else its
    quarantined copy; None when the catalog has no such manual."""
    rows = session.execute(
        select(FileArtifact.kind, FileArtifact.object_key)
        .join(Manual, FileArtifact.manual_id == Manual.id)
        .where(
            Manual.key == key,
            FileArtifact.content_hash == Manual.content_hash,
            FileArtifact.kind.in_([catalog.RAW_ARTIFACT, QUARANTINE_ARTIFACT]),
        )
    ).all()
    by_kind = {row.kind: row.object_key for row in rows}
    return by_kind.get(catalog.RAW_ARTIFACT) or by_kind.get(QUARANTINE_ARTIFACT)


def _set_validators(session: Session, key: str, validators: Validators) -> None:
    session.execute(
        update(Manual)
        .where(Manual.key == key)
        .values(
            etag=validators.etag,
            last_modified=validators.last_modified,
            text_checksum=validators.checksum,
        )
    )


def unlink_duplicates(
    session: Session, key: str, *, actor: str = PIPELINE_ACTOR
) -> list[tuple[str, str]]:
    """Manuals linked as near-duplicates of `key` (which is going away) become originals
    again, to be judged anew; returns their keys and content hashes, audited."""
    original = aliased(Manual)
    rows = session.execute(
        select(Manual.key, Manual.content_hash)
        .join(original, Manual.duplicate_of_id == original.id)
        .where(original.key == key)
        .order_by(Manual.key)
    ).all()
    for row in rows:
        catalog.set_manual_status(session, row.key, ManualStatus.INGESTED)
        session.execute(update(Manual).where(Manual.key == row.key).values(duplicate_of_id=None))
        record_audit(session, actor, "manual.unlinked", row.key, {"duplicate_of": key})
    return [(row.key, row.content_hash) for row in rows]


def duplicate_of(session: Session, key: str) -> str | None:
    """The key of the manual `key` duplicates, or None."""
    original = aliased(Manual)
    return session.execute(
        select(original.key)
        .join(Manual, Manual.duplicate_of_id == original.id)
        .where(Manual.key == key)
    ).scalar_one_or_none()


def list_quarantine(session: Session, *, include_released: bool = False) -> list[QuarantineRecord]:
    """Quarantined objects, oldest first; released ones only when asked."""
    query = select(QuarantinedObject).order_by(
        QuarantinedObject.quarantined_at, QuarantinedObject.id
    )
    if not include_released:
        query = query.where(QuarantinedObject.released_at.is_(None))
    return [_quarantine_record(row) for row in session.scalars(query)]


def release_quarantine(
    session: Session, key: str, actor: str, *, raw_object_key: str
) -> QuarantineRecord:
    """Release the manual `key`'s held quarantine: its bytes (copied by the caller to
    `raw_object_key`) become its raw file again, and it goes back to `ingested` so the
    pipeline takes it up.

    Raises:
        LookupError: nothing of `key` is held in quarantine.
    """
    row = _held_row(session, key)
    if row is None:
        raise LookupError(f"manual {key!r} has nothing held in quarantine")
    row.released_at = datetime.now(UTC)
    row.released_by = actor
    manual = session.execute(
        select(Manual.id, Manual.content_hash, Manual.size_bytes, Manual.media_type).where(
            Manual.key == key
        )
    ).one_or_none()
    if manual is None:
        raise ManualNotFoundError(key)
    catalog.record_artifact(
        session,
        key,
        catalog.RAW_ARTIFACT,
        raw_object_key,
        row.content_hash,
        manual.size_bytes,
        manual.media_type,
    )
    catalog.set_manual_status(session, key, ManualStatus.INGESTED)
    record_audit(
        session, actor, "manual.released", key, {"object_key": raw_object_key, "reason": row.reason}
    )
    session.flush()
    return _quarantine_record(row)


def releases_after(session: Session, after_id: int) -> list[tuple[int, str]]:
    """The releases from quarantine audited after audit row `after_id`, oldest first, as
    (audit row id, manual key)."""
    rows = session.execute(
        select(AuditLog.id, AuditLog.subject)
        .where(AuditLog.action == "manual.released", AuditLog.id > after_id)
        .order_by(AuditLog.id)
    )
    return [(row.id, row.subject) for row in rows]


def held_quarantine(session: Session, key: str) -> QuarantineRecord | None:
    """The newest unreleased quarantine of manual `key`, or None."""
    row = _held_row(session, key)
    return _quarantine_record(row) if row is not None else None


def _held_row(session: Session, key: str) -> QuarantinedObject | None:
    return session.scalars(
        select(QuarantinedObject)
        .where(QuarantinedObject.manual_key == key, QuarantinedObject.released_at.is_(None))
        .order_by(QuarantinedObject.quarantined_at.desc())
    ).first()


def revoke_license(session: Session, key: str, actor: str, reason: str = "") -> None:
    """Revoke the license of manual `key` now: serving must stop returning its text.

    Raises:
        ManualNotFoundError: no manual has this key.
    """
    result = session.execute(
        update(Manual)
        .where(Manual.key == key)
        .values(license_revoked_at=func.now(), license_revoked_by=actor)
        .returning(Manual.id)
    )
    if result.first() is None:
        raise ManualNotFoundError(key)
    record_audit(session, actor, "license.revoked", key, {"reason": reason})


def servable_keys(
    session: Session, keys: Collection[str] | None = None, *, now: datetime | None = None
) -> set[str]:
    """Which manuals (of `keys`, or all) may be served now: their license allows
    `serve`, has not expired and is not revoked, and they are not duplicates."""
    query = select(Manual.key).where(_servable(now or datetime.now(UTC)))
    if keys is not None:
        query = query.where(Manual.key.in_(list(keys)))
    return set(session.scalars(query))


def withheld_keys(session: Session, *, now: datetime | None = None) -> set[str]:
    """The manuals whose text may not be served now (the complement of `servable_keys`):
    serving filters them out of every search, so a revocation or an expiry takes
    effect on the next request without touching the index."""
    return set(session.scalars(select(Manual.key).where(~_servable(now or datetime.now(UTC)))))


def next_license_expiry(session: Session, *, now: datetime | None = None) -> datetime | None:
    """When the first license of a manual servable now expires (None: none will), the
    moment `withheld_keys` changes without any write to the catalog."""
    moment = now or datetime.now(UTC)
    return session.scalar(
        select(func.min(Manual.license_expires_at)).where(
            _servable(moment), Manual.license_expires_at.is_not(None)
        )
    )


def _servable(moment: datetime) -> ColumnElement[bool]:
    return and_(
        Manual.allowed_uses.any("serve"),  # type: ignore[arg-type]
        or_(Manual.license_expires_at.is_(None), Manual.license_expires_at > moment),
        Manual.license_revoked_at.is_(None),
        Manual.status != ManualStatus.DUPLICATE.value,
    )


def tail_audit(
    session: Session, limit: int = 50, *, action: str | None = None
) -> list[AuditRecord]:
    """The newest `limit` audit rows (optionally those whose action starts with
    `action`), oldest first."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    rows = list(session.scalars(query))
    return [
        AuditRecord(r.id, r.at, r.actor, r.action, r.subject, dict(r.detail))
        for r in reversed(rows)
    ]


def source_stats(session: Session, sources: Sequence[str]) -> dict[str, SourceStats]:
    """Manual, quarantine and duplicate counts and the last run of each source."""
    counts = {
        row.source: row
        for row in session.execute(
            select(
                Manual.source,
                func.count().label("manuals"),
                func.count().filter(Manual.status == ManualStatus.QUARANTINED.value).label("q"),
                func.count().filter(Manual.status == ManualStatus.DUPLICATE.value).label("d"),
            )
            .where(Manual.source.in_(list(sources)))
            .group_by(Manual.source)
        )
    }
    stats = {}
    for source in sources:
        job = session.scalars(
            select(CrawlJob).where(CrawlJob.source == source).order_by(CrawlJob.id.desc())
        ).first()
        row = counts.get(source)
        stats[source] = SourceStats(
            manuals=row.manuals if row else 0,
            quarantined=row.q if row else 0,
            duplicates=row.d if row else 0,
            last_job=_job_record(job) if job is not None else None,
        )
    return stats


def last_cursor(session: Session, source: str) -> str | None:
    """The cursor the last successful run of `source` ended at (None: start afresh)."""
    return session.scalars(
        select(CrawlJob.cursor)
        .where(CrawlJob.source == source, CrawlJob.status == CrawlStatus.SUCCEEDED.value)
        .order_by(CrawlJob.id.desc())
    ).first()


def _job_record(job: CrawlJob) -> CrawlJobRecord:
    return CrawlJobRecord(
        id=job.id,
        source=job.source,
        status=job.status,
        started_at=job.started_at,
        finished_at=job.finished_at,
        counts={name: getattr(job, name) for name in _COUNT_COLUMNS},
        error=job.error,
        cursor=job.cursor,
    )


def _quarantine_record(row: QuarantinedObject) -> QuarantineRecord:
    return QuarantineRecord(
        manual_key=row.manual_key,
        source=row.source,
        content_hash=row.content_hash,
        object_key=row.object_key,
        reason_code=row.reason_code,
        reason=row.reason,
        quarantined_at=row.quarantined_at,
        released_at=row.released_at,
        released_by=row.released_by,
    )
