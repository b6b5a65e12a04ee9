"""`/v1/search` over HTTP on synthetic indexes of 10k-500k chunks, per index backend.

    python -m bench.scale --sizes 10000 100000 --backends edge postgres

The points are made from the real chunks of a corpus: each synthetic chunk copies a real
chunk's text (with a variant marker) and a perturbed copy of its vector (cosine ~0.9 to
the original), so no large embedding run is needed. For each size and backend the index
is built through the backend's own writer, the API is started on it, and the golden
questions are sent at concurrency 1, 8 and 32 for the top 8 (the most /v1/search returns),
after every worker has embedded each of them once; with `--cold` every request's text is
new, so each request also embeds its query. A numpy brute-force dense top 8 over the same
vectors runs in this process as the baseline. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
from pydantic import SecretStr

from bench.client import drive, percentiles
from bench.serve import ServedApi, served_api
from evals.golden import load_golden_set
from manualqa.chunking import chunk_manual, embedding_text
from manualqa.config import Settings, get_settings
from manualqa.documents import Chunk, ManualRef
from manualqa.extraction import extract_manual
from manualqa.index import open_index
from manualqa.index.base import IndexPoint, IndexQuery, sparse_from_token_ids
from manualqa.llm.local_embedder import shared_minilm
from manualqa.sources import FolderConnector
from manualqa.tokens import default_token_counter
from sql import db
from sql.embedded import stop_embedded_postgres

CHUNKS_PER_MANUAL = 200
TOP_K = 8  # the most /v1/search returns
NOISE = 0.02  # per-dimension noise on unit vectors: cosine ~0.9 to the original


def real_chunks(folder: Path, settings: Settings) -> list[tuple[Chunk, ManualRef, np.ndarray]]:
    counter = default_token_counter()
    out = []
    for ref in FolderConnector(folder).list_all():
        doc = extract_manual(Path(ref.uri).read_bytes(), ref)
        chunks = chunk_manual(doc, counter, settings.chunking)
        vectors = shared_minilm().encode([embedding_text(c, ref.title) for c in chunks])
        out += [(c, ref, v) for c, v in zip(chunks, vectors, strict=True)]
    return out


def synthetic_manuals(real, size: int, seed: int = 0):
    """(manual key, points) for `size` points made from the real chunks."""
    rng = np.random.default_rng(seed)
    counter = default_token_counter()
    sparse = [sparse_from_token_ids(counter.ids(embedding_text(c, r.title))) for c, r, _ in real]
    for start in range(0, size, CHUNKS_PER_MANUAL):
        m = start // CHUNKS_PER_MANUAL
        points = []
        for i in range(start, min(start + CHUNKS_PER_MANUAL, size)):
            chunk, ref, vector = real[i % len(real)]
            key = f"synthetic-{m:05d}"
            noisy = vector + rng.normal(scale=NOISE, size=vector.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy)
            copy = replace(chunk, manual_key=key, ordinal=i - start, text=f"{chunk.text} [v{i}]")
            points.append(IndexPoint(copy, replace(ref, key=key), noisy, sparse[i % len(real)]))
        yield f"synthetic-{m:05d}", points


def numpy_baseline(vectors: np.ndarray, queries: np.ndarray, top_k: int = 8) -> dict:
    samples = []
    for q in queries:
        started = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, top_k)[:top_k]
        top[np.argsort(-scores[top])]
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def index_search(settings: Settings, questions: list[str], vectors: np.ndarray) -> dict:
    """The backend's own search, hybrid and dense, in this process (no HTTP, no embedding)."""
    counter = default_token_counter()
    started = time.perf_counter()
    reader = open_index(settings).reader()
    open_s = round(time.perf_counter() - started, 1)
    out: dict[str, object] = {"open_s": open_s}
    try:
        for mode in ("hybrid", "dense"):
            samples = []
            for _ in range(3):
                for q, v in zip(questions, vectors, strict=True):
                    sparse = sparse_from_token_ids(counter.ids(q)) if mode == "hybrid" else None
                    query = IndexQuery(q, v, sparse, TOP_K)
                    started = time.perf_counter()
                    reader.search(query)
                    samples.append(time.perf_counter() - started)
            out[mode] = percentiles(samples)
    finally:
        reader.close()
    return out


async def load(api: ServedApi, questions: list[str], concurrency: int, requests: int) -> dict:
    tally = await drive(
        api.base_url,
        api.headers,
        "/v1/search",
        lambda q: {"query": q, "top_k": TOP_K},
        questions,
        concurrency,
        lambda sent: sent >= requests,
    )
    return {"concurrency": concurrency, **tally.report()}


def _rss_mb(pid: int) -> float:
    """Resident memory of the API: the uvicorn process and its workers."""
    root = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [root, *root.children()]) / 2**20, 1)


def serve_and_measure(
    settings: Settings,
    env: dict[str, str],
    questions: list[str],
    requests: int,
    workers: int,
    cold: bool,
) -> dict:
    """Load at concurrency 1, 8 and 32. Warm: every worker has embedded every question
    first (each worker caches its query embeddings), so a request is the search and the
    serving around it. Cold: every request's text is new (the question with a request
    number), so each also embeds its query."""
    with served_api(settings, workers, extra_env=env, ready_timeout_s=1800) as api:
        if not cold:
            api.warm("/v1/search", [{"query": q, "top_k": TOP_K} for q in questions])
        runs = []
        for c in (1, 8, 32):
            sent = (
                [f"{questions[i % len(questions)]} ({c}.{i})" for i in range(requests)]
                if cold
                else questions
            )
            runs.append(asyncio.run(load(api, sent, c, requests)))
        return {"ready_s": api.ready_s, "api_rss_mb": _rss_mb(api.pid), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    parser.add_argument("--backends", nargs="+", default=["edge", "postgres"])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=400, help="per concurrency level")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--cold", action="store_true", help="a new query text every request: no cached embeddings"
    )
    args = parser.parse_args()
    settings = get_settings()
    corpus = args.corpus or settings.resolve(settings.sources.folder.path)
    questions = [q.question for q in load_golden_set(settings.resolve(settings.evals.golden_set))]
    real = real_chunks(corpus, settings)
    query_vectors = shared_minilm().encode(questions)
    report: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "corpus": str(corpus),
        "real_chunks": len(real),
        "results": [],
    }
    with tempfile.TemporaryDirectory(prefix="manualqa-scale-") as tmp:
        data_dir = Path(tmp)
        base_settings = Settings(data_dir=data_dir)
        url = db.resolve_database_url(base_settings)  # embedded server under the temp dir
        try:
            db.migrate(url)
            _measure_sizes(args, base_settings, url, real, questions, query_vectors, report)
        finally:
            stop_embedded_postgres(base_settings.state_path(base_settings.postgres.data_dir))
    print(json.dumps(report, indent=1))


def _measure_sizes(
    args: argparse.Namespace,
    base_settings: Settings,
    url: str,
    real: list,
    questions: list[str],
    query_vectors: np.ndarray,
    report: dict,
) -> None:
    data_dir = base_settings.data_dir
    for size in args.sizes:
        vectors = np.vstack(
            [np.vstack([p.dense for p in pts]) for _, pts in synthetic_manuals(real, size)]
        )
        baseline = numpy_baseline(vectors, query_vectors)
        del vectors
        for backend in args.backends:
            collection = f"scale_{size}"
            index_settings = base_settings.model_copy(
                update={
                    "index": base_settings.index.model_copy(
                        update={
                            "backend": backend,
                            "path": Path(f"index-{size}"),
                            "collection": collection,
                        }
                    ),
                    "database_url": SecretStr(url),
                }
            )
            writer = open_index(index_settings).writer()
            started = time.perf_counter()
            for key, points in synthetic_manuals(real, size):
                writer.replace_manual(key, points)
            build_s = round(time.perf_counter() - started, 1)
            writer.close()
            in_process = index_search(index_settings, questions, query_vectors)
            env = {
                "MANUALQA_DATA_DIR": str(data_dir),
                "MANUALQA_INDEX__BACKEND": backend,
                "MANUALQA_INDEX__PATH": f"index-{size}",
                "MANUALQA_INDEX__COLLECTION": collection,
            }
            measured = serve_and_measure(
                index_settings, env, questions, args.requests, args.workers, args.cold
            )
            report["results"].append(  # type: ignore[attr-defined]
                {
                    "size": size,
                    "backend": backend,
                    "workers": args.workers,
                    "queries": "cold" if args.cold else "warm",
                    "build_s": build_s,
                    "numpy_dense_top8": baseline,
                    "index_in_process": in_process,
                    **measured,
                }
            )
            print(json.dumps(report["results"][-1]), file=sys.stderr)


if __name__ == "__main__":
    main()
