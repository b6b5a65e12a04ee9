"""The API's server process: `python -m serving.launch --host H --port P --workers N`.

uvicorn, with one change when it runs several workers: how they take connections from the
listening socket they share. uvicorn's event loop accepts every connection waiting there
at once, so a client that opens its keep-alive connections together got all of them on one
worker while the other idled; a listening socket per worker (`SO_REUSEPORT`) spread them by
a hash of their addresses, 5/3 or worse for 8 connections three times in four, and the
busier worker's requests waited longest (both measured in bench/RESULTS.md). Here each
worker's event loop takes one connection per turn of the loop: every worker is woken for
a waiting connection, a worker holding open connections waits a little before it takes one
(`OneByOneServer`), and the one holding fewer, or free first, takes it. uvicorn's
supervisor is kept for the rest (health pings, restarts, signals); the parent only holds
the listening socket.

One worker needs none of this and runs plain uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from typing import Any

import uvicorn
import uvloop
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

APP = "serving.app:create_app"
GRACEFUL_SHUTDOWN_S = 20  # on SIGTERM, requests in flight get this long to finish
# uvicorn's parent kills and restarts a worker that does not answer its ping in time; a
# worker importing torch and loading the embedding model on a busy machine can take longer
# than uvicorn's 5 s default, and was then restarted over and over, never serving.
WORKER_HEALTHCHECK_S = 60
# An idle keep-alive connection is closed after this long. It must outlast the idle timeout
# of whatever sits in front (load balancers commonly keep 60 s) and a busy client's pause
# between two requests: uvicorn's 5 s default closed connections under clients that were
# just sending their next request, which then failed (bench.load, loaded machine).
KEEP_ALIVE_S = 75

log = logging.getLogger("uvicorn.error")


def api_command(
    host: str, port: int, workers: int, graceful_s: int = GRACEFUL_SHUTDOWN_S
) -> list[str]:
    """The command line that `manualqa up`, the benchmarks and the tests start the API with.
    Each worker opens the published index itself and follows its new versions. On SIGTERM
    the server stops accepting, lets the requests in flight finish (up to `graceful_s`),
    then the workers exit."""
    return [
        sys.executable, "-m", __name__, "--host", host, "--port", str(port),
        "--workers", str(workers), "--timeout-graceful-shutdown", str(graceful_s),
    ]  # fmt: skip


def _listening(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on (host, port), shared by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


class OneByOneServer:
    """Accepts from a shared listening socket one connection per turn of the event loop,
    in place of the loop's own server (the `close` / `wait_closed` uvicorn calls).

    Every worker's loop is woken for a waiting connection and the quickest takes it; left at
    that, one worker took 8 connections opened together 27 times in 30. So a worker holding
    open connections lets the others go first: it waits `YIELD_S` for each it holds (up to
    `YIELD_MAX`) before it takes one, and the worker holding the fewest takes it.
    """

    YIELD_S = 0.0005
    YIELD_MAX = 32

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, factory: Any, ssl: Any
    ) -> None:
        self._loop, self._sock, self._factory, self._ssl = loop, sock, factory, ssl
        self._pending: set[asyncio.Task[Any]] = set()
        self._held: set[Any] = set()  # uvicorn's open connections, once one is made
        self._closed = False
        self._waiting: asyncio.TimerHandle | None = None
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._on_waiting)

    def _on_waiting(self) -> None:
        """A connection waits: take it now, or after the others had their turn."""
        held = min(len(self._held), self.YIELD_MAX)
        if not held:
            self._accept_one()
            return
        self._loop.remove_reader(self._sock.fileno())
        self._waiting = self._loop.call_later(held * self.YIELD_S, self._after_yield)

    def _after_yield(self) -> None:
        self._waiting = None
        if self._closed:
            return
        self._accept_one()
        self._loop.add_reader(self._sock.fileno(), self._on_waiting)

    def _accept_one(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:  # out of file descriptors, say: the connection waits
            log.error("cannot accept a connection: %s", exc)
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = self._loop.create_task(self._connect(conn))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            _, protocol = await self._loop.connect_accepted_socket(
                self._factory, conn, ssl=self._ssl
            )
        except OSError as exc:  # the client went away, or its TLS handshake failed
            log.debug("connection dropped before it was served: %s", exc)
            conn.close()
            return
        self._held = getattr(protocol, "connections", self._held)

    def close(self) -> None:
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending)


class OneByOneLoop(uvloop.Loop):  # type: ignore[misc]  # uvloop's stubs
    """uvloop's loop (what uvicorn's `auto` picks), serving a shared listening socket with
    a `OneByOneServer`: the event loop of each of several workers."""

    async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
        shared = kwargs.get("sock")
        if shared is not None and shared.family in (socket.AF_INET, socket.AF_INET6):
            return OneByOneServer(self, shared, protocol_factory, kwargs.get("ssl"))
        return await super().create_server(protocol_factory, *args, **kwargs)


def config(args: argparse.Namespace) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop=f"{__name__}:OneByOneLoop" if args.workers > 1 else "auto",
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
        timeout_worker_healthcheck=args.timeout_worker_healthcheck,
        timeout_keep_alive=args.timeout_keep_alive,
        log_level=args.log_level,
        access_log=args.access_log,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m serving.launch", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=GRACEFUL_SHUTDOWN_S)
    parser.add_argument("--timeout-worker-healthcheck", type=int, default=WORKER_HEALTHCHECK_S)
    parser.add_argument("--timeout-keep-alive", type=int, default=KEEP_ALIVE_S)
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--forwarded-allow-ips", default=None)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = config(args)
    if args.workers == 1:
        server = uvicorn.Server(cfg)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    try:
        address = _listening(args.host, args.port, cfg.backlog)
    except OSError as exc:
        log.error("cannot bind %s:%s: %s", args.host, args.port, exc)
        sys.exit(STARTUP_FAILURE)
    log.info(
        "%d workers on http://%s:%d, one connection a turn each", args.workers, args.host, args.port
    )
    Multiprocess(cfg, sockets=[address]).run()


if __name__ == "__main__":
    main()
