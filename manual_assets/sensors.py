"""Sensors: the source sensor fetches new or changed manuals and removes gone ones; the
release sensor runs a manual again once it leaves quarantine; the automation sensor runs
every later stage whose upstream data changed."""

import dagster as dg

from manual_assets.jobs import raw_manual_job
from manual_assets.partitions import MANUALS, manual_partitions
from manual_assets.removal import removal_in_flight, removal_request, remove_manual_job
from manual_assets.resources import CatalogResource, ManualSourceResource
from manual_assets.source_changes import SourceChanges, source_changes
from manualqa.sources import SourceError
from sql import ingest


@dg.sensor(
    jobs=[raw_manual_job, remove_manual_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def manual_source_sensor(
    context: dg.SensorEvaluationContext,
    source: ManualSourceResource,
    catalog_db: CatalogResource,
) -> dg.SensorResult | dg.SkipReason:
    """Adds a partition per new manual, runs `raw_manual` for each manual whose version
    token differs from the catalog's, and removes manuals the source no longer lists.
    Compares version tokens only: it never reads a manual's bytes."""
    try:
        changes = source_changes(source.connector(), context.instance, catalog_db)
    except SourceError as exc:
        return dg.SkipReason(f"source unavailable: {exc}")
    requests = source_requests(changes, context.instance)
    if not (changes.new_partitions or requests):
        return dg.SkipReason("no manual is new, changed or removed")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=(
            [manual_partitions.build_add_request(changes.new_partitions)]
            if changes.new_partitions
            else []
        ),
    )


def source_requests(changes: SourceChanges, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """A removal for each manual gone from the source (unless one is under way), then a
    `raw_manual` run for each new or changed one."""
    return [
        removal_request(key) for key in changes.removed if not removal_in_flight(instance, key)
    ] + [
        dg.RunRequest(
            job_name=raw_manual_job.name,
            partition_key=ref.key,
            # One run per version: a request repeated while the run is queued is dropped.
            run_key=f"{ref.key}:{ref.version_token}",
        )
        for ref in changes.to_fetch
    ]


@dg.sensor(
    job=raw_manual_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def released_manual_sensor(
    context: dg.SensorEvaluationContext, catalog_db: CatalogResource
) -> dg.SensorResult:
    """Runs `raw_manual` again for each manual released from quarantine (`manualqa
    quarantine release`), so the released bytes go on through the pipeline."""
    after = int(context.cursor) if context.cursor else 0
    with catalog_db.session() as session:
        releases = ingest.releases_after(session, after)
    known = set(context.instance.get_dynamic_partitions(MANUALS))
    missing = sorted({key for _, key in releases} - known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                job_name=raw_manual_job.name,
                partition_key=key,
                run_key=f"{key}:released:{audit_id}",
            )
            for audit_id, key in releases
        ],
        dynamic_partitions_requests=(
            [manual_partitions.build_add_request(missing)] if missing else []
        ),
        cursor=str(releases[-1][0]) if releases else context.cursor,
    )


manual_automation_sensor = dg.AutomationConditionSensorDefinition(
    "manual_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes each stage whose upstream data version changed.",
)
