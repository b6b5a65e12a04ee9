"""Jobs: ingest one manual through every stage; score the golden set for a week."""

import dagster as dg

from manual_assets.assets.evaluation import eval_scores
from manual_assets.assets.indexing import chunk_embeddings, qdrant_collection
from manual_assets.assets.ingestion import raw_manual
from manual_assets.assets.processing import manual_chunks, manual_text
from manual_assets.partitions import eval_weeks, manual_partitions

MANUAL_ASSETS = [raw_manual, manual_text, manual_chunks, chunk_embeddings, qdrant_collection]

ingest_manual_job = dg.define_asset_job(
    "ingest_manual_job",
    selection=dg.AssetSelection.assets(*MANUAL_ASSETS),
    partitions_def=manual_partitions,
    description="Fetch, extract, chunk, embed and index one manual.",
)

weekly_eval_job = dg.define_asset_job(
    "weekly_eval_job",
    selection=dg.AssetSelection.assets(eval_scores),
    partitions_def=eval_weeks,
    description="Score the golden set against the published index.",
)

weekly_eval_schedule = dg.build_schedule_from_partitioned_job(
    weekly_eval_job, hour_of_day=6, default_status=dg.DefaultScheduleStatus.RUNNING
)
