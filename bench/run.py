"""Throughput and latency figures, each next to a baseline measured in the same run.

    python -m bench.run                 # needs a materialized index (make materialize) for search
    python -m bench.run --corpus ../shared/corpus

Prints one JSON document. Ratios compare our code path with the plainest way to do the
same work, so they stay meaningful on noisy machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx
from pypdf import PdfReader

from bench.serve import served_api
from evals.golden import load_golden_set
from manualqa.chunking import chunk_manual
from manualqa.config import get_settings
from manualqa.extraction import extract_manual
from manualqa.llm import LLMClient
from manualqa.llm.local_embedder import shared_minilm
from manualqa.llm.offline import MODEL_BATCH
from manualqa.retrieval import open_retriever
from manualqa.sources import FolderConnector
from manualqa.tokens import default_token_counter


def bench_extraction(folder: Path) -> dict[str, float]:
    refs = [r for r in FolderConnector(folder).list_all() if r.media_type == "application/pdf"]
    blobs = [(r, Path(r.uri).read_bytes()) for r in refs]
    started = time.perf_counter()
    pages = 0
    for ref, data in blobs:
        pages += extract_manual(data, ref).page_count or 0
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for ref, _ in blobs:
        for page in PdfReader(ref.uri).pages:
            page.extract_text()
    plain = time.perf_counter() - started
    return {
        "pdfs": len(blobs),
        "pages": pages,
        "pages_per_s": round(pages / ours, 1),
        "baseline_plain_pypdf_pages_per_s": round(pages / plain, 1),
        "ratio_vs_baseline": round(plain / ours, 3),
    }


def bench_embedding(folder: Path, llm: LLMClient) -> dict[str, float]:
    settings = get_settings()
    counter = default_token_counter()
    texts = []
    for ref in FolderConnector(folder).list_all():
        doc = extract_manual(Path(ref.uri).read_bytes(), ref)
        texts += [c.text for c in chunk_manual(doc, counter, settings.chunking)]
    texts = texts[:512]
    llm.embed(texts[:8])
    started = time.perf_counter()
    llm.embed(texts)
    ours = time.perf_counter() - started
    model = shared_minilm()
    started = time.perf_counter()
    model.encode(texts, batch_size=MODEL_BATCH)  # the same passes the provider runs
    direct = time.perf_counter() - started
    return {
        "chunks": len(texts),
        "chunks_per_s": round(len(texts) / ours, 1),
        "baseline_direct_sentence_transformers_chunks_per_s": round(len(texts) / direct, 1),
        "ratio_vs_baseline": round(direct / ours, 3),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
    }


def bench_retrieval(llm: LLMClient, questions: list[str], rounds: int) -> dict[str, object]:
    retriever, reader = open_retriever(get_settings(), llm)
    out: dict[str, object] = {"points": reader.count()}
    for mode in ("dense", "hybrid"):
        retriever.mode = mode  # type: ignore[assignment]
        samples = []
        for _ in range(rounds):
            for q in questions:
                started = time.perf_counter()
                retriever.search(q, 5)
                samples.append(time.perf_counter() - started)
        out[mode] = _percentiles(samples)
    reader.close()
    return out


def bench_http(questions: list[str], rounds: int) -> dict[str, object]:
    with (
        served_api(get_settings()) as api,
        httpx.Client(base_url=api.base_url, timeout=30) as client,
    ):
        health = []
        for _ in range(50):
            started = time.perf_counter()
            client.get("/healthz")
            health.append(time.perf_counter() - started)
        search: list[float] = []
        ask: list[list[float]] = []  # per round: the first one meets every question anew
        for _ in range(rounds):
            for q in questions:
                started = time.perf_counter()
                response = client.post(
                    "/v1/search", json={"query": q, "top_k": 5}, headers=api.headers
                )
                search.append(time.perf_counter() - started)
                response.raise_for_status()
            ask.append([])
            for q in questions:
                started = time.perf_counter()
                response = client.post("/v1/ask", json={"question": q}, headers=api.headers)
                ask[-1].append(time.perf_counter() - started)
                response.raise_for_status()
    return {
        "v1_search": _percentiles(search),
        "v1_ask_first_round": _percentiles(ask[0]),
        **(
            {"v1_ask_later_rounds": _percentiles([s for r in ask[1:] for s in r])}
            if len(ask) > 1
            else {}
        ),
        "baseline_healthz": _percentiles(health),
        "requests": len(search) + sum(len(r) for r in ask),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="folder of manuals to extract")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    corpus = args.corpus or settings.resolve(settings.sources.folder.path)
    llm = LLMClient(settings.llm, settings.embedding)
    questions = [q.question for q in load_golden_set(settings.resolve(settings.evals.golden_set))]
    report = {
        "corpus": str(corpus),
        "extraction": bench_extraction(corpus),
        "embedding": bench_embedding(corpus, llm),
        "retrieval_in_process": bench_retrieval(llm, questions, args.rounds),
        "http": bench_http(questions, args.rounds),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
