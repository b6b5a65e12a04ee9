"""The API's server process: `python -m serving.launch --host H --port P --workers N`.

uvicorn, with one change when it runs several workers: each worker listens on a socket of
its own, all bound to the same address with `SO_REUSEPORT`, and the kernel spreads new
connections over them. uvicorn's own supervisor hands every worker one shared listening
socket, and an event loop that wakes on it accepts every connection waiting there: a client
that opens its keep-alive connections at once got all of them on one worker while the other
idled (measured in bench/RESULTS.md). uvicorn's supervisor is kept for the rest (health
pings, restarts, signals); the parent only holds the address, bound but not listening, and
each worker's event loop opens its own listening socket where uvicorn would listen on the
shared one.

One worker needs none of this and runs plain uvicorn.
"""

from __future__ import annotations

import argparse
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


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class OwnSocketLoop(uvloop.Loop):  # type: ignore[misc]  # uvloop's stubs
    """uvloop's loop (what uvicorn's `auto` picks), listening on a socket of its own where
    it is handed a shared one: the event loop of each of several workers."""

    async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
        shared = kwargs.get("sock")
        if shared is not None and shared.family in (socket.AF_INET, socket.AF_INET6):
            host, port = shared.getsockname()[:2]
            kwargs["sock"] = _bound(host, port)
        return await super().create_server(protocol_factory, *args, **kwargs)


def config(args: argparse.Namespace) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop=f"{__name__}:OwnSocketLoop" if args.workers > 1 else "auto",
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
        address = _bound(args.host, args.port)  # held by the parent: the port is ours
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("cannot bind %s:%s: %s", args.host, args.port, exc)
        sys.exit(STARTUP_FAILURE)
    logging.getLogger("uvicorn.error").info(
        "%d workers on http://%s:%d, a listening socket each", args.workers, args.host, args.port
    )
    Multiprocess(cfg, sockets=[address]).run()


if __name__ == "__main__":
    main()
