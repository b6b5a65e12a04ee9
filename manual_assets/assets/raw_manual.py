"""raw_manual: a manual's original bytes, validated and kept immutably; refused bytes
are quarantined with the reason and fail the `raw_manual_accepted` check; a near-duplicate
of a manual kept from any source is linked to it and goes no further."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from manual_assets.automation import ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import (
    CatalogResource,
    IngestionResource,
    ManualSourceResource,
    ObjectStoreResource,
)
from manualqa.artifacts import RawManual, load_raw, raw_metadata
from manualqa.dedup import NearDuplicateIndex, signature
from manualqa.documents import ManualRef, content_hash
from manualqa.harvest import document_metadata, keep_refused
from manualqa.objectstore import raw_key
from manualqa.validation import Verdict, validate
from sql import catalog, ingest

ACCEPTED_CHECK = "raw_manual_accepted"


@dg.asset(
    partitions_def=manual_partitions,
    group_name="ingestion",
    kinds={"python", "postgres"},
    freshness_policy=MANUAL_STAGE,
    backfill_policy=ONE_MANUAL_PER_RUN,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    code_version="4",
    output_required=False,  # a near-duplicate is linked, not materialized
    check_specs=[
        dg.AssetCheckSpec(
            ACCEPTED_CHECK,
            asset="raw_manual",
            blocking=True,
            description="The bytes passed validation (type, size, PDF health, language), "
            "or someone released them from quarantine.",
        )
    ],
)
def raw_manual(
    context: dg.AssetExecutionContext,
    source: ManualSourceResource,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    ingestion: IngestionResource,
) -> Iterator[dg.Output[RawManual] | dg.AssetCheckResult]:
    """The manual's original bytes under `raw/`, with source and license; its data version
    is the content hash, so unchanged bytes leave every later stage as it is. Folder
    manuals are read from the folder; harvested ones from where their harvest kept them.
    A near-duplicate of a manual kept from any source is linked to it, not materialized."""
    key = context.partition_key
    fetched_at = datetime.now(UTC).isoformat()
    if source.holds(key):
        ref, data = source.connector().read(key)
    else:
        raw = _harvested(object_store, catalog_db, key)
        ref, data, fetched_at = raw.ref, raw.data, raw.fetched_at
    sha = content_hash(data)
    verdict = validate(data, ref, ingestion.validation_settings())
    refusal = _refusal(
        context, ref, data, sha, verdict, object_store, catalog_db, ingestion, fetched_at
    )
    if refusal is not None:
        yield dg.AssetCheckResult(
            check_name=ACCEPTED_CHECK,
            passed=False,
            description=f"quarantined: {refusal['reason']}",
            metadata=refusal,
        )
        raise dg.Failure(
            description=f"{key} quarantined: {refusal['reason']}",
            metadata=refusal,
            allow_retries=False,  # the same bytes would be refused again
        )
    raw = RawManual(ref=ref, sha256=sha, data=data, fetched_at=fetched_at)
    object_key = raw_key(key, sha, ref.file_name)
    dedup = ingestion.dedup_settings()
    sig = signature(verdict.facts.text, dedup)
    with catalog_db.session() as session:
        catalog.upsert_manual(
            session,
            ref,
            content_hash=sha,
            size_bytes=len(data),
            object_key=object_key,
            config_version=catalog_db.config_version,
        )
        kept = NearDuplicateIndex(dedup, ingest.kept_signatures(session))
        match = kept.keep_or_match(key, sig)
        original, similarity = match if match is not None else (None, None)
        ingest.record_signature(session, key, sig, original, similarity)
    if original is not None:
        # No output, so nothing downstream runs: the bytes are kept here instead.
        object_store.store().put_immutable(object_key, data, metadata=raw_metadata(raw))
        context.log_event(
            dg.AssetObservation(
                asset_key=context.asset_key,
                partition=key,
                metadata={
                    "outcome": "duplicate",
                    "duplicate_of": original,
                    "similarity": similarity,
                    "sha256": sha,
                    "object_key": object_key,
                },
            )
        )
        context.log.info(f"{key} is a near-duplicate of {original} ({similarity:.2f}); linked")
        yield dg.AssetCheckResult(check_name=ACCEPTED_CHECK, passed=True)
        return
    yield dg.Output(
        raw,
        data_version=dg.DataVersion(sha),
        metadata={
            "sha256": sha,
            "size_bytes": len(data),
            "version_token": ref.version_token,
            "media_type": ref.media_type,
            "vendor": ref.vendor,
            "product": ref.product,
            "license": ref.license,
            "source": ref.source,
            "source_uri": ref.uri,
        },
    )
    yield dg.AssetCheckResult(check_name=ACCEPTED_CHECK, passed=True)


def _harvested(
    object_store: ObjectStoreResource, catalog_db: CatalogResource, key: str
) -> RawManual:
    with catalog_db.session() as session:
        object_key = ingest.held_object_key(session, key)
    if object_key is None:
        raise dg.Failure(f"the catalog holds no bytes of {key}: harvest its source first")
    store = object_store.store()
    return load_raw(store.get(object_key), store.metadata(object_key))


def _refusal(
    context: dg.AssetExecutionContext,
    ref: ManualRef,
    data: bytes,
    sha: str,
    verdict: Verdict,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    ingestion: IngestionResource,
    fetched_at: str,
) -> dict[str, str] | None:
    """Why these bytes are refused (held in quarantine already, or refused now), or None."""
    with catalog_db.session() as session:
        held = ingest.held_quarantine(session, ref.key)
        released = ingest.was_released(session, ref.key, sha)
    if held is not None and held.content_hash == sha:
        return {"code": held.reason_code, "reason": held.reason, "object_key": held.object_key}
    if released:
        context.log.info(f"{ref.key}: these bytes were released from quarantine; not re-checked")
        return None
    if verdict.ok:
        return None
    metadata = document_metadata(
        ref, sha, len(data), config_version=ingestion.config_version, fetched_at=fetched_at
    )
    object_key = keep_refused(object_store.store(), ref, data, verdict, metadata)
    with catalog_db.session() as session:
        ingest.record_quarantine(
            session,
            ref,
            content_hash=sha,
            size_bytes=len(data),
            object_key=object_key,
            config_version=ingestion.config_version,
            code=verdict.code,
            reason=verdict.reason,
            detail=verdict.summary,
        )
    return {"code": verdict.code, "reason": verdict.reason, "object_key": object_key}
