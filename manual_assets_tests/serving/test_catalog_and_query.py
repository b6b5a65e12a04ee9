"""/v1/sql and /v1/query over the materialized demo corpus, cost records per client, and
the demo page that carries an injected instruction."""

import pytest
from fastapi.testclient import TestClient

import manualqa.answer.engine
from serving.app import create_app
from sql import catalog
from sql.db import make_engine, session_scope
from sql.usage import usage_by

INJECTED_MANUAL = "verdant-garden-tech__rm-500__owners-manual"


@pytest.fixture(scope="module")
def api(demo_pipeline, api_key):
    with TestClient(create_app(demo_pipeline.settings), headers=api_key.headers) as client:
        yield client


def test_catalog_question_returns_rows_cited_by_table_and_key(api):
    response = api.post(
        "/v1/sql",
        json={"question": "List the manuals of Acme Appliances"},
        headers={"x-client-id": "client-sql"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row[0] for row in body["rows"]] == [
        "acme__ac-200__owners-manual",
        "acme__ac-300__owners-manual",
    ]
    assert body["citations"][0]["ref"] == "T1"
    assert set(body["citations"][0]["keys"]) == {"manuals", "products", "vendors"}
    assert "Acme" not in body["statement"] and "Acme Appliances" in body["params"].values()


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("How do I reset the Wi-Fi on the AC-200?", "not a question about the catalog"),
        ("How many manuals mention unicorns?", "configure a SQL model"),
        ("Drop table manuals", "intent: other"),
    ],
)
def test_catalog_refusals_are_422_with_the_reason(api, question, fragment):
    response = api.post("/v1/sql", json={"question": question})
    assert response.status_code == 422
    assert fragment in response.json()["detail"]["reason"]


def test_a_question_with_hidden_characters_is_refused(api):
    response = api.post("/v1/query", json={"question": "How many manuals\u200b are there?"})
    assert response.status_code == 422 and "U+200B" in response.json()["detail"]


def test_query_routes_a_catalog_question_to_sql(api):
    body = api.post("/v1/query", json={"question": "How many manuals does Acme have?"}).json()
    assert body["intent"] == "catalog"
    assert body["catalog"]["rows"] == [[2]]
    assert "[T1]" in body["answer"] and body["citations"][0]["kind"] == "row"


def test_query_routes_a_manual_question_to_the_manuals(api):
    question = "How long do I hold the Wi-Fi button on the AC-200 to reset it?"
    body = api.post("/v1/query", json={"question": question}).json()
    assert body["intent"] == "manual" and body["catalog"] is None
    assert not body["abstained"]
    assert {c["kind"] for c in body["citations"]} == {"passage"}
    assert body["citations"][0]["passage"]["page"] is not None


def test_query_composes_both_parts_with_one_citation_model(api):
    question = "Which manuals are there for the AC-200, and how do I reset the Wi-Fi?"
    body = api.post("/v1/query", json={"question": question}).json()
    assert body["intent"] == "both"
    kinds = [c["kind"] for c in body["citations"]]
    assert "row" in kinds and "passage" in kinds
    assert "[T1]" in body["answer"] and "[1]" in body["answer"]
    assert body["usage"]["calls"] >= 3 and body["catalog"]["usage"] is None


def test_costs_are_recorded_per_client(api, demo_pipeline, api_key):
    usage = api.post(
        "/v1/ask",
        json={"question": "How do I clean the pre-filter of the AC-200?"},
        headers={"x-client-id": "client-costs"},
    ).json()["usage"]
    api.app.state.platform.ledger.flush()  # usage rows are written off the request path
    engine = make_engine(str(demo_pipeline.settings.database_url.get_secret_value()))
    try:
        with session_scope(engine) as session:
            totals = {t.key: t for t in usage_by(session, "client_id")}
            partitions = {t.key for t in usage_by(session, "partition")}
    finally:
        engine.dispose()
    recorded = totals[f"key:{api_key.key_id}/client-costs"]
    assert usage["calls"] >= 2  # the question's embedding and the answer
    assert (recorded.calls, recorded.cached, recorded.prompt_tokens) == (
        usage["calls"],
        usage["cached"],
        usage["prompt_tokens"],
    )
    assert set(demo_pipeline.keys) <= partitions  # the pipeline's embedding calls


def test_the_injected_demo_page_is_flagged_and_never_reaches_a_prompt(
    api, demo_pipeline, monkeypatch
):
    engine = make_engine(str(demo_pipeline.settings.database_url.get_secret_value()))
    try:
        with session_scope(engine) as session:
            flagged = catalog.list_flagged_chunks(session)
    finally:
        engine.dispose()
    assert [(f.manual_key, f.page) for f in flagged][:1] == [(INJECTED_MANUAL, 24)]
    assert {f.manual_key for f in flagged} == {INJECTED_MANUAL}

    prompted = []
    render = manualqa.answer.engine.render_answer_prompt

    def spy(question, passages):
        prompted.extend(passages)
        return render(question, passages)

    monkeypatch.setattr(manualqa.answer.engine, "render_answer_prompt", spy)
    state = api.app.state.platform
    question = "Do the Mowbot RM-500 blades ever need replacing, and what does the warranty cover?"
    flagged_ids = {f.chunk_id for f in flagged}
    retrieved = state.retriever.search(question, 8)
    assert flagged_ids & {h.chunk_id for h in retrieved}, "the page should be retrieved"
    answer = state.answers.answer(question, top_k=8)
    assert not flagged_ids & {h.chunk_id for h in answer.passages}
    assert prompted and not any("ignore all previous" in p.text.lower() for p in prompted)
    assert not flagged_ids & {c.chunk_id for c in answer.citations}
