"""Partitions: one per manual (added by the source sensor), one per week for evals."""

import dagster as dg

MANUALS = "manuals"
manual_partitions = dg.DynamicPartitionsDefinition(name=MANUALS)

eval_weeks = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1)
