"""A lean HTTP/1.1 keep-alive client for the load benchmarks.

The load generator shares the machine's cores with the server it measures. httpx spends
about 1.2 ms of CPU per request on this machine, a fifth of what the API itself spends, so
at concurrency 8 it took a core's share the server would otherwise have had. This client
writes a ready-made request and reads the status line, the headers and a `Content-Length`
(or chunked) body: a few tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class ClientError(Exception):
    """The connection failed or the server sent something that is not HTTP/1.1."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection to `base_url`, reopened when the server closes it."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float = 60) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only plain http:// URLs are supported, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: object) -> Reply:
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            return await asyncio.wait_for(self._exchange(head.encode() + body), self.timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise ClientError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, request: bytes) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, *_ = lines[0].split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(int(status), body)

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers are sent
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def percentiles(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 of `seconds`, in milliseconds (None when there are none)."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}

    def at(q: float) -> float:
        return round(ordered[int(q * (len(ordered) - 1))] * 1000, 2)

    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
    }


@dataclass
class Tally:
    """What one load run saw: latencies of the answered requests, failures, and the index
    versions the replies named."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0  # the load generator's own CPU time

    def report(self) -> dict[str, object]:
        ok, sent = len(self.latencies), len(self.latencies) + len(self.errors)
        cpu_ms = round(self.client_cpu_s / sent * 1000, 3) if sent else None
        return {
            "requests": sent,
            "ok": ok,
            "errors": len(self.errors),
            "error_samples": sorted(set(self.errors))[:5],
            "requests_per_s": round(ok / self.wall_s, 1) if self.wall_s else None,
            "client_cpu_ms_per_request": cpu_ms,
            **percentiles(self.latencies),
        }


async def drive(
    base_url: str,
    headers: dict[str, str],
    path: str,
    body: Callable[[str], object],
    questions: Sequence[str],
    concurrency: int,
    stop: Callable[[int], bool],
) -> Tally:
    """`concurrency` keep-alive clients POST `body(question)` to `path`, each sending the
    next of `questions` (round robin) as soon as its last request was answered, until
    `stop(requests sent so far)` is true."""
    tally = Tally()
    sent = 0

    async def client_loop(connection: Connection) -> None:
        nonlocal sent
        while not stop(sent):
            question = questions[sent % len(questions)]
            sent += 1
            started = time.perf_counter()
            try:
                response = await connection.post_json(path, body(question))
            except ClientError as exc:
                tally.errors.append(str(exc)[:200])
                continue
            if response.status != 200:
                tally.errors.append(f"{response.status}: {response.body[:200]!r}")
                continue
            tally.latencies.append(time.perf_counter() - started)
            reply = response.json()
            version = reply.get("index_version") if isinstance(reply, dict) else None
            if version:
                tally.versions.add(version)

    connections = [Connection(base_url, headers) for _ in range(concurrency)]
    started, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(client_loop(c) for c in connections))
    finally:
        for c in connections:
            await c.close()
    tally.wall_s = time.perf_counter() - started
    tally.client_cpu_s = time.process_time() - cpu
    return tally
