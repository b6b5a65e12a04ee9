"""Bring every manual up to date in this process, deciding exactly as the daemon would.

`manualqa up` runs this before it starts any server, so the API answers from a complete
index at once. It asks what the daemon's sensors and schedules would ask, and runs their
run requests in process: the folder source sensor's view of what changed
(`source_changes`), one harvest of each licensed API and crawl (what their schedules
run) and of each partner whose inbox holds deliveries (its inbox sensor), the runs
`harvested_manual_sensor` asks for after those harvests, and the re-runs of manuals
released from quarantine. Then it evaluates the assets' own automation conditions and
runs what they request: unchanged manuals run nothing, and a manual whose bytes did not
change stops after `raw_manual`.

Each sensor's cursor and the automation cursor are kept in the instance and advanced
only after every requested run has finished, so a catch-up that was stopped half-way is
resumed by the next one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import dagster as dg
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
from dagster_shared.serdes import deserialize_value, serialize_value

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
from manual_assets.jobs import raw_manual_job
from manual_assets.licensed_sources import (
    SOURCE_TAG,
    harvested_manual_sensor,
    licensed_source_definitions,
)
from manual_assets.partitions import MANUALS
from manual_assets.removal import INDEX_ONLY_TAG, MANUAL_TAG, remove_manual_job
from manual_assets.resources import CatalogResource, ManualSourceResource, build_resources
from manual_assets.sensors import released_manual_sensor, source_requests
from manual_assets.source_changes import source_changes
from manualqa.config import Settings

log = logging.getLogger(__name__)

CURSOR_KEY = "manualqa/catch_up_automation_cursor"
SENSOR_CURSOR_PREFIX = "manualqa/catch_up_sensor_cursor/"
# A chain is requested whole in one tick; the next tick should request nothing.
MAX_TICKS = 3


@dataclass
class CatchUpReport:
    manuals: int = 0
    harvested: list[str] = field(default_factory=list)  # licensed sources harvested
    fetched: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unindexed: list[str] = field(default_factory=list)  # indexed, now near-duplicates
    rebuilt: dict[str, list[str]] = field(default_factory=dict)  # manual -> stages run
    failed: list[str] = field(default_factory=list)  # manuals and sources
    stopped: bool = False  # `should_stop` said so before every run was done

    @property
    def changed_anything(self) -> bool:
        return bool(self.fetched or self.removed or self.unindexed or self.rebuilt)


class _StopRequested(Exception):
    """`should_stop` said yes before a run."""


@dataclass
class _Runner:
    """Runs run requests in this process, as the daemon would launch them, and notes
    each outcome in the report."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    tags: Mapping[str, str]
    should_stop: Callable[[], bool]
    report: CatchUpReport

    def run(self, request: dg.RunRequest, job_name: str | None = None) -> None:
        if self.should_stop():
            raise _StopRequested
        name = request.job_name or job_name
        assert name is not None  # a sensor with one job may leave it out of its requests
        subject = request.partition_key or request.tags.get(MANUAL_TAG) or name
        log.info("%s: %s", name, subject)
        result = self.defs.resolve_job_def(name).execute_in_process(
            run_config=request.run_config or None,
            instance=self.instance,
            partition_key=request.partition_key,
            tags={**request.tags, **self.tags},
            raise_on_error=False,
        )
        if name == raw_manual_job.name:
            done = self.report.fetched
        elif name == remove_manual_job.name:
            done = self.report.unindexed if INDEX_ONLY_TAG in request.tags else self.report.removed
        else:
            done, subject = self.report.harvested, result.dagster_run.tags[SOURCE_TAG]
        (done if result.success else self.report.failed).append(subject)

    def tick(self, sensor: dg.SensorDefinition, resources: Mapping[str, object]) -> int:
        """Evaluate `sensor` from the cursor this catch-up keeps for it, run what it
        requests, then keep the cursor it returned; returns how many runs it asked for."""
        key = SENSOR_CURSOR_PREFIX + sensor.name
        cursor = self.instance.daemon_cursor_storage.get_cursor_values({key}).get(key)
        with dg.build_sensor_context(
            instance=self.instance, resources=resources, cursor=cursor
        ) as context:
            result = sensor(context)
        if isinstance(result, dg.SkipReason):
            return 0
        if isinstance(result, dg.RunRequest):
            result = dg.SensorResult(run_requests=[result], cursor=cursor)
        assert isinstance(result, dg.SensorResult), f"{sensor.name} returned {result!r}"
        for partitions in result.dynamic_partitions_requests or []:
            assert isinstance(partitions, dg.AddDynamicPartitionsRequest)
            self.instance.add_dynamic_partitions(
                partitions.partitions_def_name, list(partitions.partition_keys)
            )
        for request in result.run_requests or []:
            self.run(request, sensor.job_name if len(sensor.targets) == 1 else None)
        if result.cursor is not None:
            self.instance.daemon_cursor_storage.set_cursor_values({key: result.cursor})
        return len(result.run_requests or [])


def catch_up(
    instance: dg.DagsterInstance,
    settings: Settings,
    tags: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> CatchUpReport:
    """Fetch new and changed manuals, harvest licensed sources, remove gone manuals, re-run
    released ones, and run every stage Dagster's automation conditions request, one
    in-process run per manual.

    `should_stop` is asked before each run; once it says yes, no further run starts.
    """
    resources = build_resources(settings)
    licensed = licensed_source_definitions(settings)
    source = cast(ManualSourceResource, resources["source"])
    changes = source_changes(
        source.connector(), instance, cast(CatalogResource, resources["catalog_db"])
    )
    graph = dg.Definitions(
        assets=MANUAL_ASSETS,
        asset_checks=MANUAL_CHECKS,
        jobs=[raw_manual_job, remove_manual_job, *licensed.jobs],
        resources=resources,
    )
    cursor = _stored_cursor(instance)
    if cursor is None:
        # The first evaluation only records the state; changes after it are what count.
        cursor = dg.evaluate_automation_conditions(graph, instance).cursor
        _store_cursor(instance, cursor)

    report = CatchUpReport(manuals=changes.listed)
    runner = _Runner(graph, instance, dict(tags or {}), should_stop, report)
    instance.add_dynamic_partitions(MANUALS, changes.new_partitions)
    try:
        for request in source_requests(changes, instance):
            runner.run(request)
        for schedule in licensed.schedules:  # each API and crawl, harvested now
            runner.run(dg.RunRequest(job_name=schedule.job_name))
        for sensor in [*licensed.sensors, released_manual_sensor]:
            runner.tick(sensor, resources)
        # Its runs can observe more for it: a removal orphans the removed manual's copies.
        for _ in range(MAX_TICKS):
            if not runner.tick(harvested_manual_sensor, resources):
                break
        cursor = _run_automation(runner, cursor)
    except _StopRequested:
        log.warning("stopping before every manual is up to date; the next catch-up resumes")
        report.stopped = True
        return report
    _store_cursor(instance, cursor)
    return report


def _run_automation(runner: _Runner, cursor: AssetDaemonCursor) -> AssetDaemonCursor:
    """Evaluate, run what is requested, and evaluate again until a tick requests nothing:
    the cursor returned is a quiet tick's, so the next catch-up sees only later changes."""
    report = runner.report
    for _ in range(MAX_TICKS):
        evaluation = dg.evaluate_automation_conditions(runner.defs, runner.instance, cursor=cursor)
        cursor = evaluation.cursor
        requested = _requested_by_manual(evaluation)
        if not requested:
            break
        for n, (partition, stages) in enumerate(sorted(requested.items()), start=1):
            if runner.should_stop():
                raise _StopRequested
            names = [key.to_user_string() for key in stages]
            log.info("[%d/%d] %s: %s", n, len(requested), partition, ", ".join(names))
            result = dg.materialize(
                [*MANUAL_ASSETS, *MANUAL_CHECKS],
                selection=dg.AssetSelection.assets(*stages),
                partition_key=partition,
                instance=runner.instance,
                resources=runner.defs.resources,
                tags=runner.tags,
                raise_on_error=False,
            )
            report.rebuilt.setdefault(partition, []).extend(names)
            if not result.success:
                report.failed.append(partition)
                log.error("%s failed; its run in the Dagster UI says why", partition)
    return cursor


def _requested_by_manual(
    evaluation: dg.EvaluateAutomationConditionsResult,
) -> dict[str, list[dg.AssetKey]]:
    """The stages requested for each manual, in lineage order."""
    requested: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for asset in MANUAL_ASSETS:
        for partition in evaluation.get_requested_partitions(asset.key):
            requested[str(partition)].append(asset.key)
    return dict(requested)


def _stored_cursor(instance: dg.DagsterInstance) -> AssetDaemonCursor | None:
    stored = instance.daemon_cursor_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)
    return deserialize_value(stored, AssetDaemonCursor) if stored else None


def _store_cursor(instance: dg.DagsterInstance, cursor: AssetDaemonCursor) -> None:
    instance.daemon_cursor_storage.set_cursor_values({CURSOR_KEY: serialize_value(cursor)})
