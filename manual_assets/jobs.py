"""Jobs: fetch one manual's bytes; score the golden set for a week."""

import dagster as dg

from manual_assets.assets import eval_scores
from manual_assets.assets.raw_manual import raw_manual
from manual_assets.partitions import eval_weeks, manual_partitions

# The source sensor runs only this; Dagster's automation takes the manual from there.
raw_manual_job = dg.define_asset_job(
    "raw_manual_job",
    selection=dg.AssetSelection.assets(raw_manual),
    partitions_def=manual_partitions,
    description="Fetch one manual's bytes from its source.",
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
