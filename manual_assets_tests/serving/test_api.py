"""The API over the materialized demo index: search, cited answers, validation, readiness."""

import threading
import time

import pytest
from fastapi.testclient import TestClient

from evals.golden import load_golden_set
from manualqa.config import PROJECT_ROOT
from serving.app import create_app

GOLDEN = load_golden_set(PROJECT_ROOT / "evals" / "golden_set.yaml", split="test")
PDF_QUESTIONS = [q for q in GOLDEN if q.answerable and q.pages]
UNANSWERABLE = [q for q in GOLDEN if not q.answerable]
PRIVATE_MANUAL = "nordlys-audio__tt-3__service-manual"  # is_public=false in the manifest


@pytest.fixture(scope="module")
def api(demo_pipeline, api_key):
    with TestClient(create_app(demo_pipeline.settings), headers=api_key.headers) as client:
        yield client


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] and body["database"] and body["index_points"] > 0


def test_search_returns_the_right_manual_and_page_with_citation_fields(api):
    q = PDF_QUESTIONS[0]
    response = api.post("/v1/search", json={"query": q.question, "top_k": 5})
    assert response.status_code == 200
    results = response.json()["results"]
    assert 1 <= len(results) <= 5
    top = results[0]
    assert set(top) >= {"text", "score", "manual_id", "source", "page", "section"}
    assert any(r["manual_id"] == q.manual_key and r["page"] in q.pages for r in results)


def test_search_filters_by_vendor_and_product(api):
    q = PDF_QUESTIONS[0]
    any_hit = api.post("/v1/search", json={"query": q.question}).json()["results"][0]
    filtered = api.post(
        "/v1/search", json={"query": q.question, "vendor": any_hit["vendor"].upper()}
    ).json()["results"]
    assert filtered and all(r["vendor"] == any_hit["vendor"] for r in filtered)
    other = api.post("/v1/search", json={"query": q.question, "product": "no such product"}).json()[
        "results"
    ]
    assert other == []


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "filter", "top_k": 9},
        {"query": "filter", "top_k": 0},
        {"query": "x" * 2001},
        {"query": "filter", "unexpected": 1},
        {"top_k": 3},
    ],
)
def test_malformed_search_requests_get_a_4xx_with_a_message(api, body):
    response = api.post("/v1/search", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def _cites(citation: dict, manual: str, pages: tuple[int, ...]) -> bool:
    last = citation["page_end"] or citation["page"]
    return citation["manual_id"] == manual and any(citation["page"] <= p <= last for p in pages)


def test_ask_answers_with_a_citation_naming_the_right_manual_and_page(api):
    public = [q for q in PDF_QUESTIONS if q.manual_key != PRIVATE_MANUAL]
    correct = 0
    for q in public:
        body = api.post("/v1/ask", json={"question": q.question}).json()
        assert body["abstained"] or body["citations"], "an answer without a citation"
        for citation in body["citations"]:
            assert citation["manual_id"] and citation["page"] and citation["section"]
            assert citation["chunk_id"] and citation["edition"]  # which edition was cited
        correct += any(_cites(c, q.manual_key, q.pages) for c in body["citations"])
    # The frozen test part, never tuned on; a floor under the measured figure (28 of 38
    # public PDF questions on 2026-11-30, see README).
    assert correct / len(public) >= 0.7


def test_the_private_service_manual_is_not_served(api):
    questions = [q for q in PDF_QUESTIONS if q.manual_key == PRIVATE_MANUAL]
    assert questions
    for q in questions:
        results = api.post("/v1/search", json={"query": q.question}).json()["results"]
        assert all(r["manual_id"] != PRIVATE_MANUAL for r in results)


def test_ask_abstains_on_questions_no_manual_answers(api):
    abstained = [api.post("/v1/ask", json={"question": q.question}).json() for q in UNANSWERABLE]
    # Three in four of the frozen test part's unanswerable questions must abstain (6 of 8
    # measured): the calibrated threshold weighs them by their share of owners' questions.
    assert sum(a["abstained"] for a in abstained) >= 0.75 * len(UNANSWERABLE)
    assert all(a["citations"] == [] for a in abstained if a["abstained"])


def test_queries_succeed_while_a_partition_rematerializes(api, demo_pipeline):
    """Qdrant local mode locks its folder: the API must keep answering while the asset
    writes, then switch to the newly published snapshot."""
    before = api.get("/readyz").json()["index_version"]
    failures: list[str] = []
    done = threading.Event()

    def rematerialize():
        try:
            result = demo_pipeline.materialize(demo_pipeline.keys[0])
            if not result.success:
                failures.append("materialization failed")
        finally:
            done.set()

    worker = threading.Thread(target=rematerialize)
    worker.start()
    answered = 0
    question = PDF_QUESTIONS[0].question
    while not done.is_set():
        response = api.post("/v1/search", json={"query": question, "top_k": 3})
        if response.status_code != 200 or not response.json()["results"]:
            failures.append(f"{response.status_code}: {response.text[:200]}")
        answered += 1
    worker.join()
    assert not failures
    assert answered > 5

    deadline = time.monotonic() + 10
    while api.get("/readyz").json()["index_version"] == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.get("/readyz").json()["index_version"] != before
    assert api.post("/v1/search", json={"query": question}).json()["results"]


def test_searches_run_at_most_request_threads_at_once(demo_pipeline, api_key):
    settings = demo_pipeline.settings
    serving = settings.serving.model_copy(update={"request_threads": 2})
    app = create_app(settings.model_copy(update={"serving": serving}))
    running, most = 0, 0
    lock = threading.Lock()
    with TestClient(app, headers=api_key.headers) as client:
        retriever = app.state.platform.retriever
        search = retriever.search

        def slow_search(*args, **kwargs):
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.2)
            with lock:
                running -= 1
            return search(*args, **kwargs)

        retriever.search = slow_search
        statuses: list[int] = []

        def ask() -> None:
            response = client.post("/v1/search", json={"query": "filter", "top_k": 3})
            statuses.append(response.status_code)

        callers = [threading.Thread(target=ask) for _ in range(6)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
    assert statuses == [200] * 6
    assert most == 2  # six requests at once, two searches at a time
