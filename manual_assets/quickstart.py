"""The main command: the whole platform on one machine with nothing installed but this package.

Starts (or reuses) embedded PostgreSQL, materializes every manual partition and the
eval asset into the real Dagster instance, then serves the Dagster UI and the API:

    python -m manual_assets.quickstart            # materialize, then serve until Ctrl-C
    python -m manual_assets.quickstart --no-serve # materialize only
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
import time
import urllib.request
from pathlib import Path

import dagster as dg
from sqlalchemy import make_url

from evals.golden import load_golden_set
from manual_assets.assets.evaluation import eval_scores
from manual_assets.jobs import MANUAL_ASSETS
from manual_assets.partitions import MANUALS, eval_weeks
from manual_assets.resources import build_resources
from manualqa.config import PROJECT_ROOT, Settings, get_settings
from manualqa.documents import content_hash
from manualqa.sources import FolderConnector
from sql import catalog, db
from sql.embedded import stop_embedded_postgres

log = logging.getLogger("manualqa.quickstart")


def prepare_instance(settings: Settings) -> str:
    """Start the catalog database, migrate it, and point DAGSTER_HOME at a home using it."""
    url = db.resolve_database_url(settings)
    db.migrate(url)
    home = settings.state_path(Path("dagster_home"))
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    if "DAGSTER_POSTGRES_URL" not in os.environ:
        # Dagster runs its own migrations: its tables live in a database of their own.
        dagster_url = db.dagster_storage_url(url, f"{make_url(url).database}_dagster")
        db.ensure_database(dagster_url)
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_url
    return url


def stale_manuals(connector: FolderConnector, url: str, keys: list[str]) -> list[str]:
    """Manuals whose bytes differ from the indexed version (all of them on a first run)."""
    engine = db.make_engine(url)
    stale = []
    with db.session_scope(engine) as session:
        for key in keys:
            _, data = connector.read(key)
            if not catalog.is_indexed(session, key, content_hash(data)):
                stale.append(key)
    engine.dispose()
    return stale


def materialize_all(settings: Settings, url: str) -> dict[str, object]:
    instance = dg.DagsterInstance.get()
    connector = FolderConnector(
        settings.resolve(settings.sources.folder.path),
        settings.sources.folder.default_vendor,
        settings.sources.folder.default_license,
    )
    keys = [ref.key for ref in connector.list_all()]
    instance.add_dynamic_partitions(MANUALS, keys)
    resources = build_resources(settings)
    todo = stale_manuals(connector, url, keys)
    failed = []
    started = time.perf_counter()
    for n, key in enumerate(todo, start=1):
        log.info("[%d/%d] materializing %s", n, len(todo), key)
        result = dg.materialize(
            MANUAL_ASSETS,
            partition_key=key,
            instance=instance,
            resources=resources,
            raise_on_error=False,
            tags={"manualqa/trigger": "quickstart"},
        )
        if not result.success:
            failed.append(key)
            log.error("%s failed; see the run in the Dagster UI (quarantined manuals say why)", key)
    ingest_s = time.perf_counter() - started
    week = eval_weeks.get_last_partition_key()
    eval_result = dg.materialize(
        [eval_scores, *MANUAL_ASSETS],
        selection=[eval_scores],
        partition_key=week,
        instance=instance,
        resources=resources,
        tags={"manualqa/trigger": "quickstart"},
    )
    scores = {
        k: v.value
        for k, v in eval_result.asset_materializations_for_node("eval_scores")[0].metadata.items()
        if isinstance(v, dg.FloatMetadataValue)
    }
    return {
        "manuals": len(keys),
        "materialized": len(todo),
        "failed": failed,
        "ingest_seconds": round(ingest_s, 1),
        "eval_week": week,
        "eval_scores": scores,
    }


def wait_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(settings: Settings) -> int:
    # Stop on Ctrl-C and on SIGTERM alike, also when started where SIGINT is ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    python = sys.executable
    dagster_cmd = [
        python,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        settings.dagster.host,
        "-p",
        str(settings.dagster.port),
    ]
    api_cmd = [
        python,
        "-m",
        "uvicorn",
        "serving.app:create_app",
        "--factory",
        "--host",
        settings.serving.host,
        "--port",
        str(settings.serving.port),
    ]
    # Each child leads its own process group, so stopping it reaches the processes it
    # starts (Dagster's webserver, daemon and code servers) as well.
    children = [
        subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True)
        for cmd in (dagster_cmd, api_cmd)
    ]
    api = f"http://{settings.serving.host}:{settings.serving.port}"
    ui = f"http://{settings.dagster.host}:{settings.dagster.port}"
    try:
        if not wait_http(f"{api}/readyz", 180) or not wait_http(f"{ui}/server_info", 180):
            log.error("the API or the Dagster UI did not come up; see the output above")
            return 1
        print(banner(settings, ui, api), flush=True)  # noqa: T201 - the command's own output
        while all(child.poll() is None for child in children):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_children(children)


def stop_children(children: list[subprocess.Popen[bytes]], grace_s: float = 30.0) -> None:
    """SIGINT each child's process group (the graceful path of `dagster dev` and uvicorn),
    then SIGKILL whatever is left of a group after `grace_s`."""
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("process group %d did not stop in %.0f s; killing it", child.pid, grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def banner(settings: Settings, ui: str, api: str) -> str:
    questions = load_golden_set(settings.resolve(settings.evals.golden_set))
    sample = next(q.question for q in questions if q.answerable)
    body = json.dumps({"question": sample})
    return "\n".join(
        [
            "",
            "Manual QA is up.",
            f"  Dagster UI : {ui}   (assets, partitions, eval_scores, runs)",
            f"  API        : {api}/docs",
            "  Ask it:",
            f"    curl -s {api}/v1/ask -H 'content-type: application/json' -d '{body}'",
            "Press Ctrl-C to stop.",
        ]
    )


def stop_embedded(settings: Settings) -> None:
    """Stop the embedded server this command used (a configured DATABASE_URL is left alone)."""
    if settings.database_url is None:
        stop_embedded_postgres(settings.state_path(settings.postgres.data_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-serve", action="store_true", help="materialize, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    started = time.perf_counter()
    try:
        url = prepare_instance(settings)
        summary = materialize_all(settings, url)
        summary["wall_seconds_to_materialized"] = round(time.perf_counter() - started, 1)
        print(json.dumps(summary, indent=1), flush=True)  # noqa: T201 - the command's output
        if args.no_serve:
            return 1 if summary["failed"] else 0
        if summary["failed"]:
            log.warning("some manuals failed; serving the rest")
        return serve(settings)
    finally:
        stop_embedded(settings)


if __name__ == "__main__":
    sys.exit(main())
