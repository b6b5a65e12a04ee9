"""The code location: assembles assets, checks, jobs, sensors and resources."""

import dagster as dg

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS, eval_scores
from manual_assets.jobs import raw_manual_job, weekly_eval_job, weekly_eval_schedule
from manual_assets.removal import remove_manual_job
from manual_assets.resources import build_resources
from manual_assets.sensors import manual_automation_sensor, manual_source_sensor
from manualqa.config import get_settings

defs = dg.Definitions(
    assets=[*MANUAL_ASSETS, eval_scores],
    asset_checks=MANUAL_CHECKS,
    jobs=[raw_manual_job, remove_manual_job, weekly_eval_job],
    schedules=[weekly_eval_schedule],
    sensors=[manual_source_sensor, manual_automation_sensor],
    resources=build_resources(get_settings()),
)
