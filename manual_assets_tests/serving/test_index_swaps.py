"""Zero-downtime index updates on every backend: while new versions of one manual are
published, /v1/search and /v1/ask, called concurrently over real HTTP, keep answering,
each response holds that manual's points of one version only and reports that version, and
once a response showed a version no later request gets an older one.

The demo index is copied into a fresh index of each backend (the pipeline's own chunks and
vectors); each publication gives the manual's chunks new ordinals, so the same passages
come back under new point ids and every hit says which publication it came from.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from qdrant_client import QdrantClient

from evals.golden import load_golden_set
from manual_assets_tests.serving.index_copies import (
    MANUAL,
    PRODUCT,
    demo_points,
    publication,
    publication_of,
)
from manual_assets_tests.serving.live import serve_in_thread
from manualqa.config import PROJECT_ROOT, Settings
from manualqa.index import open_index
from manualqa.index.base import EmbeddingSpace, VectorIndex
from manualqa.index.qdrant_server import QdrantServerIndex
from serving.app import create_app

EPOCHS = 3  # the copied version, then two publications during the load
TOP_K = 8
QUESTIONS = [
    q.question
    for q in load_golden_set(PROJECT_ROOT / "evals" / "golden_set.yaml")
    if q.manual_key == MANUAL and q.answerable
][:12]


def _backend(kind: str, settings: Settings, root: Path) -> tuple[Settings, VectorIndex, bool]:
    """Settings for a fresh index of `kind`, the index, and whether the app must be handed
    the index (qdrant-client's local mode serves one client per folder, so the writer and
    the API share it; a Qdrant server is reached by URL from both)."""
    if kind == "edge":
        edge = settings.index.model_copy(update={"path": root / "edge"})
        configured = settings.model_copy(update={"index": edge})
        return configured, open_index(configured), False
    if kind == "postgres":
        tables = settings.index.model_copy(
            update={"backend": "postgres", "collection": f"swap_{uuid.uuid4().hex[:10]}"}
        )
        configured = settings.model_copy(update={"index": tables})
        return configured, open_index(configured), False
    client = QdrantClient(path=str(root / "qdrant"))
    space = EmbeddingSpace(settings.embedding.model, settings.embedding.dimension)
    index = QdrantServerIndex(lambda: client, settings.index.collection, space, shared=True)
    return settings, index, True


@dataclass
class Seen:
    """One response: when it was asked and answered, and what it held."""

    path: str
    started: float
    ended: float
    status: int
    epochs: frozenset[int]  # the publications its hits of MANUAL came from
    hits: int
    other_manuals: int
    version: str | None


def _call(client: httpx.Client, path: str, question: str, epoch_of: dict[str, int]) -> Seen:
    body = (
        {"query": question, "top_k": TOP_K, "product": PRODUCT}
        if path == "/v1/search"
        else {"question": question, "product": PRODUCT}
    )
    started = time.monotonic()
    response = client.post(path, json=body)
    ended = time.monotonic()
    if response.status_code != 200:
        return Seen(path, started, ended, response.status_code, frozenset(), 0, 0, None)
    payload = response.json()
    items = payload["results"] if path == "/v1/search" else payload["citations"]
    ours = [i for i in items if i["manual_id"] == MANUAL]
    return Seen(
        path,
        started,
        ended,
        200,
        frozenset(epoch_of[i["chunk_id"]] for i in ours),
        len(items),
        len(items) - len(ours),
        payload["index_version"],
    )


@pytest.mark.parametrize("kind", ["edge", "qdrant", "postgres"])
def test_searches_and_answers_switch_atomically_while_a_manual_is_published(
    kind, demo_pipeline, api_key, tmp_path
):
    # A slow reload: a version taken from what the process last polled, rather than from
    # the read that found the hits, would trail the hits for seconds on Qdrant and PostgreSQL.
    slow = demo_pipeline.settings.serving.model_copy(update={"reload_interval_s": 4.0})
    base = demo_pipeline.settings.model_copy(update={"serving": slow})
    settings, index, hand_over = _backend(kind, base, tmp_path)
    points = demo_points(settings, demo_pipeline.keys)
    writer = index.writer()
    for key, manual_points in points.items():
        copied = writer.replace_manual(key, manual_points).version
    version_of = {0: copied}  # publication of MANUAL -> the index version that holds it
    epochs = [publication(points[MANUAL], n) for n in range(EPOCHS)]
    epoch_of = publication_of(epochs)
    assert len(epoch_of) == EPOCHS * len(points[MANUAL]) >= EPOCHS * TOP_K
    assert QUESTIONS

    seen: list[Seen] = []
    broken: list[str] = []
    stop = threading.Event()
    app = create_app(settings, index if hand_over else None)
    with serve_in_thread(app) as (host, port):

        def read(path: str, offset: int) -> None:
            with httpx.Client(
                base_url=f"http://{host}:{port}", headers=api_key.headers, timeout=60
            ) as client:
                n = offset
                while not stop.is_set():
                    try:
                        seen.append(_call(client, path, QUESTIONS[n % len(QUESTIONS)], epoch_of))
                    except Exception as exc:  # reported below; the other readers go on
                        broken.append(f"{path}: {type(exc).__name__}: {exc}")
                        return
                    n += 1

        readers = [
            threading.Thread(target=read, args=(path, offset))
            for path, offset in (("/v1/search", 0), ("/v1/search", 5), ("/v1/ask", 0))
        ]
        for thread in readers:
            thread.start()
        try:
            for n in range(1, EPOCHS):
                _wait_for(lambda n=n: _answered_from(seen, n - 1) >= 6, broken)
                published = writer.replace_manual(MANUAL, epochs[n]).version
                version_of[n] = published
            _wait_for(lambda: _answered_from(seen, EPOCHS - 1) >= 6, broken)
        finally:
            stop.set()
            for thread in readers:
                thread.join(60)
        # The version the API reports follows the last publication.
        ready = f"http://{host}:{port}/readyz"
        _wait_for(lambda: httpx.get(ready).json()["index_version"] == published, broken, 10)
    writer.close()

    assert broken == []
    failed = [s for s in seen if s.status != 200]
    assert failed == [], failed[:3]
    mixed = [s for s in seen if len(s.epochs) > 1]
    assert mixed == [], f"responses holding two versions of {MANUAL}: {mixed[:3]}"
    searches = [s for s in seen if s.path == "/v1/search"]
    assert all(s.hits == TOP_K and s.other_manuals == 0 for s in searches)
    assert {e for s in searches for e in s.epochs} == set(range(EPOCHS))
    answers = [s for s in seen if s.path == "/v1/ask" and s.epochs]
    assert answers, "no answer cited the manual"
    # Atomic switch: a request sent after a response from publication n was received
    # never gets an older one.
    for later in seen:
        for earlier in seen:
            if earlier.ended < later.started and earlier.epochs and later.epochs:
                assert min(later.epochs) >= max(earlier.epochs), (earlier, later)
    # The reported version is the one the hits were read from, on every backend.
    versioned = [s for s in seen if s.epochs]
    wrong = [s for s in versioned if s.version != version_of[max(s.epochs)]]
    assert wrong == [], f"{len(wrong)} of {len(versioned)}: {wrong[:3]} ({version_of})"
    # So it never goes back either.
    for later in seen:
        for earlier in seen:
            if earlier.ended < later.started and earlier.version and later.version:
                assert int(later.version) >= int(earlier.version), (earlier, later)


def _answered_from(seen: list[Seen], epoch: int) -> int:
    return sum(1 for s in list(seen) if s.path == "/v1/search" and s.epochs == {epoch})


def _wait_for(condition, broken: list[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert not broken, broken
        assert time.monotonic() < deadline, f"the readers saw no new version in {timeout_s} s"
        time.sleep(0.05)
