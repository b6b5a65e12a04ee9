"""`manualqa up`'s catch-up runs licensed sources as the daemon would, through the same
jobs and sensors: a vendor API on 127.0.0.1 and a partner's inbox are harvested, a
near-duplicate across the folder and the API is indexed once whichever came first (and
takes the original's place when it goes), a manual the API or its partner withdraws
leaves index and catalog, and a manual released from quarantine runs again on its own."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import httpx
import pytest
from fastapi import FastAPI

from cli.main import main
from manual_assets.assets.raw_manual import ACCEPTED_CHECK
from manual_assets.catch_up import catch_up
from manual_assets.licensed_sources import harvested_requests
from manual_assets.partitions import MANUALS
from manual_assets.resources import build_resources
from manual_assets.sensors import released_manual_sensor
from manual_assets_tests.http_servers import Reply, Request, Server, http_server
from manual_assets_tests.pipeline_fixtures import DEMO_MANUALS, copy_manuals, pipeline_settings
from manual_assets_tests.serving.live import serve_in_thread
from manualqa.config import Settings, get_settings
from manualqa.index import open_index
from manualqa.objectstore import open_object_store
from manualqa.sources import signing, source_key
from manualqa.sources.inbox import pending_keys
from manualqa.sources.registry import partner_inbox
from serving.routers import webhooks
from sql import catalog, db, ingest
from sql.models import CrawlJob

IC6 = "verdant-garden-tech__ic-6__user-guide.md"
IC6_KEY = "verdant-garden-tech__ic-6__user-guide"
HS5 = "nordlys-audio__hs-5__user-guide.html"
# The API's copy of the IC-6 guide differs from the folder's by one added paragraph.
IC6_VARIANT = (DEMO_MANUALS / IC6).read_bytes() + b"\n\nRegister the controller online.\n"
API_IC6 = source_key("acme-api", "IC6-GUIDE")
API_HS5 = source_key("acme-api", "HS5-GUIDE")
API_BAD = source_key("acme-api", "BAD-1")
GIZMO = b"\n\n".join(
    [b"# Gizmo quick guide", b"## 1 Start"]
    + [f"Step {i}: hold the gizmo button until the lamp turns green.".encode() for i in range(12)]
)


class VendorApi:
    """A document API that lists incrementally (`updated_since`) and sends tombstones."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.documents: list[dict[str, object]] = []
        server.routes["/v1/documents"] = self.listing

    def listing(self, request: Request) -> Reply:
        since = request.query.get("updated_since", [""])[0]
        listed = [d for d in self.documents if str(d["updated_at"]) > since]
        body = {"documents": listed, "next_page_token": None}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def offer(self, document_id: str, file_name: str, body: bytes, updated_at: str) -> None:
        self.server.routes[f"/files/{file_name}"] = lambda r: Reply(200, body)
        self.documents.append(
            {
                "id": document_id,
                "file_name": file_name,
                "download_url": f"/files/{file_name}",
                "vendor": "Acme Appliances",
                "updated_at": updated_at,
                "license": {"name": "acme-partner", "allowed_uses": ["index", "serve"]},
            }
        )

    def withdraw(self, document_id: str, updated_at: str) -> None:
        self.documents = [d for d in self.documents if d["id"] != document_id]
        self.documents.append({"id": document_id, "updated_at": updated_at, "deleted": True})


@pytest.fixture
def api() -> Iterator[VendorApi]:
    with http_server() as server:
        yield VendorApi(server)


def licensed_settings(tmp_path: Path, folder: Path, database: str, api: VendorApi) -> Settings:
    return Settings(
        data_dir=tmp_path / "state",
        database_url=database,
        sources={
            "folder": {"path": folder},
            "apis": {
                "acme-api": {
                    "base_url": api.server.base_url,
                    "documents_path": "/v1/documents",
                    "http": {"min_delay_s": 0.0, "timeout_s": 5.0},
                }
            },
            "webhooks": {"acme-push": {"secret_env": "ACME_PUSH_SECRET"}},
        },
    )


def deliver(settings: Settings, document_id: str, file_name: str, body: bytes) -> None:
    payload = {
        "document_id": document_id,
        "file_name": file_name,
        "vendor": "Gizmo Works",
        "product": "Gizmo",
        "license": {"name": "gizmo-terms", "allowed_uses": ["index", "serve"]},
        "content_base64": base64.b64encode(body).decode(),
    }
    inbox = partner_inbox(settings, "acme-push", open_object_store(settings))
    inbox.accept(document_id, json.dumps(payload).encode())


def audit_actions(settings: Settings, key: str) -> list[str]:
    engine = db.make_engine(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    try:
        with db.session_scope(engine) as session:
            rows = ingest.tail_audit(session, 500)
    finally:
        engine.dispose()
    return [row.action for row in rows if row.subject == key]


def test_up_harvests_licensed_sources_indexes_a_near_duplicate_once_and_removes_withdrawn(
    tmp_path, own_database, api, monkeypatch
):
    monkeypatch.setenv("ACME_PUSH_SECRET", "partner-secret-value")
    folder = copy_manuals(tmp_path / "manuals", [IC6])
    settings = licensed_settings(tmp_path, folder, own_database, api)
    api.offer("IC6-GUIDE", "ic-6.md", IC6_VARIANT, "2026-05-01T00:00:00+00:00")
    api.offer("HS5-GUIDE", "hs-5.html", (DEMO_MANUALS / HS5).read_bytes(), "2026-05-02T00:00:00Z")
    api.offer("BAD-1", "bad.pdf", b"<html>not a manual</html>" * 8, "2026-05-02T00:00:00Z")
    deliver(settings, "GZ-1", "gizmo.md", GIZMO)
    instance = dg.DagsterInstance.ephemeral()

    first = catch_up(instance, settings)

    (pushed,) = [k for k in instance.get_dynamic_partitions(MANUALS) if k.startswith("acme-push:")]
    assert first.failed == [API_BAD] and first.harvested == ["acme-api", "acme-push"]
    assert sorted(first.fetched) == sorted(first.rebuilt) == sorted([API_HS5, IC6_KEY, pushed])
    # The daemon's harvested_manual_sensor, reading the same observations, asks for nothing
    # up ran already, the quarantined manual's failed run included.
    assert harvested_requests(instance, None).run_requests == []
    engine = db.make_engine(own_database)
    with db.session_scope(engine) as session:
        # The folder's copy came first and has a signature; the API's is linked to it.
        assert ingest.duplicate_of(session, API_IC6) == IC6_KEY
        assert ingest.servable_keys(session, [IC6_KEY, API_IC6]) == {IC6_KEY}
    index = open_index(settings).reader()
    assert index.count(IC6_KEY) > 0 and index.count(API_HS5) > 0 and index.count(pushed) > 0
    assert index.count(API_IC6) == 0

    # The API withdraws the HS-5 guide: it leaves the index, the catalog and the partitions.
    api.withdraw("HS5-GUIDE", "2026-05-03T00:00:00Z")
    second = catch_up(instance, settings)
    assert second.failed == [] and second.harvested == ["acme-api"]  # the inbox is empty
    assert second.removed == [API_HS5] and second.fetched == [] and second.rebuilt == {}
    index.refresh()
    assert index.count(API_HS5) == 0 and index.count(IC6_KEY) > 0
    with db.session_scope(engine) as session:
        assert catalog.get_manual(session, API_HS5) is None
    assert API_HS5 not in instance.get_dynamic_partitions(MANUALS)
    assert audit_actions(settings, API_HS5)[-2:] == ["ingest.gone", "manual.removed"]

    # Nothing changed since: the harvest runs and requests nothing.
    third = catch_up(instance, settings)
    assert (third.harvested, third.fetched, third.removed, third.rebuilt) == (
        ["acme-api"],
        [],
        [],
        {},
    )

    # The original leaves the folder: its near-duplicate from the API takes its place.
    (folder / IC6).unlink()
    fourth = catch_up(instance, settings)
    assert fourth.failed == [] and fourth.removed == [IC6_KEY]
    assert fourth.fetched == [API_IC6] and list(fourth.rebuilt) == [API_IC6]
    index.refresh()
    assert index.count(IC6_KEY) == 0 and index.count(API_IC6) > 0
    with db.session_scope(engine) as session:
        assert ingest.duplicate_of(session, API_IC6) is None
        assert ingest.servable_keys(session, [API_IC6]) == {API_IC6}
    assert "manual.unlinked" in audit_actions(settings, API_IC6)
    index.close()
    engine.dispose()


def test_a_folder_manual_nearly_duplicating_a_harvested_one_is_linked_not_indexed(
    tmp_path, own_database, api, monkeypatch
):
    monkeypatch.setenv("ACME_PUSH_SECRET", "partner-secret-value")
    folder = tmp_path / "manuals"
    folder.mkdir()
    settings = licensed_settings(tmp_path, folder, own_database, api)
    api.offer("IC6-GUIDE", "ic-6.md", IC6_VARIANT, "2026-05-01T00:00:00+00:00")
    instance = dg.DagsterInstance.ephemeral()
    assert sorted(catch_up(instance, settings).rebuilt) == [API_IC6]

    copy_manuals(folder, [IC6])
    report = catch_up(instance, settings)

    assert report.failed == [] and report.fetched == [IC6_KEY] and report.rebuilt == {}
    engine = db.make_engine(own_database)
    with db.session_scope(engine) as session:
        assert ingest.duplicate_of(session, IC6_KEY) == API_IC6
        assert ingest.servable_keys(session, [IC6_KEY, API_IC6]) == {API_IC6}
    engine.dispose()
    index = open_index(settings).reader()
    assert index.count(IC6_KEY) == 0 and index.count(API_IC6) > 0
    index.close()
    (observed,) = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_manual"), asset_partitions=[IC6_KEY]),
        limit=1,
    ).records
    assert observed.asset_observation.metadata["duplicate_of"].value == API_IC6  # type: ignore[union-attr]
    store = open_object_store(settings)
    assert store.list(f"raw/{IC6_KEY}")  # the duplicate's bytes are kept


def test_an_indexed_folder_manual_that_becomes_a_near_duplicate_leaves_the_index(
    tmp_path, own_database, api, monkeypatch
):
    monkeypatch.setenv("ACME_PUSH_SECRET", "partner-secret-value")
    folder = copy_manuals(tmp_path / "manuals", [IC6])
    (folder / IC6).write_bytes(GIZMO)  # the folder's first edition: another text
    settings = licensed_settings(tmp_path, folder, own_database, api)
    api.offer("IC6-GUIDE", "ic-6.md", IC6_VARIANT, "2026-05-01T00:00:00+00:00")
    instance = dg.DagsterInstance.ephemeral()
    assert sorted(catch_up(instance, settings).rebuilt) == sorted([API_IC6, IC6_KEY])
    index = open_index(settings).reader()
    api_points = index.count(API_IC6)
    assert index.count(IC6_KEY) > 0 and api_points > 0

    # The folder's next edition nearly duplicates the manual kept from the API.
    (folder / IC6).write_bytes((DEMO_MANUALS / IC6).read_bytes())
    report = catch_up(instance, settings)

    assert report.failed == [] and report.fetched == [IC6_KEY] and report.rebuilt == {}
    assert report.unindexed == [IC6_KEY] and report.removed == []
    index.refresh()
    assert index.count(IC6_KEY) == 0 and index.count(API_IC6) == api_points
    index.close()
    engine = db.make_engine(own_database)
    with db.session_scope(engine) as session:
        assert ingest.duplicate_of(session, IC6_KEY) == API_IC6  # the link stays
    engine.dispose()
    assert IC6_KEY in instance.get_dynamic_partitions(MANUALS)
    assert audit_actions(settings, IC6_KEY)[-2:] == ["manual.duplicate", "manual.unindexed"]
    # Both readers of the observations, the daemon's sensor and the next catch-up, are done.
    assert harvested_requests(instance, None).run_requests == []
    assert catch_up(instance, settings).unindexed == []


@pytest.fixture
def cli_settings(tmp_path, own_database, monkeypatch) -> Iterator[Settings]:
    """Settings the command line reads too: English manuals are refused (`de` only)."""
    monkeypatch.setenv("MANUALQA_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MANUALQA_VALIDATION__LANGUAGES", '["de"]')
    get_settings.cache_clear()
    folder = copy_manuals(tmp_path / "manuals", [IC6])
    yield pipeline_settings(
        tmp_path / "state", folder, own_database, validation={"languages": ["de"]}
    )
    get_settings.cache_clear()


def test_a_manual_released_from_quarantine_runs_again_on_its_own(cli_settings, capsys):
    settings = cli_settings
    instance = dg.DagsterInstance.ephemeral()
    refused = catch_up(instance, settings)
    assert refused.failed == [IC6_KEY] and refused.rebuilt == {}

    resources = build_resources(settings)

    def tick(cursor: str | None = None) -> dg.SensorResult:
        with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as c:
            return released_manual_sensor(c)

    assert tick().run_requests == []
    assert main(["quarantine", "release", IC6_KEY, "--actor", "ops:alice"]) == 0
    requested = tick()
    (request,) = requested.run_requests
    assert (request.job_name, request.partition_key) == ("raw_manual_job", IC6_KEY)
    assert tick(requested.cursor).run_requests == []  # one run per release

    released = catch_up(instance, settings)  # ticks the same sensor, as the daemon does
    assert released.failed == [] and released.fetched == [IC6_KEY]
    assert released.rebuilt[IC6_KEY][-1] == "qdrant_collection"
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name="raw_manual_job", tags={"dagster/partition": IC6_KEY})
    )
    assert [run.status for run in runs] == [
        dg.DagsterRunStatus.SUCCESS,
        dg.DagsterRunStatus.FAILURE,
    ]
    checks = [
        event.dagster_event.event_specific_data  # type: ignore[union-attr]
        for event in instance.all_logs(
            runs[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    ]
    assert [(c.check_name, c.passed) for c in checks] == [(ACCEPTED_CHECK, True)]
    index = open_index(settings).reader()
    assert index.count(IC6_KEY) > 0
    index.close()


PARTNER_SECRETS = {"acme-push": "acme-partner-secret", "gizmo-push": "gizmo-partner-secret"}


@pytest.fixture
def partners(tmp_path, own_database, monkeypatch) -> Iterator[tuple[Settings, str]]:
    """Two webhook partners and the webhook endpoint serving them on 127.0.0.1."""
    monkeypatch.setenv("ACME_PUSH_SECRET", PARTNER_SECRETS["acme-push"])
    monkeypatch.setenv("GIZMO_PUSH_SECRET", PARTNER_SECRETS["gizmo-push"])
    folder = tmp_path / "manuals"
    folder.mkdir()
    settings = Settings(
        data_dir=tmp_path / "state",
        database_url=own_database,
        sources={
            "folder": {"path": folder},
            "webhooks": {
                "acme-push": {"secret_env": "ACME_PUSH_SECRET"},
                "gizmo-push": {"secret_env": "GIZMO_PUSH_SECRET"},
            },
        },
    )
    app = FastAPI()
    app.include_router(webhooks.router)
    engine = db.make_engine(own_database)
    app.state.platform = SimpleNamespace(settings=settings, engine=engine)
    with serve_in_thread(app) as (host, port):
        yield settings, f"http://{host}:{port}"
    engine.dispose()


def push(base: str, partner: str, payload: dict[str, object], key: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Timestamp": stamp,
        "X-Signature": signing.signature(PARTNER_SECRETS[partner].encode(), stamp, body),
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return httpx.post(f"{base}/v1/webhooks/{partner}", content=body, headers=headers, timeout=10)


def upload(document_id: str, file_name: str, body: bytes) -> dict[str, object]:
    return {
        "document_id": document_id,
        "file_name": file_name,
        "license": {"name": "partner-terms", "allowed_uses": ["index", "serve"]},
        "content_base64": base64.b64encode(body).decode(),
    }


def test_a_partner_withdraws_its_own_manual_by_a_signed_push_but_not_another_partners(
    partners,
):
    settings, base = partners
    acme_gizmo = source_key("acme-push", "GZ-1")
    gizmo_hs5 = source_key("gizmo-push", "HS5")
    assert push(base, "acme-push", upload("GZ-1", "gizmo.md", GIZMO), "up-1").status_code == 202
    hs5 = (DEMO_MANUALS / HS5).read_bytes()
    assert push(base, "gizmo-push", upload("HS5", "hs-5.html", hs5), "up-1").status_code == 202
    instance = dg.DagsterInstance.ephemeral()
    first = catch_up(instance, settings)
    assert first.failed == [] and sorted(first.fetched) == [acme_gizmo, gizmo_hs5]
    index = open_index(settings).reader()
    assert index.count(acme_gizmo) > 0 and index.count(gizmo_hs5) > 0

    # acme withdraws its own manual, and tries to withdraw gizmo's by its document id.
    withdraw_own = {"action": "withdraw", "document_id": "GZ-1"}
    accepted = push(base, "acme-push", withdraw_own, "wd-1")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["action"] == "withdraw"
    assert push(base, "acme-push", withdraw_own, "wd-1").status_code == 409  # replayed
    withdraw_other = {"action": "withdraw", "document_id": "HS5"}
    assert push(base, "acme-push", withdraw_other, "wd-2").status_code == 202
    unsigned = httpx.post(
        f"{base}/v1/webhooks/acme-push", content=json.dumps(withdraw_own).encode(), timeout=10
    )
    assert unsigned.status_code == 401
    unknown = push(base, "acme-push", {"action": "delete", "document_id": "GZ-1"}, "wd-3")
    assert unknown.status_code == 422

    second = catch_up(instance, settings)  # the inbox sensor, the harvest, the removal

    assert second.failed == [] and second.harvested == ["acme-push"]
    assert second.removed == [acme_gizmo] and second.fetched == []
    assert pending_keys(open_object_store(settings), "acme-push") == []  # drained
    index.refresh()
    assert index.count(acme_gizmo) == 0 and index.count(gizmo_hs5) > 0
    index.close()
    assert acme_gizmo not in instance.get_dynamic_partitions(MANUALS)
    engine = db.make_engine(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    with db.session_scope(engine) as session:
        assert catalog.get_manual(session, acme_gizmo) is None
        assert ingest.servable_keys(session) == {gizmo_hs5}
        job = session.query(CrawlJob).order_by(CrawlJob.id.desc()).first()
        assert job is not None and (job.source, job.gone) == ("acme-push", 1)
    engine.dispose()
    assert audit_actions(settings, acme_gizmo)[-2:] == ["ingest.gone", "manual.removed"]
    assert audit_actions(settings, source_key("acme-push", "HS5")) == ["ingest.withdrawal_ignored"]
    assert "manual.removed" not in audit_actions(settings, gizmo_hs5)
