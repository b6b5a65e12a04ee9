"""The embedded server is shared across processes, survives a restart, and resolves URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from manualqa.config import PostgresSettings, Settings
from sql.db import dagster_storage_url, make_engine, normalize_url, resolve_database_url
from sql.embedded import (
    EmbeddedPostgres,
    running_embedded_postgres,
    start_embedded_postgres,
    stop_embedded_postgres,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _scalar(url: str, query: str) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def test_another_process_reuses_the_running_server(pg_server: EmbeddedPostgres) -> None:
    script = (
        "import sys; from pathlib import Path; from sql.embedded import start_embedded_postgres;"
        "server = start_embedded_postgres(Path(sys.argv[1])); print(server.pid, server.url())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(pg_server.data_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    pid, url = result.stdout.split()
    assert (int(pid), url) == (pg_server.pid, pg_server.url())
    # The other process has exited; the server it reused must still be serving.
    assert running_embedded_postgres(pg_server.data_dir) == pg_server
    assert _scalar(pg_server.url(), "SELECT 1") == 1


def test_a_stopped_server_restarts_with_its_data(pg_data_dir: Path) -> None:
    first = start_embedded_postgres(pg_data_dir)
    engine = make_engine(first.url())
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE kept (id int)"))
        connection.execute(text("INSERT INTO kept VALUES (42)"))
    engine.dispose()

    assert stop_embedded_postgres(pg_data_dir)
    assert running_embedded_postgres(pg_data_dir) is None
    assert not stop_embedded_postgres(pg_data_dir)

    # As after a reboot: the pid file outlived the server and its pid now names another
    # live program (this test process).
    (first.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{first.pgdata}\n")
    second = start_embedded_postgres(pg_data_dir)
    assert second.pid != first.pid
    assert _scalar(second.url(), "SELECT id FROM kept") == 42


def test_resolve_database_url_creates_the_configured_database(
    pg_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL_FILE", raising=False)
    settings = Settings(
        postgres=PostgresSettings(data_dir=pg_server.data_dir, database="resolved_catalog")
    )

    url = resolve_database_url(settings)

    assert url == pg_server.url("resolved_catalog")
    assert url.startswith("postgresql+psycopg://")
    assert _scalar(url, "SELECT current_database()") == "resolved_catalog"
    assert resolve_database_url(settings) == url


def test_resolve_database_url_prefers_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app:s3cr%40t@db.internal:6543/catalog")

    url = resolve_database_url(Settings())

    assert url == "postgresql+psycopg://app:s3cr%40t@db.internal:6543/catalog"


def test_dagster_storage_url_connects_through_psycopg2(database_url: str) -> None:
    url = dagster_storage_url(database_url)

    assert url.startswith("postgresql+psycopg2://postgres:@/manualqa_test?host=/")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.dialect.driver == "psycopg2"
            assert connection.execute(text("SELECT current_database()")).scalar_one() == (
                "manualqa_test"
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u:@/db?host=/s/d", "postgresql+psycopg://u:@/db?host=/s/d"),
        (
            "postgres://u:p@h:1/db?sslmode=require",
            "postgresql+psycopg://u:p@h:1/db?sslmode=require",
        ),
    ],
)
def test_normalize_url_targets_psycopg3(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_normalize_url_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        normalize_url("sqlite:///catalog.db")
