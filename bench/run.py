"""Throughput and latency figures, each next to a baseline measured in the same run.

    python -m bench.run                 # needs a materialized index (make materialize) for search
    python -m bench.run --corpus ../shared/corpus
    python -m bench.run --embedding-only   # ingest and query embedding, no index needed
    python -m bench.run --extraction-only --corpus ../shared/corpus

Prints one JSON document. Ratios compare our code path with the plainest way to do the
same work, so they stay meaningful on noisy machines.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import httpx
import numpy as np
from pypdf import PdfReader

from bench.serve import served_api
from evals.golden import load_golden_set
from manualqa.chunking import chunk_manual
from manualqa.config import get_settings
from manualqa.documents import ManualRef
from manualqa.extraction import extract_manual
from manualqa.extraction.pdf import PARALLEL_MIN_PAGES, extract_pdf
from manualqa.llm import LLMClient
from manualqa.llm.local_embedder import shared_minilm
from manualqa.llm.offline import MODEL_BATCH
from manualqa.retrieval import open_retriever
from manualqa.sources import FolderConnector
from manualqa.tokens import default_token_counter


def bench_extraction(folder: Path) -> dict[str, object]:
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
        "long_pdfs_from_both_ends": bench_two_ends(blobs),
    }


def bench_two_ends(blobs: list[tuple[ManualRef, bytes]], rounds: int = 3) -> list[dict]:
    """Each PDF long enough to be extracted from both ends, against one process on the
    same PDF (best of `rounds`, the two alternating)."""
    out: list[dict] = []
    for ref, data in blobs:
        page_count = len(PdfReader(io.BytesIO(data)).pages)
        if page_count < PARALLEL_MIN_PAGES:
            continue
        best = {True: float("inf"), False: float("inf")}
        for _ in range(rounds):
            for two_ends in best:
                started = time.perf_counter()
                extract_pdf(data, ref, two_ends=two_ends)
                best[two_ends] = min(best[two_ends], time.perf_counter() - started)
        out.append(
            {
                "file": ref.file_name,
                "pages": page_count,
                "one_process_s": round(best[False], 2),
                "both_ends_s": round(best[True], 2),
                "speedup": round(best[False] / best[True], 2),
            }
        )
    return out


# all-MiniLM-L6-v2: 6 layers, hidden 384, feed-forward 1536; multiply-adds per token in the
# dense layers (attention scores add a little more with longer inputs, left out).
MINILM_FLOPS_PER_TOKEN = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def matmul_peak_gflops(dtype_name: str, size: int = 2048, repeats: int = 10) -> float:
    """This machine's measured matrix-multiply throughput in `dtype_name` (torch)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def bench_embedding(folder: Path, llm: LLMClient) -> dict[str, float]:
    """Ingest embedding through the platform (LiteLLM -> bf16 batches) against plain
    sentence-transformers fp32 on the same chunks, with the cosine between them."""
    settings = get_settings()
    counter = default_token_counter()
    texts = []
    for ref in FolderConnector(folder).list_all():
        doc = extract_manual(Path(ref.uri).read_bytes(), ref)
        texts += [c.text for c in chunk_manual(doc, counter, settings.chunking)]
    texts = texts[:512]
    tokens = sum(min(n + 2, 256) for n in counter.count_batch(texts))
    model = shared_minilm()
    llm.embed(texts[:8])
    started = time.perf_counter()
    ours = llm.embed(texts)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    plain = model.encode_batch(texts, batch_size=MODEL_BATCH, bf16=False)
    plain_s = time.perf_counter() - started
    cosines = np.sum(ours * plain, axis=1)
    achieved = tokens * MINILM_FLOPS_PER_TOKEN / ours_s / 1e9
    peak = matmul_peak_gflops("bfloat16" if model.bf16 else "float32")
    return {
        "chunks": len(texts),
        "tokens": tokens,
        "bf16": model.bf16,
        "chunks_per_s": round(len(texts) / ours_s, 1),
        "baseline_sentence_transformers_fp32_chunks_per_s": round(len(texts) / plain_s, 1),
        "ratio_vs_baseline": round(plain_s / ours_s, 3),
        "cosine_to_fp32_mean": round(float(cosines.mean()), 6),
        "cosine_to_fp32_min": round(float(cosines.min()), 6),
        "achieved_gflops": round(achieved, 1),
        "matmul_peak_gflops": round(peak, 1),
        "fraction_of_matmul_peak": round(achieved / peak, 3),
    }


def bench_query_embedding(questions: list[str], rounds: int) -> dict[str, object]:
    """One query at a time: ONNX Runtime (our path) against torch fp32, same texts. Each
    round runs every question through one path, then through the other: interleaving them
    call by call would leave torch's OpenMP threads spinning into the ONNX call. Beside the
    wall-clock latency, the CPU time the process spent per query (all its threads): on a
    busy machine the difference is time spent waiting for a core."""
    model = shared_minilm()
    model.encode([questions[0]])  # exports or loads the ONNX model
    model.encode_batch([questions[0]], bf16=False)
    paths = {
        "onnx": lambda q: model.encode([q])[0],
        "baseline_torch_fp32": lambda q: model.encode_batch([q], bf16=False)[0],
    }
    wall: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    vectors: dict[str, dict[str, np.ndarray]] = {name: {} for name in paths}
    for _ in range(rounds):
        for name, embed in paths.items():
            for q in questions:
                started, started_cpu = time.perf_counter(), time.process_time()
                vectors[name][q] = embed(q)
                cpu[name].append(time.process_time() - started_cpu)
                wall[name].append(time.perf_counter() - started)
    cosines = [float(vectors["onnx"][q] @ vectors["baseline_torch_fp32"][q]) for q in questions]
    return {
        "queries": len(wall["onnx"]),
        **{
            name: {**_percentiles(wall[name]), "cpu_p50_ms": _ms(statistics.median(cpu[name]))}
            for name in paths
        },
        "ratio_vs_baseline_p50": round(
            statistics.median(wall["baseline_torch_fp32"]) / statistics.median(wall["onnx"]), 2
        ),
        "cosine_to_torch_fp32_min": round(min(cosines), 6),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": _ms(statistics.median(ordered)),
        "p95_ms": _ms(ordered[int(0.95 * (len(ordered) - 1))]),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


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
    parser.add_argument(
        "--embedding-only", action="store_true", help="only the embedding figures (no index)"
    )
    parser.add_argument("--extraction-only", action="store_true", help="only PDF extraction")
    args = parser.parse_args()
    settings = get_settings()
    corpus = args.corpus or settings.resolve(settings.sources.folder.path)
    if args.extraction_only:
        print(json.dumps({"extraction": bench_extraction(corpus)}, indent=1))
        return
    llm = LLMClient(settings.llm, settings.embedding)
    questions = [q.question for q in load_golden_set(settings.resolve(settings.evals.golden_set))]
    if args.embedding_only:
        embedding = {
            "embedding": bench_embedding(corpus, llm),
            "query_embedding": bench_query_embedding(questions, args.rounds),
        }
        print(json.dumps(embedding, indent=1))
        return
    report = {
        "corpus": str(corpus),
        "extraction": bench_extraction(corpus),
        "embedding": bench_embedding(corpus, llm),
        "query_embedding": bench_query_embedding(questions, args.rounds),
        "retrieval_in_process": bench_retrieval(llm, questions, args.rounds),
        "http": bench_http(questions, args.rounds),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
