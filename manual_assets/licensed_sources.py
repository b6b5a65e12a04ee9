"""Licensed sources in Dagster: one harvest job per configured vendor API, crawl and
webhook partner (each with its own resource and secrets), a schedule per pull source, a
sensor per partner inbox, and the sensor that turns harvested manuals into partitions'
`raw_manual` runs.

A harvest run fetches only what changed (cursor, conditional requests), validates,
quarantines, links near-duplicates and records the `crawl_jobs` row; then it adds a
partition for each manual whose bytes it kept and observes `raw_manual` for it, with the
outcome, and observes `gone` for each manual the source no longer offers.
`harvested_manual_sensor` reads those observations and requests `raw_manual` for new,
changed and quarantined ones (the last to show the failed check) and `remove_manual_job`
for gone ones; an unchanged source observes nothing, so nothing downstream runs. A manual
that was indexed and is then judged a near-duplicate (by a harvest or by `raw_manual`,
from any source) has its points taken out of the index by `remove_manual_job`
(`index_only`).
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from manual_assets.jobs import raw_manual_job
from manual_assets.partitions import MANUALS
from manual_assets.removal import (
    MANUAL_TAG,
    ORPHANED,
    UNFINISHED_RUNS,
    removal_in_flight,
    removal_request,
    remove_manual_job,
    unindex_request,
)
from manual_assets.resources import (
    CatalogResource,
    IngestionResource,
    LicensedSourceResource,
    ObjectStoreResource,
    licensed_source_key,
)
from manualqa.config import Settings
from manualqa.dedup import NearDuplicateIndex
from manualqa.harvest import HarvestResult, Outcome, harvest, settle
from manualqa.sources.inbox import pending_keys
from sql import ingest

RAW_MANUAL = dg.AssetKey("raw_manual")
QDRANT_COLLECTION = dg.AssetKey("qdrant_collection")
SOURCE_TAG = "manualqa/source"
DEFAULT_CRON = "0 * * * *"  # a pull source without `schedule` is harvested hourly
# The outcomes whose bytes get a partition, and those that then need a `raw_manual` run.
KEPT = (Outcome.NEW, Outcome.CHANGED, Outcome.DUPLICATE, Outcome.QUARANTINED)
TO_MATERIALIZE = (
    Outcome.NEW.value,
    Outcome.CHANGED.value,
    Outcome.QUARANTINED.value,
    ORPHANED,  # a near-duplicate whose original was removed: judged again
)
GONE = "gone"  # the outcome observed for a held manual the source no longer offers


@dataclass(frozen=True)
class LicensedSourceDefinitions:
    jobs: list[dg.JobDefinition]
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]


def harvest_source(
    context: dg.OpExecutionContext,
    source: LicensedSourceResource,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    ingestion: IngestionResource,
) -> HarvestResult:
    """One harvest of `source` from the cursor its last successful run stored, recorded
    in the catalog; partitions added and `raw_manual` observed for every manual kept,
    and for every manual gone from the source."""
    store = object_store.store()
    with catalog_db.session() as session:
        cursor = ingest.last_cursor(session, source.name)
        held = ingest.held_copies(session, source.name)
        kept = ingest.kept_signatures(session)
    with source.connector(store) as connector:
        result = harvest(
            connector,
            store,
            cursor=cursor,
            held=held,
            validation=ingestion.validation_settings(),
            dedup=ingestion.dedup_settings(),
            duplicates=NearDuplicateIndex(ingestion.dedup_settings(), kept),
            exclusions=ingestion.exclusion_list(),
            config_version=ingestion.config_version,
        )
        with catalog_db.session() as session:
            job_id = ingest.record_harvest(session, result)
        settle(connector, result)
    kept_items = [item for item in result.items if item.outcome in KEPT]
    context.instance.add_dynamic_partitions(MANUALS, [item.key for item in kept_items])
    for item in kept_items:
        context.log_event(
            dg.AssetObservation(
                asset_key=RAW_MANUAL,
                partition=item.key,
                metadata={
                    "outcome": item.outcome.value,
                    "sha256": item.content_hash or "",
                    "reason": item.reason,
                    "duplicate_of": item.duplicate_of or "",
                    "crawl_job": job_id,
                    "source": source.name,
                },
            )
        )
    for key in result.gone:
        context.log_event(
            dg.AssetObservation(
                asset_key=RAW_MANUAL,
                partition=key,
                metadata={"outcome": GONE, "crawl_job": job_id, "source": source.name},
            )
        )
    counts = result.counts()
    context.log.info(f"harvest of {source.name} (crawl job {job_id}): {counts}")
    if result.error:
        raise dg.Failure(f"{source.name}: discovery failed: {result.error}", metadata=counts)
    return result


def harvest_job(name: str) -> dg.JobDefinition:
    """The job that harvests the configured source `name` once."""
    resource_key = licensed_source_key(name)
    op_name = f"harvest_{resource_key.removeprefix('source_')}"

    @dg.op(
        name=op_name,
        required_resource_keys={resource_key, "object_store", "catalog_db", "ingestion"},
        out=dg.Out(dg.Nothing),
        tags={SOURCE_TAG: name},
    )
    def harvest_op(context: dg.OpExecutionContext) -> None:
        harvest_source(
            context,
            getattr(context.resources, resource_key),
            context.resources.object_store,
            context.resources.catalog_db,
            context.resources.ingestion,
        )

    @dg.job(name=f"{op_name}_job", tags={SOURCE_TAG: name}, description=f"Harvest {name} once.")
    def job() -> None:
        harvest_op()

    return job


def inbox_sensor(partner: str, job: dg.JobDefinition) -> dg.SensorDefinition:
    """Requests a harvest of partner `partner` when deliveries wait in its inbox and no
    harvest of it is queued or running."""

    @dg.sensor(
        name=f"{job.name.removesuffix('_job')}_inbox_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
    ) -> dg.RunRequest | dg.SkipReason:
        waiting = pending_keys(object_store.store(), partner)
        if not waiting:
            return dg.SkipReason(f"no delivery from {partner} is waiting")
        in_flight = dg.RunsFilter(job_name=job.name, statuses=UNFINISHED_RUNS)
        if context.instance.get_run_ids(filters=in_flight, limit=1):
            return dg.SkipReason(f"a harvest of {partner} is already queued or running")
        digest = hashlib.sha256("\n".join(waiting).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=f"{partner}:{digest}", tags={SOURCE_TAG: partner})

    return _sensor


def licensed_source_definitions(settings: Settings) -> LicensedSourceDefinitions:
    """A harvest job per configured licensed source, a schedule per API and crawl, an
    inbox sensor per webhook partner."""
    sources = settings.sources
    jobs, schedules, sensors = [], [], []
    for name, source in {**sources.apis, **sources.crawls}.items():
        job = harvest_job(name)
        jobs.append(job)
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{job.name.removesuffix('_job')}_schedule",
                job=job,
                cron_schedule=source.schedule or DEFAULT_CRON,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    for partner in sources.webhooks:
        job = harvest_job(partner)
        jobs.append(job)
        sensors.append(inbox_sensor(partner, job))
    return LicensedSourceDefinitions(jobs, schedules, sensors)


@dg.sensor(
    jobs=[raw_manual_job, remove_manual_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def harvested_manual_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Runs `raw_manual` for each manual a harvest kept new or changed bytes of, or
    quarantined (one run per manual and content hash), or whose original was removed,
    removes each manual a source no longer offers, and takes the points of an indexed
    manual judged a near-duplicate out of the index."""
    return harvested_requests(context.instance, context.cursor)


def harvested_requests(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    """What `harvested_manual_sensor` requests for the harvest observations after
    `cursor`. A run already done is not asked for again: bytes that `raw_manual` has
    materialized or that a `raw_manual_job` run created since took up (a quarantined
    manual's failed run), a manual whose partition is gone or whose removal is under
    way, so `manualqa up` and the daemon can both read the same observations."""
    after = int(cursor) if cursor else None
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=RAW_MANUAL, after_storage_id=after),
        limit=1000,
        ascending=True,
    ).records
    requests = []
    for record in records:
        observation = record.asset_observation
        key = record.partition_key
        if observation is None or key is None or "outcome" not in observation.metadata:
            continue
        outcome = observation.metadata["outcome"].value
        if outcome == GONE:
            if instance.has_dynamic_partition(MANUALS, key) and not removal_in_flight(
                instance, key
            ):
                requests.append(removal_request(key))
        elif outcome == Outcome.DUPLICATE.value:
            if _indexed_before(instance, key, record.timestamp) and not (
                removal_in_flight(instance, key)
                or _ran_since(instance, remove_manual_job.name, {MANUAL_TAG: key}, record.timestamp)
            ):
                requests.append(unindex_request(key))
        elif outcome in TO_MATERIALIZE:
            sha = str(observation.metadata["sha256"].value)
            # A manual can be orphaned more than once with the same bytes.
            run_key = f"{key}:{sha}" + (f":{record.storage_id}" if outcome == ORPHANED else "")
            partition = {"dagster/partition": key}
            if _materialized_sha(instance, key) != sha and not _ran_since(
                instance, raw_manual_job.name, partition, record.timestamp
            ):
                requests.append(
                    dg.RunRequest(job_name=raw_manual_job.name, partition_key=key, run_key=run_key)
                )
    return dg.SensorResult(
        run_requests=requests,
        cursor=str(records[-1].storage_id) if records else cursor,
    )


def _ran_since(
    instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], timestamp: float
) -> bool:
    """Whether a run of `job_name` with `tags` was created after `timestamp`."""
    runs = dg.RunsFilter(
        job_name=job_name, tags=tags, created_after=datetime.fromtimestamp(timestamp, UTC)
    )
    return bool(instance.get_run_ids(filters=runs, limit=1))


def _indexed_before(instance: dg.DagsterInstance, key: str, timestamp: float) -> bool:
    """Whether `qdrant_collection` last materialized `key` before `timestamp` (a manual
    indexed again since, after its original went, keeps its points)."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=QDRANT_COLLECTION, asset_partitions=[key]), limit=1
    ).records
    return bool(latest) and latest[0].timestamp < timestamp


def _materialized_sha(instance: dg.DagsterInstance, key: str) -> str | None:
    """The content hash of the latest `raw_manual` materialization of `key`, if any."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW_MANUAL, asset_partitions=[key]), limit=1
    ).records
    materialization = latest[0].asset_materialization if latest else None
    if materialization is None or "sha256" not in materialization.metadata:
        return None
    return str(materialization.metadata["sha256"].value)
