"""The API as the benchmarks run it: uvicorn in a child process, and a key to call it with."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

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
    workers: int

    def warm(self, path: str, bodies: Sequence[object], timeout_s: float = 600) -> None:
        """POST every body to `path` on every worker, so that each worker's own caches (the
        query embeddings, the answers) hold them all before anything is measured."""
        port = int(urlsplit(self.base_url).port or 80)
        headers = {**self.headers, "content-type": "application/json"}
        with _pinned(self.pid, port, self.workers, timeout_s) as connections:
            for conn in connections.values():
                for body in bodies:
                    conn.request("POST", path, body=json.dumps(body), headers=headers)
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path} answered {response.status} while warming")


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
        with _pinned(server.pid, port, workers, ready_timeout_s):
            pass  # every worker serves
        ready_s = round(time.monotonic() - started, 1)
        with bench_key(url, ["search", "ask", "sql"]) as headers:
            yield ServedApi(base, headers, url, server.pid, ready_s, workers)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # still starting, or hung: do not leave it behind
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextlib.contextmanager
def _pinned(
    server_pid: int, port: int, workers: int, timeout_s: float
) -> Iterator[dict[int, http.client.HTTPConnection]]:
    """A keep-alive connection to each worker process, by its pid. A worker takes its turns
    at the shared listening socket once its start-up is done (`serving.launch`), and until
    then the others take every connection; each connection stays open until all workers
    hold one, so that the worker holding one lets the next go to another."""
    pinned: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(pinned) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {len(pinned)} of {workers} workers served in {timeout_s} s"
                )
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/healthz")
            conn.getresponse().read()  # answered: a worker holds the connection
            assert conn.sock is not None
            pid = (
                server_pid
                if workers == 1
                else _holder(server_pid, port, conn.sock.getsockname()[1])
            )
            if pid in pinned:
                conn.close()
                time.sleep(0.2)
            else:
                pinned[pid] = conn
        yield pinned
    finally:
        for conn in pinned.values():
            conn.close()


def _holder(server_pid: int, port: int, client_port: int) -> int:
    """The worker process holding the connection from `client_port`."""
    for child in psutil.Process(server_pid).children():
        for c in child.net_connections(kind="tcp"):
            if c.laddr.port == port and c.raddr and c.raddr.port == client_port:
                return child.pid
    raise RuntimeError(f"no worker holds the connection from port {client_port}")


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
