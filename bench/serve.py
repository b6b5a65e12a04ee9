"""The API as the benchmarks run it: uvicorn in a child process, and a key to call it with."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psutil

from manualqa.config import PROJECT_ROOT, Settings
from serving.launch import api_command
from sql import db
from sql.api_keys import create_key, revoke_key
from sql.embedded import running_embedded_postgres, stop_embedded_postgres

BENCH_ACTOR = "bench"


@dataclass(frozen=True)
class ServedApi:
    base_url: str
    headers: dict[str, str]
    database_url: str
    pid: int
    ready_s: float  # from start to the first 200 from /readyz


@contextlib.contextmanager
def bench_key(database_url: str, scopes: list[str]) -> Iterator[dict[str, str]]:
    """A key for the run, revoked afterwards."""
    engine = db.make_engine(database_url)
    with db.session_scope(engine) as session:
        record, key = create_key(session, "benchmark", scopes, BENCH_ACTOR)
    try:
        yield {"Authorization": f"Bearer {key}"}
    finally:
        with db.session_scope(engine) as session:
            revoke_key(session, record.key_id, BENCH_ACTOR)
        engine.dispose()


@contextlib.contextmanager
def served_api(
    settings: Settings,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    ready_timeout_s: float = 600,
) -> Iterator[ServedApi]:
    """uvicorn with `workers` processes on a free port, ready, with a search/ask key.
    The rate limits are lifted for the run: the load comes from one IP and one key. An
    embedded PostgreSQL this starts is stopped afterwards."""
    embedded = settings.state_path(settings.postgres.data_dir)
    started_here = settings.database_url is None and running_embedded_postgres(embedded) is None
    try:
        with _served(settings, workers, extra_env, ready_timeout_s) as api:
            yield api
    finally:
        if started_here:
            stop_embedded_postgres(embedded)


@contextlib.contextmanager
def _served(
    settings: Settings, workers: int, extra_env: dict[str, str] | None, ready_timeout_s: float
) -> Iterator[ServedApi]:
    url = db.resolve_database_url(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MANUALQA_SERVING__RATE_LIMITS__PER_KEY": "100000000/minute",
        "MANUALQA_SERVING__RATE_LIMITS__PER_IP": "100000000/minute",
        **(extra_env or {}),
    }
    # uvicorn's own messages (a worker that died and was restarted), not one line a request.
    command = [*api_command("127.0.0.1", port, workers), "--no-access-log"]
    started = time.monotonic()
    # Its own process group: whatever is left of it (workers included) can be killed.
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, ready_timeout_s)
        _wait_listening(server, port, workers, ready_timeout_s)
        ready_s = round(time.monotonic() - started, 1)
        with bench_key(url, ["search", "ask", "sql"]) as headers:
            yield ServedApi(base, headers, url, server.pid, ready_s)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # still starting, or hung: do not leave it behind
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_listening(
    server: subprocess.Popen[bytes], port: int, workers: int, timeout_s: float
) -> None:
    """Until every worker listens: each listens on a socket of its own once its start-up is
    done (`serving.launch`), and connections opened before that all go to the others."""
    if workers == 1:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listening = [
            child
            for child in psutil.Process(server.pid).children()
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port
                for c in child.net_connections(kind="tcp")
            )
        ]
        if len(listening) >= workers:
            return
        time.sleep(0.5)
    raise RuntimeError(f"not all {workers} workers listened within {timeout_s} s")


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{base}/readyz did not answer 200 within {timeout_s} s")
