"""Freshness policies shown in the UI: how stale each stage may get."""

from datetime import timedelta

import dagster as dg

# Sources are polled continuously; a manual's stages should catch up within a day.
MANUAL_STAGE = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=7), warn_window=timedelta(days=1)
)
# The eval runs weekly; warn a day after a missed run, fail after two weeks.
WEEKLY_EVAL = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=14), warn_window=timedelta(days=8)
)
