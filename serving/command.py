"""How the API is started as a server: the uvicorn command line `manualqa up`, the
benchmarks and the tests run (the container's CMD says the same with WEB_CONCURRENCY)."""

from __future__ import annotations

import sys

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


def uvicorn_command(
    host: str, port: int, workers: int, graceful_s: int = GRACEFUL_SHUTDOWN_S
) -> list[str]:
    """`workers` processes sharing one listening socket; each opens the published index
    itself and follows its new versions. On SIGTERM uvicorn stops accepting, lets the
    requests in flight finish (up to `graceful_s`), then the workers exit."""
    return [
        sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--timeout-graceful-shutdown", str(graceful_s),
        "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_S),
        "--timeout-keep-alive", str(KEEP_ALIVE_S),
    ]  # fmt: skip
