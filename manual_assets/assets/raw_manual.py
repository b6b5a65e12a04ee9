"""raw_manual: a manual's original bytes, fetched from its source and kept immutably."""

from datetime import UTC, datetime

import dagster as dg

from manual_assets.automation import ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, ManualSourceResource
from manualqa.artifacts import RawManual
from manualqa.documents import content_hash
from manualqa.objectstore import raw_key
from sql import catalog


@dg.asset(
    partitions_def=manual_partitions,
    group_name="ingestion",
    kinds={"python", "postgres"},
    freshness_policy=MANUAL_STAGE,
    backfill_policy=ONE_MANUAL_PER_RUN,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    code_version="2",
)
def raw_manual(
    context: dg.AssetExecutionContext,
    source: ManualSourceResource,
    catalog_db: CatalogResource,
) -> dg.Output[RawManual]:
    """The manual's original bytes under `raw/`, with source and license; its data version
    is the content hash, so unchanged bytes leave every later stage as it is."""
    key = context.partition_key
    ref, data = source.connector().read(key)
    sha = content_hash(data)
    with catalog_db.session() as session:
        catalog.upsert_manual(
            session,
            ref,
            content_hash=sha,
            size_bytes=len(data),
            object_key=raw_key(key, sha, ref.file_name),
            config_version=catalog_db.config_version,
        )
    return dg.Output(
        RawManual(ref=ref, sha256=sha, data=data, fetched_at=datetime.now(UTC).isoformat()),
        data_version=dg.DataVersion(sha),
        metadata={
            "sha256": sha,
            "size_bytes": len(data),
            "version_token": ref.version_token,
            "media_type": ref.media_type,
            "vendor": ref.vendor,
            "product": ref.product,
            "license": ref.license,
            "source_uri": ref.uri,
        },
    )
