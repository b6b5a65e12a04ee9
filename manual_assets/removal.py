"""remove_manual_job: a manual gone from its source leaves search, the catalog and the
partitions; its raw bytes stay in the object store. Its near-duplicates, linked to it and
never indexed, are observed as `orphaned`, so `harvested_manual_sensor` runs `raw_manual`
for them again and one of them takes its place.

The same job, `index_only`, takes the points of a manual that was indexed and has since
been judged a near-duplicate out of the index; its catalog row keeps the link, its
partition stays."""

import dagster as dg

from manual_assets.assets.raw_manual import raw_manual
from manual_assets.partitions import MANUALS
from manual_assets.resources import CatalogResource, VectorIndexResource
from manualqa.index.base import PublishResult
from sql import catalog, ingest

MANUAL_TAG = "manualqa/manual"
INDEX_ONLY_TAG = "manualqa/index_only"  # on the runs that only unindex a near-duplicate
ORPHANED = "orphaned"  # the outcome observed for a near-duplicate whose original went
UNFINISHED_RUNS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class RemoveManualConfig(dg.Config):
    manual_key: str
    index_only: bool = False  # a near-duplicate: only its points go


@dg.op(pool="index_writer")
def remove_manual(
    context: dg.OpExecutionContext,
    config: RemoveManualConfig,
    catalog_db: CatalogResource,
    vector_index: VectorIndexResource,
) -> None:
    """Delete the manual's points from the index, then its catalog rows, then its partition;
    with `index_only`, only the points of a manual the catalog links as a near-duplicate.

    The index goes first: if it fails, the catalog still lists the manual, so the source
    sensor asks again instead of leaving points that nothing in the catalog explains.
    """
    key = config.manual_key
    if config.index_only:
        _unindex_duplicate(context, key, catalog_db, vector_index)
        return
    result = _delete_points(vector_index, key)
    with catalog_db.session() as session:
        orphans = ingest.unlink_duplicates(session, key)
        in_catalog = catalog.remove_manual(session, key)
    for orphan, sha in orphans:
        context.log_event(
            dg.AssetObservation(
                asset_key=raw_manual.key,
                partition=orphan,
                metadata={"outcome": ORPHANED, "sha256": sha, "duplicate_of": key},
            )
        )
    if context.instance.has_dynamic_partition(MANUALS, key):
        context.instance.delete_dynamic_partition(MANUALS, key)
    context.log.info(
        f"removed {key}: {result.removed} points (index version {result.version}), "
        f"catalog row {'deleted' if in_catalog else 'already gone'}"
    )


def _unindex_duplicate(
    context: dg.OpExecutionContext,
    key: str,
    catalog_db: CatalogResource,
    vector_index: VectorIndexResource,
) -> None:
    with catalog_db.session() as session:
        original = ingest.duplicate_of(session, key)
    if original is None:  # judged anew since, and kept: its points are its own again
        context.log.info(f"{key} is no longer a near-duplicate; its points stay")
        return
    result = _delete_points(vector_index, key)
    with catalog_db.session() as session:
        catalog.record_audit(
            session,
            catalog.PIPELINE_ACTOR,
            "manual.unindexed",
            key,
            {"duplicate_of": original, "points": result.removed},
        )
    context.log.info(
        f"unindexed {key}, a near-duplicate of {original}: {result.removed} points "
        f"(index version {result.version})"
    )


def _delete_points(vector_index: VectorIndexResource, key: str) -> PublishResult:
    writer = vector_index.writer()
    try:
        return writer.delete_manual(key)
    finally:
        writer.close()


@dg.job(description="Remove a manual that its source no longer lists from search and catalog.")
def remove_manual_job() -> None:
    remove_manual()


def removal_request(key: str) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=remove_manual_job.name,
        run_config=removal_run_config(key),
        tags={MANUAL_TAG: key},
    )


def unindex_request(key: str) -> dg.RunRequest:
    """Take the points of `key`, now a near-duplicate, out of the index."""
    return dg.RunRequest(
        job_name=remove_manual_job.name,
        run_config=removal_run_config(key, index_only=True),
        tags={MANUAL_TAG: key, INDEX_ONLY_TAG: "true"},
    )


def removal_run_config(key: str, *, index_only: bool = False) -> dict[str, object]:
    config: dict[str, object] = {"manual_key": key}
    if index_only:
        config["index_only"] = True
    return {"ops": {"remove_manual": {"config": config}}}


def removal_in_flight(instance: dg.DagsterInstance, key: str) -> bool:
    """Whether a removal of `key` is queued or running (the sensor must not pile up more)."""
    runs = dg.RunsFilter(
        job_name=remove_manual_job.name, statuses=UNFINISHED_RUNS, tags={MANUAL_TAG: key}
    )
    return bool(instance.get_run_ids(filters=runs, limit=1))
