"""`manualqa up`: the whole platform on one machine with nothing installed but this package.

Migrates the catalog (starting embedded PostgreSQL when no DATABASE_URL is set), brings
every manual and this week's `eval_scores` up to date in the real Dagster instance, then
serves the Dagster UI and the API until it is told to stop. `--no-serve` stops after the
materialization.

SIGINT and SIGTERM stop it the same way whoever sends them (a terminal, make, a shell, a
service manager): no new run starts, the servers get SIGTERM and then, after a grace
period, SIGKILL for their whole process group, and the embedded PostgreSQL this command
used is stopped. A repeated signal never cuts that shutdown short.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

import dagster as dg
from sqlalchemy import make_url

from cli.migrate import migrate_catalog
from evals.golden import load_golden_set
from manual_assets.assets import MANUAL_ASSETS, eval_scores
from manual_assets.catch_up import CatchUpReport, catch_up
from manual_assets.partitions import eval_weeks
from manual_assets.resources import build_resources
from manualqa.config import PROJECT_ROOT, Settings, get_settings
from serving.launch import api_command
from sql import db
from sql.api_keys import create_key, verify_key
from sql.embedded import stop_embedded_postgres

log = logging.getLogger("manualqa.up")

T = TypeVar("T")
RUN_TAGS = {"manualqa/trigger": "manualqa-up"}
READY_TIMEOUT_S = 180.0
STOP_GRACE_S = 30.0
DEV_KEY_NAME = "development (manualqa up)"
DEV_KEY_SCOPES = ["search", "ask", "sql"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "up",
        help="materialize every manual, then serve the Dagster UI and the API",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--no-serve", action="store_true", help="materialize, then exit")
    parser.set_defaults(handler=run)


class StopSignals:
    """Turns SIGINT and SIGTERM into one stop request that the command polls for.

    Nothing is raised from the handler, so no signal, first or repeated, can interrupt the
    shutdown half-way; the work in progress sees `requested` and winds down.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._event.is_set():
            log.warning("%s received; already stopping", name)
        else:
            log.warning("%s received; stopping", name)
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; return whether a stop was requested."""
        return self._event.wait(seconds)

    def ignore_from_now(self) -> None:
        """Ignore further signals, once the stop is done: on its way out the interpreter
        puts the default handlers back, and a repeated signal arriving then killed the
        finished command (exit -15 instead of 0). Ignored signals stay ignored."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def run(args: argparse.Namespace) -> int:
    stop = StopSignals()
    stop.install()
    settings = get_settings()
    started = time.perf_counter()
    try:
        instance = open_instance(settings)
        summary = materialize(settings, instance, stop)
        summary["wall_seconds_to_materialized"] = round(time.perf_counter() - started, 1)
        print(json.dumps(summary, indent=1), flush=True)  # noqa: T201 - the command's output
        if stop.requested:
            return 0
        if args.no_serve:
            return 1 if summary["failed"] else 0
        if summary["failed"]:
            log.warning("some manuals failed; serving the rest")
        return serve(settings, stop, development_key(settings))
    finally:
        stop_embedded(settings)
        if stop.requested:
            stop.ignore_from_now()


def open_instance(settings: Settings) -> dg.DagsterInstance:
    """Migrate the catalog, then open the Dagster instance whose home and storage this
    command owns: its own database on the same PostgreSQL server."""
    url = migrate_catalog(settings)
    home = settings.state_path(Path("dagster_home"))
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    if "DAGSTER_POSTGRES_URL" not in os.environ:
        dagster_url = db.dagster_storage_url(url, f"{make_url(url).database}_dagster")
        db.ensure_database(dagster_url)
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_url
    return dg.DagsterInstance.get()


def materialize(
    settings: Settings, instance: dg.DagsterInstance, stop: StopSignals
) -> dict[str, object]:
    """Catch every manual up, then score this week's golden set when anything changed or
    the week has no score yet."""
    started = time.perf_counter()
    report = _off_main_thread(
        lambda: catch_up(instance, settings, RUN_TAGS, lambda: stop.requested)
    )
    summary: dict[str, object] = {
        "manuals": report.manuals,
        "harvested": report.harvested,
        "fetched": len(report.fetched),
        "rebuilt": len(report.rebuilt),
        "removed": report.removed,
        "unindexed": report.unindexed,
        "failed": report.failed,
        "ingest_seconds": round(time.perf_counter() - started, 1),
    }
    if report.stopped or stop.requested:
        return summary
    week = eval_weeks.get_last_partition_key()
    assert week is not None  # the weekly partitions start in the past
    summary["eval_week"] = week
    summary["eval_scores"] = _off_main_thread(
        lambda: _eval_scores(settings, instance, week, report)
    )
    return summary


def _eval_scores(
    settings: Settings, instance: dg.DagsterInstance, week: str, report: CatchUpReport
) -> dict[str, float]:
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=eval_scores.key, asset_partitions=[week]), limit=1
    ).records
    if latest and not report.changed_anything:
        metadata = latest[0].asset_materialization.metadata  # type: ignore[union-attr]
    else:
        result = dg.materialize(
            [eval_scores, *MANUAL_ASSETS],
            selection=[eval_scores],
            partition_key=week,
            instance=instance,
            resources=build_resources(settings),
            tags=RUN_TAGS,
        )
        metadata = result.asset_materializations_for_node("eval_scores")[0].metadata
    return {
        k: float(v.value)
        for k, v in metadata.items()
        if isinstance(v, dg.FloatMetadataValue) and v.value is not None
    }


def _off_main_thread(work: Callable[[], T]) -> T:
    """Run `work` in a worker thread and wait for it.

    In the main thread, Dagster's in-process execution installs its own SIGINT and SIGTERM
    handlers and swallows the signal into a failed run; in a worker it leaves them alone,
    so a stop request reaches `StopSignals` and the work stops between runs.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="materialize")
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def development_key(settings: Settings) -> str | None:
    """The API key the quick start prints: kept in the data dir (mode 0600) and reused
    while it is valid, created when missing or revoked. None outside development."""
    if settings.environment != "development":
        return None
    path = settings.state_path(Path("dev-api-key"))
    engine = db.make_engine(db.resolve_database_url(settings))
    try:
        with db.session_scope(engine) as session:
            if path.exists() and verify_key(session, path.read_text().strip()):
                return path.read_text().strip()
            _, key = create_key(session, DEV_KEY_NAME, DEV_KEY_SCOPES, "manualqa up")
    finally:
        engine.dispose()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def serve(settings: Settings, stop: StopSignals, api_key: str | None) -> int:
    """Run the Dagster UI and the API until a stop is requested or one of them exits."""
    python = sys.executable
    commands = {
        "dagster": [
            python, "-m", "dagster", "dev",
            "-w", str(PROJECT_ROOT / "workspace.yaml"),
            "-h", settings.dagster.host, "-p", str(settings.dagster.port),
        ],
        # On SIGTERM: stop accepting, let requests in flight finish, within our grace.
        "api": api_command(
            settings.serving.host,
            settings.serving.port,
            settings.serving.workers,
            graceful_s=int(STOP_GRACE_S * 2 / 3),
        ),
    }  # fmt: skip
    # Each server leads a process group of its own, so stopping it also reaches what it
    # starts (Dagster's webserver, daemon and code servers), and a terminal's Ctrl-C
    # reaches only this command, which then stops them in order.
    children = {
        name: subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=dict(os.environ), start_new_session=True)
        for name, cmd in commands.items()
    }
    api = f"http://{settings.serving.host}:{settings.serving.port}"
    ui = f"http://{settings.dagster.host}:{settings.dagster.port}"
    try:
        for url in (f"{api}/readyz", f"{ui}/server_info"):
            if not wait_http(url, READY_TIMEOUT_S, stop, children):
                if stop.requested:
                    return 0
                log.error("%s did not answer; see the output above", url)
                return 1
        print("\n".join(banner(settings, ui, api, api_key)), flush=True)  # noqa: T201 - the command's output
        while not stop.wait(1.0):
            exited = [name for name, child in children.items() if child.poll() is not None]
            if exited:
                log.error("%s exited on its own; stopping the rest", ", ".join(exited))
                return 1
        return 0
    finally:
        stop_children(children)


def wait_http(
    url: str, timeout_s: float, stop: StopSignals, children: dict[str, subprocess.Popen[bytes]]
) -> bool:
    """Whether `url` answered 200 before the timeout, a stop request or a child's exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.requested:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310 - http:// built here
                if response.status == 200:
                    return True
        except OSError:
            pass
        stop.wait(0.5)
    return False


def stop_children(
    children: dict[str, subprocess.Popen[bytes]], grace_s: float = STOP_GRACE_S
) -> None:
    """SIGTERM each server (both stop their own children on it), wait up to `grace_s`, then
    SIGKILL whatever is left in each server's process group."""
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for name, child in children.items():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", name, grace_s)
        # Whatever the server left behind in its group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def banner(settings: Settings, ui: str, api: str, api_key: str | None) -> list[str]:
    """The lines printed once both servers answer."""
    questions = load_golden_set(settings.resolve(settings.evals.golden_set))
    sample = next(q.question for q in questions if q.answerable)
    body = json.dumps({"question": sample})
    auth = f"Bearer {api_key}" if api_key else "Bearer $MANUALQA_API_KEY"
    return [
        "",
        "Manual QA is up.",
        f"  Dagster UI : {ui}   (assets, partitions, checks, eval_scores, runs)",
        f"  API        : {api}/docs",
        f"  API key    : {api_key or '(create one: manualqa keys create NAME --scope ask)'}",
        "  Ask it:",
        f"    curl -s {api}/v1/ask -H 'authorization: {auth}' \\",
        f"      -H 'content-type: application/json' -d '{body}'",
        "Press Ctrl-C to stop.",
    ]


def stop_embedded(settings: Settings) -> None:
    """Stop the embedded server this command used (a configured DATABASE_URL is left alone)."""
    if settings.database_url is None:
        stop_embedded_postgres(settings.state_path(settings.postgres.data_dir))
