"""qdrant_collection: the manual's points in the served index, and the checks that the
published index agrees with the catalog."""

import dagster as dg

from manual_assets.automation import ON_NEW_UPSTREAM_DATA, ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, VectorIndexResource
from manualqa.artifacts import ChunkEmbeddings, ManualChunks
from manualqa.index.points import index_points
from sql import catalog


@dg.asset(
    partitions_def=manual_partitions,
    group_name="indexing",
    kinds={"qdrant"},
    freshness_policy=MANUAL_STAGE,
    automation_condition=ON_NEW_UPSTREAM_DATA,
    backfill_policy=ONE_MANUAL_PER_RUN,
    pool="index_writer",
    code_version="2",
)
def qdrant_collection(
    context: dg.AssetExecutionContext,
    manual_chunks: ManualChunks,
    chunk_embeddings: ChunkEmbeddings,
    catalog_db: CatalogResource,
    vector_index: VectorIndexResource,
) -> dg.MaterializeResult:
    """The manual's points in the served vector index, replacing its previous points,
    published as a new index version the API switches to."""
    key = context.partition_key
    try:
        points = index_points(manual_chunks, chunk_embeddings)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    writer = vector_index.writer()
    try:
        result = writer.replace_manual(key, points)
    finally:
        writer.close()
    with catalog_db.session() as session:
        catalog.set_manual_status(session, key, "indexed")
    return dg.MaterializeResult(
        metadata={
            "points": result.manual_points,
            "replaced_points": result.removed,
            "collection_points": result.total_points,
            "index_version": result.version,
            "published_bytes": result.published_bytes,
        }
    )


@dg.asset_check(
    asset=qdrant_collection,
    partitions_def=manual_partitions,
    description="The published index holds exactly the catalog's chunks of this manual.",
)
def qdrant_collection_points_match_chunks(
    context: dg.AssetCheckExecutionContext,
    catalog_db: CatalogResource,
    vector_index: VectorIndexResource,
) -> dg.AssetCheckResult:
    key = context.partition_key
    with catalog_db.session() as session:
        chunks = catalog.chunk_count(session, key)
    reader = vector_index.reader()
    try:
        points = reader.count(key)
    finally:
        reader.close()
    return dg.AssetCheckResult(
        passed=points == chunks, metadata={"points": points, "catalog_chunks": chunks}
    )


@dg.asset_check(
    asset=qdrant_collection,
    partitions_def=manual_partitions,
    description="The published index holds no points of manuals the catalog no longer has.",
)
def qdrant_collection_no_removed_manuals(
    catalog_db: CatalogResource, vector_index: VectorIndexResource
) -> dg.AssetCheckResult:
    with catalog_db.session() as session:
        manuals = sorted(catalog.version_tokens(session))
    reader = vector_index.reader()
    try:
        total = reader.count()
        of_catalog_manuals = sum(reader.count(key) for key in manuals)
    finally:
        reader.close()
    return dg.AssetCheckResult(
        passed=total == of_catalog_manuals,
        metadata={
            "collection_points": total,
            "points_of_catalog_manuals": of_catalog_manuals,
            "points_of_other_manuals": total - of_catalog_manuals,
        },
    )


QDRANT_COLLECTION_CHECKS = [
    qdrant_collection_points_match_chunks,
    qdrant_collection_no_removed_manuals,
]
