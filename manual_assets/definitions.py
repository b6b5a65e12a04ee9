"""The code location: assembles assets, checks, jobs, sensors and resources."""

import dagster as dg

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS, eval_scores
from manual_assets.jobs import raw_manual_job, weekly_eval_job, weekly_eval_schedule
from manual_assets.licensed_sources import harvested_manual_sensor, licensed_source_definitions
from manual_assets.removal import remove_manual_job
from manual_assets.resources import build_resources
from manual_assets.sensors import (
    manual_automation_sensor,
    manual_source_sensor,
    released_manual_sensor,
)
from manualqa.config import Settings, get_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything the code location serves; licensed sources as `settings` configures them."""
    licensed = licensed_source_definitions(settings)
    return dg.Definitions(
        assets=[*MANUAL_ASSETS, eval_scores],
        asset_checks=MANUAL_CHECKS,
        jobs=[raw_manual_job, remove_manual_job, weekly_eval_job, *licensed.jobs],
        schedules=[weekly_eval_schedule, *licensed.schedules],
        sensors=[
            manual_source_sensor,
            manual_automation_sensor,
            harvested_manual_sensor,
            released_manual_sensor,
            *licensed.sensors,
        ],
        resources=build_resources(settings),
        # A run is one manual (or one week's score) whose steps run one after another: a
        # process per step would only add an interpreter start and an import each.
        executor=dg.in_process_executor,
    )


defs = build_definitions(get_settings())
