"""Serving-time governance: a revoked or expired license takes a manual's text out of
/v1/search and /v1/ask on the next request, without re-indexing; every response that
carries text leaves an audit row naming the caller and the manual."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from serving.app import create_app
from sql import ingest
from sql.db import make_engine, session_scope
from sql.models import AuditLog, Manual

MANUAL = "acme__ac-200__owners-manual"
QUESTION = "How often should I replace the HEPA filter on the AC-200?"


@pytest.fixture(scope="module")
def api(demo_pipeline, api_key):
    with TestClient(create_app(demo_pipeline.settings), headers=api_key.headers) as client:
        yield client


@pytest.fixture(scope="module")
def engine(demo_pipeline):
    engine = make_engine(str(demo_pipeline.settings.database_url.get_secret_value()))
    yield engine
    engine.dispose()


def _search_manuals(api) -> set[str]:
    body = api.post("/v1/search", json={"query": QUESTION, "top_k": 8}).json()
    return {r["manual_id"] for r in body["results"]}


def _cited_manuals(api) -> set[str]:
    body = api.post("/v1/ask", json={"question": QUESTION}).json()
    return {c["manual_id"] for c in body["citations"]}


def _query_manuals(api) -> set[str]:
    body = api.post("/v1/query", json={"question": QUESTION}).json()
    return {c["passage"]["manual_id"] for c in body["citations"] if c["kind"] == "passage"}


@contextmanager
def _license_changed(engine, **values):
    """Change the manual's license row for the block, then restore it."""
    with session_scope(engine) as session:
        before = session.execute(
            select(Manual.license_revoked_at, Manual.license_expires_at).where(Manual.key == MANUAL)
        ).one()
        if values:
            session.execute(update(Manual).where(Manual.key == MANUAL).values(**values))
        else:
            ingest.revoke_license(session, MANUAL, "test-admin", "licence ended")
    try:
        yield
    finally:
        with session_scope(engine) as session:
            session.execute(
                update(Manual)
                .where(Manual.key == MANUAL)
                .values(
                    license_revoked_at=before.license_revoked_at,
                    license_expires_at=before.license_expires_at,
                )
            )


def test_a_revoked_license_takes_the_text_out_of_search_and_ask_at_once(api, engine, demo_pipeline):
    assert MANUAL in _search_manuals(api) and MANUAL in _cited_manuals(api)
    assert MANUAL in _query_manuals(api)
    version = api.get("/readyz").json()["index_version"]
    with _license_changed(engine):
        assert MANUAL not in _search_manuals(api)
        assert MANUAL not in _cited_manuals(api)
        assert MANUAL not in _query_manuals(api)
        assert _search_manuals(api), "other manuals are still served"
        assert api.get("/readyz").json()["index_version"] == version  # nothing re-indexed
    assert MANUAL in _search_manuals(api)


def test_an_expired_license_is_withheld_and_a_future_expiry_is_not(api, engine):
    with _license_changed(engine, license_expires_at=datetime.now(UTC) - timedelta(minutes=1)):
        assert MANUAL not in _search_manuals(api)
        assert MANUAL not in _cited_manuals(api)
    with _license_changed(engine, license_expires_at=datetime.now(UTC) + timedelta(days=1)):
        assert MANUAL in _search_manuals(api)


def test_every_response_carrying_text_is_audited_with_caller_and_manual(api, engine, api_key):
    headers = {"x-client-id": "audit-reader"}
    hits = api.post("/v1/search", json={"query": QUESTION}, headers=headers).json()["results"]
    cited = api.post("/v1/ask", json={"question": QUESTION}, headers=headers).json()["citations"]
    api.app.state.platform.ledger.flush()  # audit rows are written off the request path
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditLog.action, AuditLog.subject, AuditLog.detail).where(
                AuditLog.actor == f"key:{api_key.key_id}/audit-reader"
            )
        ).all()
    searched = {r.subject: r.detail["passages"] for r in rows if r.action == "text.read.search"}
    asked = {r.subject for r in rows if r.action == "text.read.ask"}
    assert searched == {
        key: sum(h["manual_id"] == key for h in hits) for key in {h["manual_id"] for h in hits}
    }
    assert asked == {c["manual_id"] for c in cited} and asked


def test_a_graceful_stop_writes_every_audit_row_still_queued(demo_pipeline, api_key, engine):
    actor = f"key:{api_key.key_id}/shutdown-reader"
    headers = {**api_key.headers, "x-client-id": "shutdown-reader"}
    with TestClient(create_app(demo_pipeline.settings), headers=headers) as client:
        served = [
            len(
                {
                    r["manual_id"]
                    for r in client.post("/v1/search", json={"query": q}).json()["results"]
                }
            )
            for q in (QUESTION, "How do I reset the Wi-Fi?", "What does the red light mean?") * 5
        ]
    with session_scope(engine) as session:
        rows = session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.actor == actor)
        )
    assert rows == sum(served) and rows > 0
