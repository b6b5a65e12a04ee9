"""remove_manual_job: a manual gone from its source leaves search, the catalog and the
partitions; its raw bytes stay in the object store. Its near-duplicates, linked to it and
never indexed, are observed as `orphaned`, so `harvested_manual_sensor` runs `raw_manual`
for them again and one of them takes its place."""

import dagster as dg

from manual_assets.assets.raw_manual import raw_manual
from manual_assets.partitions import MANUALS
from manual_assets.resources import CatalogResource, VectorIndexResource
from sql import catalog, ingest

MANUAL_TAG = "manualqa/manual"
ORPHANED = "orphaned"  # the outcome observed for a near-duplicate whose original went
UNFINISHED_RUNS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class RemoveManualConfig(dg.Config):
    manual_key: str


@dg.op(pool="index_writer")
def remove_manual(
    context: dg.OpExecutionContext,
    config: RemoveManualConfig,
    catalog_db: CatalogResource,
    vector_index: VectorIndexResource,
) -> None:
    """Delete the manual's points from the index, then its catalog rows, then its partition.

    The index goes first: if it fails, the catalog still lists the manual, so the source
    sensor asks again instead of leaving points that nothing in the catalog explains.
    """
    key = config.manual_key
    writer = vector_index.writer()
    try:
        result = writer.delete_manual(key)
    finally:
        writer.close()
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


@dg.job(description="Remove a manual that its source no longer lists from search and catalog.")
def remove_manual_job() -> None:
    remove_manual()


def removal_request(key: str) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=remove_manual_job.name,
        run_config=removal_run_config(key),
        tags={MANUAL_TAG: key},
    )


def removal_run_config(key: str) -> dict[str, object]:
    return {"ops": {"remove_manual": {"config": {"manual_key": key}}}}


def removal_in_flight(instance: dg.DagsterInstance, key: str) -> bool:
    """Whether a removal of `key` is queued or running (the sensor must not pile up more)."""
    runs = dg.RunsFilter(
        job_name=remove_manual_job.name, statuses=UNFINISHED_RUNS, tags={MANUAL_TAG: key}
    )
    return bool(instance.get_run_ids(filters=runs, limit=1))
