"""Load on the served API: latency percentiles, throughput and errors for /v1/search and
/v1/ask at several concurrencies, then the same load while a manual is re-materialized and
the index swapped under it (that phase must have zero failed requests).

    python -m bench.load                                   # the demo index (make materialize)
    MANUALQA_INDEX__BACKEND=postgres python -m bench.load --only-swap   # another backend
    MANUALQA_DATA_DIR=var/shared MANUALQA_SOURCES__FOLDER__PATH=../shared/corpus \\
    MANUALQA_EVALS__GOLDEN_SET=evals/golden_shared_corpus.yaml python -m bench.load

Needs a materialized index for the configured data dir. The load generator (`bench.client`)
runs on the same machine as the server, so on a small machine the figures include its CPU
use too.
Exits 1 when the swap phase had a failed request or saw no new index version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time

from bench.client import Tally, drive
from bench.serve import ServedApi, served_api
from evals.golden import load_golden_set
from manualqa.config import Settings, get_settings

ENDPOINTS = {
    "/v1/search": lambda q: {"query": q, "top_k": 5},
    "/v1/ask": lambda q: {"question": q},
}


async def _load(
    api: ServedApi,
    path: str,
    questions: list[str],
    concurrency: int,
    until: threading.Event | float,
) -> Tally:
    """Load on `path` until `until` (an event set by someone else, or a number of seconds)
    runs out."""
    deadline = time.monotonic() + until if isinstance(until, float) else None

    def stop(_sent: int) -> bool:
        if deadline is not None:
            return time.monotonic() >= deadline
        assert isinstance(until, threading.Event)
        return until.is_set()

    return await drive(
        api.base_url, api.headers, path, ENDPOINTS[path], questions, concurrency, stop
    )


def rematerialize(settings: Settings, key: str) -> None:
    """Run every stage of one manual again, publishing a new index snapshot."""
    import dagster as dg

    from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
    from manual_assets.resources import build_resources

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("manuals", [key])
    result = dg.materialize(
        [*MANUAL_ASSETS, *MANUAL_CHECKS],
        partition_key=key,
        instance=instance,
        resources=build_resources(settings),
    )
    if not result.success:
        raise RuntimeError(f"re-materializing {key} failed")


async def _during_swap(
    api: ServedApi, settings: Settings, questions: list[str], key: str, concurrency: int
) -> dict[str, object]:
    done = threading.Event()
    failure: list[str] = []

    def worker() -> None:
        try:
            rematerialize(settings, key)
            time.sleep(3 * settings.serving.reload_interval_s)  # let every worker switch
        except Exception as exc:  # reported below; the load stops either way
            failure.append(f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    thread = threading.Thread(target=worker, name="rematerialize")
    started = time.perf_counter()
    thread.start()
    tallies = await asyncio.gather(
        *(_load(api, path, questions, concurrency, done) for path in ENDPOINTS)
    )
    thread.join()
    report: dict[str, object] = {
        "manual": key,
        "concurrency_per_endpoint": concurrency,
        "rematerialize_s": round(time.perf_counter() - started, 1),
        "rematerialize_error": failure[0] if failure else None,
    }
    for path, tally in zip(ENDPOINTS, tallies, strict=True):
        report[path] = {**tally.report(), "index_versions_seen": len(tally.versions)}
    return report


async def run(args: argparse.Namespace) -> dict[str, object]:
    settings = get_settings()
    golden = load_golden_set(settings.resolve(settings.evals.golden_set))
    questions = [q.question for q in golden]
    manual = args.manual or next(q.manual_key for q in golden if q.answerable and q.manual_key)
    assert isinstance(manual, str)
    report: dict[str, object] = {
        "data_dir": str(settings.resolve(settings.data_dir)),
        "workers": args.workers,
        "seconds_per_cell": args.seconds,
        "questions": len(questions),
    }
    with served_api(settings, workers=args.workers) as api:
        for path in ENDPOINTS:  # warm every worker's caches and lazy imports
            await _load(api, path, questions, 2 * args.workers, 2.0)
        table = []
        for path in ENDPOINTS if not args.only_swap else ():
            for concurrency in args.concurrency:
                tally = await _load(api, path, questions, concurrency, args.seconds)
                table.append({"endpoint": path, "concurrency": concurrency, **tally.report()})
                print(json.dumps(table[-1]), file=sys.stderr, flush=True)
        report["load"] = table
        report["during_swap"] = await _during_swap(
            api, settings, questions, manual, args.swap_concurrency
        )
    return report


def swap_failed(report: dict[str, object]) -> list[str]:
    swap = report["during_swap"]
    assert isinstance(swap, dict)
    problems = [f"re-materialization failed: {swap['rematerialize_error']}"] * bool(
        swap["rematerialize_error"]
    )
    for path in ENDPOINTS:
        cell = swap[path]
        if cell["errors"]:
            problems.append(f"{path}: {cell['errors']} failed requests during the swap")
        if cell["index_versions_seen"] < 2:
            problems.append(f"{path}: answers never came from the new index version")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint and level")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--swap-concurrency", type=int, default=8)
    parser.add_argument("--manual", default=None, help="the manual to re-materialize")
    parser.add_argument(
        "--only-swap", action="store_true", help="skip the latency table; measure the swap"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=1))
    problems = swap_failed(report)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
