"""raw_manual: fetch a manual from its source and keep its bytes immutably."""

from dataclasses import asdict
from datetime import UTC, datetime

import dagster as dg

from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, ManualSourceResource, ObjectStoreResource
from manualqa.documents import content_hash
from manualqa.objectstore import raw_key
from sql import catalog


@dg.asset(
    partitions_def=manual_partitions,
    group_name="ingestion",
    kinds={"python", "postgres"},
    freshness_policy=MANUAL_STAGE,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    code_version="1",
)
def raw_manual(
    context: dg.AssetExecutionContext,
    source: ManualSourceResource,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
) -> dg.MaterializeResult:
    """The manual's original bytes under `raw/`, with source, license and content hash."""
    key = context.partition_key
    ref, data = source.connector().read(key)
    sha = content_hash(data)
    obj = raw_key(key, sha, ref.file_name)
    fetched_at = datetime.now(UTC).isoformat()
    created = object_store.store().put_immutable(
        obj,
        data,
        metadata={
            "ref": asdict(ref),
            "sha256": sha,
            "size_bytes": len(data),
            "license": ref.license,
            "source": ref.source,
            "config_version": catalog_db.config_version,
            "fetched_at": fetched_at,
        },
    )
    with catalog_db.session() as session:
        catalog.upsert_manual(
            session,
            ref,
            content_hash=sha,
            size_bytes=len(data),
            object_key=obj,
            config_version=catalog_db.config_version,
        )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(sha),
        metadata={
            "object_key": obj,
            "sha256": sha,
            "size_bytes": len(data),
            "new_version": created,
            "media_type": ref.media_type,
            "vendor": ref.vendor,
            "product": ref.product,
            "license": ref.license,
            "source_uri": ref.uri,
        },
    )
