"""Licensed sources through Dagster, against a real site and a vendor API on 127.0.0.1: a
harvest job per source, the sensor that turns harvested manuals into partitions and
`raw_manual` runs, a second crawl that costs only conditional requests and runs nothing,
the same manual from the vendor API kept once and linked, a partner's inbox, and all of
it on moto's S3 server by configuration alone."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
from manual_assets.assets.raw_manual import ACCEPTED_CHECK, raw_manual
from manual_assets.definitions import build_definitions
from manual_assets.licensed_sources import (
    RAW_MANUAL,
    harvested_manual_sensor,
    licensed_source_definitions,
)
from manual_assets.resources import build_resources
from manual_assets_tests.http_servers import Reply, Request, Server, http_server
from manual_assets_tests.pipeline_fixtures import DEMO_MANUALS
from manualqa.config import Settings
from manualqa.index import open_index
from manualqa.objectstore import open_object_store
from manualqa.objectstore.s3 import S3ObjectStore
from manualqa.sources.inbox import pending_keys
from manualqa.sources.registry import partner_inbox
from sql import db, ingest
from sql.models import CrawlJob

AC200 = (DEMO_MANUALS / "acme__ac-200__owners-manual.pdf").read_bytes()
ETAG = '"ac200-v1"'


def etagged(body: bytes, etag: str):
    def handler(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/pdf"})

    return handler


def listing(*links: str) -> Reply:
    anchors = "".join(f'<a href="{href}">{href} manual</a>' for href in links)
    return Reply(
        200, f"<html><body>{anchors}</body></html>".encode(), {"Content-Type": "text/html"}
    )


@pytest.fixture
def site() -> Iterator[Server]:
    with http_server() as server:
        server.routes.update(
            {
                "/robots.txt": lambda r: Reply(200, b"User-agent: *\nDisallow: /private/\n"),
                "/manuals/": lambda r: listing("ac-200.pdf", "broken.pdf", "/private/x.pdf"),
                "/manuals/ac-200.pdf": etagged(AC200, ETAG),
                "/manuals/broken.pdf": lambda r: Reply(
                    200, AC200[:600] + b"\x00garbage" * 40, {"Content-Type": "application/pdf"}
                ),
                "/private/x.pdf": lambda r: Reply(200, AC200),
                "/oauth/token": token,
                "/v1/documents": bearer(
                    lambda r: Reply(
                        200,
                        json.dumps({"documents": [API_DOC], "next_page_token": None}).encode(),
                        {"Content-Type": "application/json"},
                    )
                ),
                "/files/ac200-om.pdf": bearer(etagged(AC200, '"api-1"')),
            }
        )
        yield server


API_DOC = {
    "id": "AC200-OM",
    "title": "PureAir AC-200 owner's manual",
    "vendor": "Acme Appliances",
    "product": "AC-200",
    "file_name": "ac200-om.pdf",
    "download_url": "/files/ac200-om.pdf",
    "updated_at": "2026-05-01T00:00:00+00:00",
    "license": {"name": "acme-partner", "allowed_uses": ["index", "serve"]},
}


def token(request: Request) -> Reply:
    """OAuth2 client credentials: the secret comes from the source's own variables."""
    expected = base64.b64encode(b"acme-client:acme-pass").decode()
    if request.headers.get("authorization") != f"Basic {expected}":
        return Reply(401, b'{"error": "invalid_client"}', {"Content-Type": "application/json"})
    body = {"access_token": "t1", "token_type": "Bearer", "expires_in": 3600}
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def bearer(handler):
    def guarded(request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer t1":
            return Reply(401, b"{}")
        return handler(request)

    return guarded


def rules(tmp_path: Path, name: str, base: str, seed: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        "\n".join(
            [
                'version: "1"',
                f"seeds: ['{base}{seed}']",
                f"allow: ['{base}/*']",
                "vendor: Acme Appliances",
                "user_agent: manualqa-test/1.0",
                "license: {name: acme-crawl-license, allowed_uses: [index, serve]}",
            ]
        )
        + "\n"
    )
    return path


@pytest.fixture(params=["local", "s3"])
def settings(request, tmp_path, site, own_database, s3_endpoint, monkeypatch) -> Settings:
    monkeypatch.setenv("ACME_CLIENT_ID", "acme-client")
    monkeypatch.setenv("ACME_CLIENT_SECRET", "acme-pass")
    http = {"min_delay_s": 0.02, "timeout_s": 5.0, "backoff_base_s": 0.01, "max_retries": 2}
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    store = (
        {"kind": "local"}
        if request.param == "local"
        else {"kind": "s3", "bucket": f"t-{uuid.uuid4().hex[:12]}", "endpoint_url": s3_endpoint}
    )
    settings = Settings(
        data_dir=tmp_path / "state",
        database_url=own_database,
        object_store=store,
        sources={
            "folder": {"path": folder},
            "crawls": {
                "acme-crawl": {
                    "rules": rules(tmp_path, "acme", site.base_url, "/manuals/"),
                    "http": http,
                },
            },
            "apis": {
                "acme-api": {
                    "base_url": site.base_url,
                    "documents_path": "/v1/documents",
                    "token_url": f"{site.base_url}/oauth/token",
                    "client_id_env": "ACME_CLIENT_ID",
                    "client_secret_env": "ACME_CLIENT_SECRET",
                    "http": http,
                }
            },
        },
    )
    if request.param == "s3":  # what `manualqa store lifecycle` does once per bucket
        s3 = open_object_store(settings)
        assert isinstance(s3, S3ObjectStore)
        s3.ensure_bucket()
    return settings


def harvest(settings: Settings, instance: dg.DagsterInstance, source: str) -> None:
    jobs = {job.name: job for job in licensed_source_definitions(settings).jobs}
    job = jobs[f"harvest_{source.replace('-', '_')}_job"]
    result = job.execute_in_process(instance=instance, resources=build_resources(settings))
    assert result.success


def last_job(settings: Settings) -> CrawlJob:
    engine = db.make_engine(settings.database_url.get_secret_value())
    try:
        with db.session_scope(engine) as session:
            job = session.query(CrawlJob).order_by(CrawlJob.id.desc()).first()
            session.expunge(job)
            return job
    finally:
        engine.dispose()


def test_harvested_manuals_run_through_dagster_and_a_second_crawl_runs_nothing(settings, site):
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources(settings)
    harvest(settings, instance, "acme-crawl")

    first = harvested_manual_sensor(dg.build_sensor_context(instance=instance))
    requested = {r.partition_key for r in first.run_requests}
    assert len(requested) == 2 and set(instance.get_dynamic_partitions("manuals")) == requested
    outcomes = {}
    for key in sorted(requested):
        run = dg.materialize(
            [*MANUAL_ASSETS, *MANUAL_CHECKS],
            partition_key=key,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        (check,) = [c for c in run.get_asset_check_evaluations() if c.check_name == ACCEPTED_CHECK]
        outcomes[key] = (
            run.success,
            check.passed,
            check.metadata["code"].value if not check.passed else "",
        )
    good = next(k for k in requested if "ac-200" in k)
    broken = next(k for k in requested if k != good)
    assert outcomes == {good: (True, True, ""), broken: (False, False, "unreadable")}
    store = open_object_store(settings)
    engine = db.make_engine(settings.database_url.get_secret_value())
    with db.session_scope(engine) as session:
        held = ingest.held_quarantine(session, broken)
    assert held is not None and held.reason_code == "unreadable"
    assert store.get(held.object_key).startswith(AC200[:600])  # the refused bytes are kept
    index = open_index(settings).reader()
    points = index.count(good)
    assert points > 0

    materialized = len(instance.fetch_materializations(RAW_MANUAL, limit=100).records)
    runs = {run.run_id for run in instance.get_runs()}
    site.log.clear()
    harvest(settings, instance, "acme-crawl")

    (get,) = site.requests("/manuals/ac-200.pdf", "GET")
    assert get.headers["if-none-match"] == ETAG
    job = last_job(settings)
    assert (job.unchanged, job.new, job.changed, job.quarantined) == (2, 0, 0, 0)
    again = harvested_manual_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert again.run_requests == []
    assert len(instance.fetch_materializations(RAW_MANUAL, limit=100).records) == materialized
    (only,) = [run for run in instance.get_runs() if run.run_id not in runs]
    assert only.job_name == "harvest_acme_crawl_job"  # and nothing else ran

    # The same manual from the vendor API is linked, not indexed twice.
    harvest(settings, instance, "acme-api")
    assert last_job(settings).duplicates == 1
    mirrored = harvested_manual_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor)
    )
    assert mirrored.run_requests == []
    (copy,) = set(instance.get_dynamic_partitions("manuals")) - requested
    with db.session_scope(engine) as session:
        assert ingest.duplicate_of(session, copy) == good
        assert ingest.servable_keys(session, [good, copy]) == {good}
    engine.dispose()
    index.refresh()
    assert index.count(copy) == 0 and index.count(good) == points
    index.close()


def test_a_partner_delivery_wakes_the_inbox_sensor_and_becomes_a_raw_manual(
    tmp_path, own_database, monkeypatch
):
    monkeypatch.setenv("ACME_PUSH_SECRET", "partner-secret-value")
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    settings = Settings(
        data_dir=tmp_path / "state",
        database_url=own_database,
        sources={
            "folder": {"path": folder},
            "webhooks": {"acme-push": {"secret_env": "ACME_PUSH_SECRET"}},
        },
    )
    licensed = licensed_source_definitions(settings)
    ((job,), (sensor,)) = licensed.jobs, licensed.sensors
    assert licensed.schedules == []  # a partner pushes; nothing polls it
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources(settings)

    def tick():
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            return sensor(context)

    assert isinstance(tick(), dg.SkipReason)
    store = open_object_store(settings)
    body = {
        "document_id": "AC-200/OM",
        "file_name": "ac-200.pdf",
        "vendor": "Acme Appliances",
        "product": "AC-200",
        "license": {"name": "acme-push-terms", "allowed_uses": ["index", "serve"]},
        "content_base64": base64.b64encode(AC200).decode(),
    }
    partner_inbox(settings, "acme-push", store).accept("delivery-1", json.dumps(body).encode())
    request = tick()
    assert isinstance(request, dg.RunRequest) and request.run_key
    assert job.execute_in_process(instance=instance, resources=resources).success

    assert pending_keys(store, "acme-push") == []  # drained
    assert isinstance(tick(), dg.SkipReason)
    (run,) = harvested_manual_sensor(dg.build_sensor_context(instance=instance)).run_requests
    assert run.partition_key.startswith("acme-push:ac-200-om-")
    result = dg.materialize(
        [raw_manual], partition_key=run.partition_key, instance=instance, resources=resources
    )
    raw = result.output_for_node("raw_manual")
    assert raw.data == AC200 and raw.ref.license == "acme-push-terms"


def test_the_code_location_loads_with_one_of_each_licensed_source(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        sources={
            "apis": {
                "acme-api": {
                    "base_url": "https://api.example.invalid",
                    "token_url": "https://api.example.invalid/token",
                    "client_id_env": "ACME_CLIENT_ID",
                    "client_secret_env": "ACME_CLIENT_SECRET",
                    "schedule": "15 3 * * *",
                }
            },
            "crawls": {"acme-crawl": {"rules": tmp_path / "rules.yaml"}},
            "webhooks": {"acme-push": {"secret_env": "ACME_PUSH_SECRET"}},
        },
    )
    defs = build_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    crons = {s.name: s.cron_schedule for s in repository.schedule_defs}
    assert crons["harvest_acme_api_schedule"] == "15 3 * * *"
    assert crons["harvest_acme_crawl_schedule"] == "0 * * * *"  # no schedule: hourly
    assert not any("acme_push" in name for name in crons)  # a partner is not polled
    assert "harvest_acme_push_inbox_sensor" in {s.name for s in repository.sensor_defs}
    resources = defs.resources or {}
    assert {"source_acme_api", "source_acme_crawl", "source_acme_push"} <= set(resources)
