"""Per-request governance checks: the cached withheld set follows every committed change
to a license at once, a license expiring while cached included, and API key rows are
read fresh on every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text, update

from manual_assets_tests.sql.test_ingest import GOOD, folder, run
from manualqa.objectstore import LocalObjectStore
from sql import ingest
from sql.access import CatalogAccess
from sql.api_keys import create_key, revoke_key
from sql.db import make_engine, session_scope
from sql.models import Manual

MANUAL = "api:a"
APP_NAME = "access-test"


@pytest.fixture
def access(db_session, database_url, tmp_path) -> Iterator[CatalogAccess]:
    """One committed manual (its insert sets the governance version) and an access reader."""
    run(db_session, folder(tmp_path, "api", {"a.pdf": GOOD}), LocalObjectStore(tmp_path / "o"))
    db_session.commit()
    engine = make_engine(
        database_url,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",
        connect_args={"application_name": APP_NAME},
    )
    reader = CatalogAccess(engine)
    yield reader
    reader.dispose()


def _set(engine: Engine, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(update(Manual).where(Manual.key == MANUAL).values(**values))


def test_a_committed_revocation_is_seen_by_the_next_read(access, db_engine):
    before, _ = access.read(None)
    assert before.version is not None and before.withheld_manual_keys == ()
    with session_scope(db_engine) as session:
        ingest.revoke_license(session, MANUAL, "pytest", "withdrawn")
    after, _ = access.read(None)
    assert after.version != before.version
    assert after.withheld_manual_keys == (MANUAL,)


def test_a_write_that_changes_nothing_served_keeps_the_version(access, db_engine):
    before, _ = access.read(None)
    _set(db_engine, title="A new title")
    assert access.read(None)[0].version == before.version


def test_a_license_expiring_while_cached_is_withheld_from_that_moment(access, db_engine):
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    _set(db_engine, license_expires_at=expires)
    cached, _ = access.read(None)
    assert cached.withheld_manual_keys == ()
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    expired, _ = access.read(None)
    assert expired.version == cached.version  # no write: the cached expiry decided
    assert expired.withheld_manual_keys == (MANUAL,)


def test_an_api_key_row_is_read_on_every_request(access, db_engine):
    with session_scope(db_engine) as session:
        record, _ = create_key(session, "reader", ["search"], "pytest")
    _, row = access.read(record.key_id)
    assert row is not None and row.revoked_at is None
    with session_scope(db_engine) as session:
        revoke_key(session, record.key_id, "pytest")
    _, row = access.read(record.key_id)
    assert row is not None and row.revoked_at is not None
    view, missing = access.read("0" * 16)
    assert missing is None and view.version is not None


def test_a_connection_the_server_dropped_costs_no_failed_read(access, db_engine):
    access.read(None)  # one idle connection of its own now (and the pool one more)
    with session_scope(db_engine) as session:
        dropped = session.scalars(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": APP_NAME},
        ).all()
    assert dropped and all(dropped)
    view, _ = access.read(None)
    assert view.version is not None


def _backends(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalars(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APP_NAME},
        ).one()


def test_reads_from_thread_after_thread_reuse_one_connection(access, db_engine):
    """Request threads come and go (an idle worker thread exits after a while): each read
    takes an idle connection and gives it back, so a new thread opens none."""
    access.read(None)
    opened = _backends(db_engine)
    for _ in range(20):
        reader = threading.Thread(target=access.read, args=(None,))
        reader.start()
        reader.join()
    assert _backends(db_engine) == opened
