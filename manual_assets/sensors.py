"""manual_source_sensor: new or changed manuals become partitions and ingest runs."""

import json

import dagster as dg

from manual_assets.jobs import ingest_manual_job
from manual_assets.partitions import MANUALS, manual_partitions
from manual_assets.resources import CatalogResource, ManualSourceResource
from manualqa.documents import content_hash
from manualqa.sources import SourceError
from sql import catalog


@dg.sensor(
    job=ingest_manual_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def manual_source_sensor(
    context: dg.SensorEvaluationContext,
    source: ManualSourceResource,
    catalog_db: CatalogResource,
) -> dg.SensorResult | dg.SkipReason:
    """Adds a partition per new manual and requests a run when the catalog does not hold a
    manual indexed at its current bytes. The cursor keeps each file's cheap change marker,
    so unchanged files are not re-read."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    connector = source.connector()
    try:
        refs = connector.list_all()
    except SourceError as exc:
        return dg.SkipReason(f"source unavailable: {exc}")
    known = set(context.instance.get_dynamic_partitions(MANUALS))
    new_keys = sorted(r.key for r in refs if r.key not in known)
    runs = []
    with catalog_db.session() as session:
        for ref in refs:
            if seen.get(ref.key) == ref.version_token:
                continue
            _, data = connector.read(ref.key)
            if not catalog.is_indexed(session, ref.key, content_hash(data)):
                runs.append(
                    dg.RunRequest(partition_key=ref.key, run_key=f"{ref.key}:{ref.version_token}")
                )
            seen[ref.key] = ref.version_token
    if not new_keys and not runs:
        return dg.SkipReason(f"{len(refs)} manuals, none new or changed")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=(
            [manual_partitions.build_add_request(new_keys)] if new_keys else []
        ),
        cursor=json.dumps(seen, sort_keys=True),
    )
