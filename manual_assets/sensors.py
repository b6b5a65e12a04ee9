"""Sensors: the source sensor fetches new or changed manuals and removes gone ones; the
automation sensor runs every later stage whose upstream data changed."""

import dagster as dg

from manual_assets.jobs import raw_manual_job
from manual_assets.partitions import manual_partitions
from manual_assets.removal import removal_in_flight, removal_request, remove_manual_job
from manual_assets.resources import CatalogResource, ManualSourceResource
from manual_assets.source_changes import source_changes
from manualqa.sources import SourceError


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
    removals = [key for key in changes.removed if not removal_in_flight(context.instance, key)]
    if not (changes.new_partitions or changes.to_fetch or removals):
        return dg.SkipReason("no manual is new, changed or removed")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                job_name=raw_manual_job.name,
                partition_key=ref.key,
                # One run per version: a request repeated while the run is queued is dropped.
                run_key=f"{ref.key}:{ref.version_token}",
            )
            for ref in changes.to_fetch
        ]
        + [removal_request(key) for key in removals],
        dynamic_partitions_requests=(
            [manual_partitions.build_add_request(changes.new_partitions)]
            if changes.new_partitions
            else []
        ),
    )


manual_automation_sensor = dg.AutomationConditionSensorDefinition(
    "manual_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes each stage whose upstream data version changed.",
)
