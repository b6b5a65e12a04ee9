"""The API as `manualqa up` starts it (`serving.launch.api_command`): two uvicorn
workers on one published Edge index answer alike and both switch to a new publication;
connections opened at once are shared out; on SIGTERM a request in flight still gets its
answer and every process exits."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest

from manual_assets_tests.serving.index_copies import (
    MANUAL,
    PRODUCT,
    demo_points,
    publication,
    publication_of,
)
from manual_assets_tests.serving.live import free_port
from manualqa.config import PROJECT_ROOT
from manualqa.index.base import EmbeddingSpace
from manualqa.index.edge import EdgeIndex
from serving.launch import api_command

pytestmark = pytest.mark.slow

WORKERS = 2
START_TIMEOUT_S = 480  # two workers loading the model on a busy 2-core machine
QUESTION = "How often should I replace the HEPA filter?"


@dataclass
class Served:
    master: subprocess.Popen[bytes]
    port: int
    index: EdgeIndex
    headers: dict[str, str]

    def workers(self) -> list[psutil.Process]:
        """The worker processes (not multiprocessing's resource tracker)."""
        children = psutil.Process(self.master.pid).children()
        return [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]

    def worker_of(self, conn: http.client.HTTPConnection) -> int:
        """The worker process that accepted this keep-alive connection."""
        assert conn.sock is not None
        client_port = conn.sock.getsockname()[1]
        for worker in self.workers():
            for c in worker.net_connections(kind="tcp"):
                if c.raddr and c.raddr.port == client_port and c.laddr.port == self.port:
                    return worker.pid
        raise AssertionError(f"no worker holds the connection from port {client_port}")


@pytest.fixture
def served(demo_pipeline, api_key, tmp_path) -> Iterator[Served]:
    """The demo index copied to an Edge index of the test's own, served by 2 workers."""
    settings = demo_pipeline.settings
    space = EmbeddingSpace(settings.embedding.model, settings.embedding.dimension)
    index = EdgeIndex(tmp_path / "index", space)
    writer = index.writer()
    for key, points in demo_points(settings, demo_pipeline.keys).items():
        writer.replace_manual(key, points)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANUALQA_")}
    env |= {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "MANUALQA_DATA_DIR": str(settings.data_dir),
        "MANUALQA_SOURCES__FOLDER__PATH": str(settings.sources.folder.path),
        "MANUALQA_INDEX__PATH": str(index.root),
        "MANUALQA_SERVING__RELOAD_INTERVAL_S": "0.2",
        "MANUALQA_SERVING__RATE_LIMITS__PER_KEY": "100000/minute",
        "MANUALQA_SERVING__RATE_LIMITS__PER_IP": "100000/minute",
    }
    port = free_port()
    master = subprocess.Popen(
        [*api_command("127.0.0.1", port, WORKERS), "--log-level", "warning"],
        cwd=PROJECT_ROOT,
        env=env,
        start_new_session=True,
    )
    served = Served(master, port, index, api_key.headers)
    try:
        _wait_ready(served)
        yield served
    finally:
        if master.poll() is None:
            os.killpg(master.pid, signal.SIGKILL)
        master.wait(30)


def _wait_ready(served: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert served.master.poll() is None, "the API exited before it was ready"
        if len(served.workers()) == WORKERS:
            try:
                if _get(_connect(served), "/readyz")[0] == 200:
                    return
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError(f"the API was not ready within {START_TIMEOUT_S} s")


def _connect(served: Served) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    conn.connect()
    return conn


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, dict]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _search(served: Served, conn: http.client.HTTPConnection) -> dict:
    body = json.dumps({"query": QUESTION, "top_k": 8, "product": PRODUCT})
    headers = {**served.headers, "content-type": "application/json"}
    conn.request("POST", "/v1/search", body=body, headers=headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    assert response.status == 200, payload
    return payload


def _one_connection_per_worker(served: Served) -> dict[int, http.client.HTTPConnection]:
    """Keep-alive connections until each worker has accepted one of them."""
    pinned: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + START_TIMEOUT_S  # a worker accepts once it has started
    while time.monotonic() < deadline:
        conn = _connect(served)
        assert _get(conn, "/healthz")[0] == 200
        pid = served.worker_of(conn)
        if pid in pinned:
            conn.close()
        else:
            pinned[pid] = conn
        if len(pinned) == WORKERS:
            return pinned
        time.sleep(0.05)
    raise AssertionError(f"only {len(pinned)} of {WORKERS} workers accepted a connection")


def _connections_opened_at_once_are_shared_out(served: Served) -> None:
    """The workers take turns at the listening socket they share (`serving.launch`): a
    worker holding more connections lets the other take the next. Left to the quickest
    worker, or to a hash of the addresses, 16 connections opened together were split unevenly
    or all taken by one. The workers are stopped while 16 connections are opened, so that all
    16 wait; then neither may take more than 11 (a fair coin gives 12 or more 8% of the time)."""
    workers = served.workers()
    for worker in workers:
        worker.suspend()
    try:
        connections = [_connect(served) for _ in range(16)]  # the kernel completes them
    finally:
        for worker in workers:
            worker.resume()
    try:
        for conn in connections:
            assert _get(conn, "/healthz")[0] == 200
        holders = Counter(served.worker_of(conn) for conn in connections)
        assert set(holders) == {w.pid for w in served.workers()}
        assert max(holders.values()) <= 11, holders
    finally:
        for conn in connections:
            conn.close()


def test_two_workers_answer_alike_and_both_switch_to_a_new_publication(served, demo_pipeline):
    # First every worker serves (each has accepted a connection): a worker still starting
    # up takes no turns at the socket yet, and connections opened before then all reach the
    # other.
    pinned = _one_connection_per_worker(served)
    _connections_opened_at_once_are_shared_out(served)
    assert set(pinned) == {w.pid for w in served.workers()}
    # Each worker serves its own copy of the published index.
    readers = {int(f.name.split("-", 1)[0]) for f in (served.index.root / "readers").iterdir()}
    assert readers == set(pinned)

    before = {pid: _search(served, conn) for pid, conn in pinned.items()}
    assert len({json.dumps(b["results"]) for b in before.values()}) == 1, "workers disagree"
    old_version = {b["index_version"] for b in before.values()}
    assert len(old_version) == 1

    manual = demo_points(demo_pipeline.settings, [MANUAL])[MANUAL]
    new = publication(manual, 1)
    publication_n = publication_of([publication(manual, 0), new])
    served.index.writer().replace_manual(MANUAL, new)

    deadline = time.monotonic() + 30
    after: dict[int, dict] = {}
    while len(after) < WORKERS:
        assert time.monotonic() < deadline, f"only workers {sorted(after)} switched in 30 s"
        for pid, conn in pinned.items():
            body = _search(served, conn)
            if body["index_version"] not in old_version:
                after[pid] = body
        time.sleep(0.1)
    for body in after.values():
        assert {publication_n[r["chunk_id"]] for r in body["results"]} == {1}
    assert len({json.dumps(b["results"]) for b in after.values()}) == 1, "workers disagree"
    assert len({b["index_version"] for b in after.values()}) == 1


def test_sigterm_lets_a_request_in_flight_finish(served):
    """The request's headers and half its body are in when SIGTERM arrives; the rest
    follows, and the answer still comes, before every process exits on its own."""
    workers = served.workers()
    body = json.dumps({"question": QUESTION, "product": PRODUCT}).encode()
    auth = served.headers["Authorization"]
    head = (
        f"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        sock.sendall(head + body[:10])
        time.sleep(1.0)  # the worker has the request and waits for the rest of the body
        os.kill(served.master.pid, signal.SIGTERM)  # as `manualqa up` and a service manager do
        time.sleep(1.5)  # the workers are shutting down
        assert served.master.poll() is None, "the server exited with a request in flight"
        sock.sendall(body[10:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status, _, rest = response.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", response[:300]
    headers, _, payload = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()  # the last answer on this connection
    assert "answer" in json.loads(payload)
    assert served.master.wait(30) == 0
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
