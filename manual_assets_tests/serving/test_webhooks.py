"""POST /v1/webhooks/{partner} over real HTTP: good, bad, replayed and oversized pushes,
each audited; accepted items wait durably in the inbox and the harvest drains them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from manual_assets_tests.manualqa.conftest import PdfSpec, build_pdf
from manual_assets_tests.serving.live import serve_in_thread
from manualqa.config import DedupSettings, Settings, ValidationSettings
from manualqa.dedup import NearDuplicateIndex
from manualqa.governance import ExclusionList
from manualqa.harvest import Outcome, harvest, settle
from manualqa.objectstore import open_object_store
from manualqa.sources import signing
from manualqa.sources.registry import build_connector
from serving.app import create_app
from serving.routers import webhooks
from sql import ingest

SECRET = "partner-secret-value"
PDF = build_pdf(PdfSpec(pages=[["Pushed manual", "Hold the reset key for five seconds."] * 4]))


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("ACME_PUSH_SECRET", SECRET)
    return Settings(
        data_dir=tmp_path,
        sources={
            "webhooks": {
                "acme-push": {
                    "secret_env": "ACME_PUSH_SECRET",
                    "max_body_bytes": 20_000,
                    "replay_window_s": 60,
                }
            }
        },
    )


@pytest.fixture
def server(settings, db_engine, db_session) -> Iterator[str]:
    app = FastAPI()
    app.include_router(webhooks.router)
    app.state.platform = SimpleNamespace(settings=settings, engine=db_engine)
    with serve_in_thread(app) as (host, port):
        yield f"http://{host}:{port}"


def push(base: str, body: bytes, *, key: str = "k1", secret: str = SECRET, at: float | None = None):
    stamp = str(int(at if at is not None else time.time()))
    headers = {
        "X-Timestamp": stamp,
        "X-Signature": signing.signature(secret.encode(), stamp, body),
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return httpx.post(f"{base}/v1/webhooks/acme-push", content=body, headers=headers, timeout=10)


def delivery(**extra) -> bytes:
    doc = {
        "document_id": "AC-200/OM",
        "file_name": "ac-200.pdf",
        "vendor": "Acme",
        "product": "AC-200",
        "license": {"name": "acme-push-terms", "allowed_uses": ["index", "serve"]},
        "content_base64": base64.b64encode(PDF).decode(),
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def harvest_inbox(connector, store):
    """One harvest of the partner's inbox, holding no manuals yet."""
    return harvest(
        connector,
        store,
        cursor=None,
        held={},
        validation=ValidationSettings(),
        dedup=DedupSettings(),
        duplicates=NearDuplicateIndex(DedupSettings()),
        exclusions=ExclusionList(),
        config_version="1",
    )


def audit_actions(db_session) -> list[tuple[str, int | None]]:
    db_session.expire_all()
    return [(r.action, r.detail.get("status")) for r in ingest.tail_audit(db_session, 20)]


def test_the_app_serves_the_webhook_route(settings):
    assert "/v1/webhooks/{partner}" in create_app(settings).openapi()["paths"]


def test_a_good_push_is_stored_and_a_replay_is_refused(server, settings, db_session):
    accepted = push(server, delivery())
    assert accepted.status_code == 202, accepted.text
    item = accepted.json()["item_id"]
    store = open_object_store(settings)
    assert store.exists(f"inbox/acme-push/pending/{item}/item.json")
    assert store.get(f"inbox/acme-push/pending/{item}/content") == PDF

    again = push(server, delivery())
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    stale = push(server, delivery(), key="k2", at=time.time() - 3600)
    assert stale.status_code == 409 and "replay window" in stale.json()["detail"]
    assert audit_actions(db_session) == [
        ("webhook.accepted", None),
        ("webhook.refused", 409),
        ("webhook.refused", 409),
    ]


def test_bad_signatures_oversized_and_malformed_pushes_are_refused(server, db_session):
    forged = push(server, delivery(), secret="not-the-secret")
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    unsigned = httpx.post(f"{server}/v1/webhooks/acme-push", content=delivery(), timeout=10)
    assert unsigned.status_code == 401
    big = push(server, delivery(content_base64=base64.b64encode(b"x" * 30_000).decode()))
    assert big.status_code == 413 and "cap" in big.json()["detail"]
    both = push(server, delivery(url="https://partner.example/ac.pdf"), key="k3")
    assert both.status_code == 422
    # An id with nothing to name a manual by would block the partner's inbox later.
    nameless = push(server, delivery(document_id="!!!"), key="k4")
    assert nameless.status_code == 422 and "letter or digit" in nameless.text
    withdrawal = json.dumps({"action": "withdraw", "document_id": "///"}).encode()
    assert push(server, withdrawal, key="k5").status_code == 422
    unknown = httpx.post(f"{server}/v1/webhooks/nobody", content=b"{}", timeout=10)
    assert unknown.status_code == 404
    assert audit_actions(db_session) == [
        ("webhook.refused", 401),
        ("webhook.refused", 401),
        ("webhook.refused", 413),
        ("webhook.refused", 422),
        ("webhook.refused", 422),
        ("webhook.refused", 422),
        ("webhook.unknown_partner", None),
    ]


def test_the_harvest_drains_the_inbox_after_a_restart(server, settings):
    assert push(server, delivery()).status_code == 202
    # A new process: nothing but the object store knows about the delivery.
    store = open_object_store(settings)
    with build_connector(settings, "acme-push", store) as connector:
        result = harvest_inbox(connector, store)
        # Until the result is recorded and settled, the delivery stays in the inbox.
        assert len(list(store.list("inbox/acme-push/pending"))) == 2  # item and content
        settle(connector, result)
    (item,) = result.items
    assert item.outcome == Outcome.NEW and item.key.startswith("acme-push:ac-200-om-")
    assert item.ref.license == "acme-push-terms"
    assert store.get(item.object_key) == PDF
    assert list(store.list("inbox/acme-push/pending")) == []
    assert len(list(store.list("inbox/acme-push/accepted"))) == 1  # the key stays spent


def test_the_partners_latest_push_about_a_document_wins(server, settings):
    withdraw = {"action": "withdraw", "document_id": "AC-200/OM"}
    pushes = [
        delivery(),  # overridden by the withdrawal after it
        json.dumps(withdraw).encode(),
        json.dumps({**withdraw, "document_id": "AC-300/OM"}).encode(),
        delivery(document_id="AC-300/OM"),  # overrides the withdrawal before it
    ]
    for n, body in enumerate(pushes):
        assert push(server, body, key=f"k{n}").status_code == 202
    store = open_object_store(settings)
    with build_connector(settings, "acme-push", store) as connector:
        result = harvest_inbox(connector, store)
        settle(connector, result)
    (item,) = result.items
    assert item.outcome == Outcome.NEW and item.key.startswith("acme-push:ac-300-om-")
    assert [key.split("-om-")[0] for key in result.withdrawn] == ["acme-push:ac-200"]
    assert list(store.list("inbox/acme-push/pending")) == []  # all four settled
