"""Fixtures shared by the whole suite: one embedded PostgreSQL per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from sql.db import ensure_database, make_engine, migrate
from sql.embedded import EmbeddedPostgres, start_embedded_postgres, stop_embedded_postgres
from sql.models import Base

pytest_plugins = [
    "manual_assets_tests.openai_stub",
    "manual_assets_tests.pipeline_fixtures",
    "manual_assets_tests.s3_server",
]

TEST_DATABASE = "manualqa_test"
SERVER_DIR_PREFIX = "manualqa-test-pg-"
OWNER_FILE = "owner.pid"
# Durability buys nothing in a throwaway test server; without it DROP DATABASE is instant.
TEST_SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_orphaned_servers(root: Path) -> None:
    """Stop and delete test servers left by sessions that were killed before teardown."""
    for data_dir in root.glob(f"{SERVER_DIR_PREFIX}*"):
        try:
            owner = int((data_dir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            stop_embedded_postgres(data_dir, mode="immediate")
            shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def _server_data_dir() -> Iterator[Path]:
    """A folder for an embedded server; whatever server runs there is stopped, then deleted.

    Not under pytest's basetemp: run as root, the server runs as another user, and every
    pytest session that starts (say, a colleague's) resets `/tmp/pytest-of-root` to mode
    0700, which would lock a running server out of its own files.
    """
    root = Path(tempfile.gettempdir())
    _remove_orphaned_servers(root)
    data_dir = Path(tempfile.mkdtemp(prefix=SERVER_DIR_PREFIX, dir=root))
    (data_dir / OWNER_FILE).write_text(str(os.getpid()))
    try:
        yield data_dir
    finally:
        stop_embedded_postgres(data_dir, mode="immediate")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL 18 + pgvector server shared by the whole session."""
    with _server_data_dir() as data_dir:
        yield start_embedded_postgres(data_dir, server_settings=TEST_SERVER_SETTINGS)


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    """An empty folder for a test's own embedded server, stopped and deleted afterwards."""
    with _server_data_dir() as data_dir:
        yield data_dir


@pytest.fixture(scope="session")
def database_url(pg_server: EmbeddedPostgres) -> str:
    """SQLAlchemy URL of a fresh database on `pg_server` with the catalog migrated to head."""
    url = pg_server.url(TEST_DATABASE)
    ensure_database(url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session on an emptied catalog; uncommitted work is rolled back afterwards."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with db_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with Session(db_engine, expire_on_commit=False) as session:
        yield session
        session.rollback()
