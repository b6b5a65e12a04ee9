"""Bring every manual up to date in this process, deciding exactly as the daemon would.

`manualqa up` runs this before it starts any server, so the API answers from a complete
index at once. It takes the source sensor's view of what changed (`source_changes`),
fetches those manuals, then evaluates the assets' own automation conditions and runs
what they request: unchanged manuals run nothing, and a manual whose bytes did not
change stops after `raw_manual`.

The automation cursor is kept in the instance and advanced only after every requested
run has finished, so a catch-up that was stopped half-way is resumed by the next one.
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
from manual_assets.assets.raw_manual import raw_manual
from manual_assets.partitions import MANUALS
from manual_assets.removal import removal_run_config, remove_manual_job
from manual_assets.resources import CatalogResource, ManualSourceResource, build_resources
from manual_assets.source_changes import source_changes
from manualqa.config import Settings

log = logging.getLogger(__name__)

CURSOR_KEY = "manualqa/catch_up_automation_cursor"
# A chain is requested whole in one tick; the next tick should request nothing.
MAX_TICKS = 3


@dataclass
class CatchUpReport:
    manuals: int = 0
    fetched: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rebuilt: dict[str, list[str]] = field(default_factory=dict)  # manual -> stages run
    failed: list[str] = field(default_factory=list)
    stopped: bool = False  # `should_stop` said so before every run was done

    @property
    def changed_anything(self) -> bool:
        return bool(self.fetched or self.removed or self.rebuilt)


def catch_up(
    instance: dg.DagsterInstance,
    settings: Settings,
    tags: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> CatchUpReport:
    """Fetch new and changed manuals, remove gone ones, and run every stage Dagster's
    automation conditions request, one in-process run per manual.

    `should_stop` is asked before each run; once it says yes, no further run starts.
    """
    resources = build_resources(settings)
    source = cast(ManualSourceResource, resources["source"])
    changes = source_changes(
        source.connector(), instance, cast(CatalogResource, resources["catalog_db"])
    )
    graph = dg.Definitions(assets=MANUAL_ASSETS, asset_checks=MANUAL_CHECKS, resources=resources)
    cursor = _stored_cursor(instance)
    if cursor is None:
        # The first evaluation only records the state; changes after it are what count.
        cursor = dg.evaluate_automation_conditions(graph, instance).cursor
        _store_cursor(instance, cursor)

    report = CatchUpReport(manuals=changes.listed)
    instance.add_dynamic_partitions(MANUALS, changes.new_partitions)
    run_tags = dict(tags or {})
    for key in changes.removed:
        if should_stop():
            return _stopped(report)
        result = remove_manual_job.execute_in_process(
            run_config=removal_run_config(key),
            instance=instance,
            resources=resources,
            tags=run_tags,
            raise_on_error=False,
        )
        (report.removed if result.success else report.failed).append(key)
    for ref in changes.to_fetch:
        if should_stop():
            return _stopped(report)
        log.info("fetching %s", ref.key)
        result = dg.materialize(
            [raw_manual],
            partition_key=ref.key,
            instance=instance,
            resources=resources,
            tags=run_tags,
            raise_on_error=False,
        )
        (report.fetched if result.success else report.failed).append(ref.key)

    # Evaluate, run what is requested, and evaluate again until a tick requests nothing:
    # the cursor kept is a quiet tick's, so the next catch-up sees only later changes.
    for _ in range(MAX_TICKS):
        evaluation = dg.evaluate_automation_conditions(graph, instance, cursor=cursor)
        cursor = evaluation.cursor
        requested = _requested_by_manual(evaluation)
        if not requested:
            break
        for n, (partition, stages) in enumerate(sorted(requested.items()), start=1):
            if should_stop():
                return _stopped(report)
            names = [key.to_user_string() for key in stages]
            log.info("[%d/%d] %s: %s", n, len(requested), partition, ", ".join(names))
            result = dg.materialize(
                [*MANUAL_ASSETS, *MANUAL_CHECKS],
                selection=dg.AssetSelection.assets(*stages),
                partition_key=partition,
                instance=instance,
                resources=resources,
                tags=run_tags,
                raise_on_error=False,
            )
            report.rebuilt.setdefault(partition, []).extend(names)
            if not result.success:
                report.failed.append(partition)
                log.error("%s failed; its run in the Dagster UI says why", partition)
    _store_cursor(instance, cursor)
    return report


def _requested_by_manual(
    evaluation: dg.EvaluateAutomationConditionsResult,
) -> dict[str, list[dg.AssetKey]]:
    """The stages requested for each manual, in lineage order."""
    requested: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for asset in MANUAL_ASSETS:
        for partition in evaluation.get_requested_partitions(asset.key):
            requested[str(partition)].append(asset.key)
    return dict(requested)


def _stopped(report: CatchUpReport) -> CatchUpReport:
    log.warning("stopping before every manual is up to date; the next catch-up resumes")
    report.stopped = True
    return report


def _stored_cursor(instance: dg.DagsterInstance) -> AssetDaemonCursor | None:
    stored = instance.daemon_cursor_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)
    return deserialize_value(stored, AssetDaemonCursor) if stored else None


def _store_cursor(instance: dg.DagsterInstance, cursor: AssetDaemonCursor) -> None:
    instance.daemon_cursor_storage.set_cursor_values({CURSOR_KEY: serialize_value(cursor)})
