"""The code location: assembles assets, checks, jobs, sensors and resources."""

import dagster as dg

from manual_assets.assets.evaluation import eval_scores
from manual_assets.jobs import (
    MANUAL_ASSETS,
    ingest_manual_job,
    weekly_eval_job,
    weekly_eval_schedule,
)
from manual_assets.resources import build_resources
from manual_assets.sensors import manual_source_sensor
from manualqa.config import get_settings

defs = dg.Definitions(
    assets=[*MANUAL_ASSETS, eval_scores],
    jobs=[ingest_manual_job, weekly_eval_job],
    schedules=[weekly_eval_schedule],
    sensors=[manual_source_sensor],
    resources=build_resources(get_settings()),
)
