"""Partitions: one per manual (added by the source sensor), one per week for evals."""

import dagster as dg

manual_partitions = dg.DynamicPartitionsDefinition(name="manuals")

eval_weeks = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1)
