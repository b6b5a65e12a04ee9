"""Harvest runs recorded in the catalog: validators for the next run, quarantine with
its bytes, duplicates linked across sources, licenses revoked; and the CLI over it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.main import main
from manual_assets_tests.manualqa.conftest import PdfSpec, build_pdf
from manualqa.config import DedupSettings, Settings, ValidationSettings, get_settings
from manualqa.dedup import NearDuplicateIndex
from manualqa.governance import ExclusionList
from manualqa.harvest import Outcome, harvest
from manualqa.objectstore import LocalObjectStore
from manualqa.sources import FolderConnector
from sql import ingest
from sql.models import CrawlJob, Manual

LINES = [f"{i}. Remove the cover and rinse the pre-filter under warm water." for i in range(14)]
GOOD = build_pdf(PdfSpec(pages=[LINES, LINES[::-1]]))
MANIFEST = "file,vendor,product,license,license_expires_at\n"


def folder(tmp_path, name: str, files: dict[str, bytes]) -> FolderConnector:
    root = tmp_path / name
    root.mkdir()
    rows = [MANIFEST.strip()]
    for file_name, data in files.items():
        (root / file_name).write_bytes(data)
        rows.append(f"{file_name},Acme,AC-200,{name}-terms,")
    (root / "MANIFEST.csv").write_text("\n".join(rows) + "\n")
    return FolderConnector(root, name=name, namespace=name)


def run(session: Session, connector: FolderConnector, store: LocalObjectStore):
    with connector:
        result = harvest(
            connector,
            store,
            cursor=None,
            held=ingest.held_copies(session, connector.name),
            validation=ValidationSettings(),
            dedup=DedupSettings(),
            duplicates=NearDuplicateIndex(DedupSettings(), ingest.kept_signatures(session)),
            exclusions=ExclusionList(),
            config_version="1",
        )
    ingest.record_harvest(session, result)
    session.flush()
    return result


def test_a_run_is_recorded_and_the_next_one_finds_everything_unchanged(tmp_path, db_session):
    store = LocalObjectStore(tmp_path / "objects")
    source = folder(tmp_path, "vendor", {"ac-200.pdf": GOOD, "broken.pdf": b"%PDF-1.4 junk" * 20})
    first = run(db_session, source, store)
    assert first.counts()["quarantined"] == 1
    assert {i.outcome for i in first.items} == {Outcome.NEW, Outcome.QUARANTINED}

    second = run(db_session, folder_again(source), store)
    assert {i.outcome for i in second.items} == {Outcome.UNCHANGED}
    jobs = db_session.scalars(select(CrawlJob).order_by(CrawlJob.id)).all()
    assert [(j.new, j.quarantined, j.unchanged) for j in jobs] == [(1, 1, 0), (0, 0, 2)]
    assert [(j.discovered, j.fetched, j.status) for j in jobs] == [
        (2, 2, "succeeded"),
        (2, 0, "succeeded"),
    ]
    (held,) = ingest.list_quarantine(db_session)
    assert held.manual_key == "vendor:broken" and held.reason_code == "unreadable"
    assert held.object_key.startswith("quarantine/vendor:broken/")
    assert store.get(held.object_key) == b"%PDF-1.4 junk" * 20  # the bytes are kept


def folder_again(source: FolderConnector) -> FolderConnector:
    return FolderConnector(source.root, name=source.name, namespace=source.namespace)


def test_the_same_manual_from_two_sources_is_kept_once_and_linked(tmp_path, db_session):
    store = LocalObjectStore(tmp_path / "objects")
    run(db_session, folder(tmp_path, "api", {"ac-200.pdf": GOOD}), store)
    result = run(db_session, folder(tmp_path, "crawl", {"AC200_manual.pdf": GOOD}), store)
    (item,) = result.items
    assert item.outcome == Outcome.DUPLICATE and item.duplicate_of == "api:ac-200"
    assert ingest.duplicate_of(db_session, "crawl:ac200_manual") == "api:ac-200"
    statuses = dict(db_session.execute(select(Manual.key, Manual.status)).tuples().all())
    assert statuses == {"api:ac-200": "ingested", "crawl:ac200_manual": "duplicate"}
    assert result.to_materialize == []
    assert ingest.servable_keys(db_session) == {"api:ac-200"}


def test_revoked_or_expired_licenses_are_not_servable(tmp_path, db_session):
    store = LocalObjectStore(tmp_path / "objects")
    run(db_session, folder(tmp_path, "api", {"a.pdf": GOOD}), store)
    assert ingest.servable_keys(db_session, ["api:a"]) == {"api:a"}
    db_session.execute(
        Manual.__table__.update().values(license_expires_at=datetime.now(UTC) + timedelta(days=1))
    )
    assert ingest.servable_keys(db_session, now=datetime.now(UTC) + timedelta(days=2)) == set()
    ingest.revoke_license(db_session, "api:a", "cli:test", "vendor withdrew it")
    assert ingest.servable_keys(db_session) == set()


@pytest.fixture
def cli_env(tmp_path, database_url, monkeypatch) -> Iterator[Settings]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MANUALQA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_the_command_line_lists_releases_revokes_and_audits(tmp_path, db_session, cli_env, capsys):
    store = LocalObjectStore(cli_env.state_path(cli_env.object_store.root))
    run(
        db_session,
        folder(tmp_path, "api", {"ok.pdf": GOOD, "bad.pdf": b"<html>x</html>" * 9}),
        store,
    )
    db_session.commit()

    assert main(["quarantine", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["manual_key"], row["reason_code"]) == ("api:bad", "type_mismatch")

    assert main(["quarantine", "release", "api:bad", "--actor", "ops:alice"]) == 0
    assert "released api:bad: raw/api:bad/" in capsys.readouterr().out
    assert store.list("raw/api:bad") and main(["quarantine", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["quarantine", "release", "api:bad"]) == 1

    assert main(["license", "revoke", "api:ok", "--reason", "withdrawn"]) == 0
    assert main(["license", "revoke", "api:nope"]) == 1
    capsys.readouterr()
    assert main(["audit", "tail", "--json", "-n", "3"]) == 0
    actions = [r["action"] for r in json.loads(capsys.readouterr().out)]
    assert actions[-2:] == ["manual.released", "license.revoked"]

    assert main(["sources", "list", "--json"]) == 0
    (folder_row,) = json.loads(capsys.readouterr().out)
    assert folder_row["name"] == "folder" and folder_row["kind"] == "folder"


def test_a_run_counts_the_manuals_gone_from_its_source_and_the_cli_shows_it(
    tmp_path, db_session, cli_env, capsys
):
    store = LocalObjectStore(tmp_path / "objects")
    other = build_pdf(PdfSpec(pages=[[f"{i}. Drain the tank before storage." for i in range(14)]]))
    source = folder(tmp_path, "folder", {"a.pdf": GOOD, "b.pdf": other})
    run(db_session, source, store)
    (source.root / "b.pdf").unlink()

    second = run(db_session, folder_again(source), store)

    assert second.gone == ["folder:b"]
    jobs = db_session.scalars(select(CrawlJob).order_by(CrawlJob.id)).all()
    assert [j.gone for j in jobs] == [0, 1]
    db_session.commit()
    assert main(["sources", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["last_run"]["counts"]["gone"] == 1
    assert main(["sources", "list"]) == 0
    assert "discovered=1 unchanged=1 gone=1" in capsys.readouterr().out
