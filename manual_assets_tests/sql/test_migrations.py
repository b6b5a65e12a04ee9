"""The Alembic migrations build exactly the schema `sql.models` declares, and undo it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, String, inspect, text

from sql.db import alembic_config, drop_database, ensure_database, make_engine, migrate
from sql.embedded import EmbeddedPostgres
from sql.migrations import autogenerate_options
from sql.models import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG_TABLES = set(Base.metadata.tables)


@pytest.fixture
def fresh_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    url = pg_server.url(f"migrations_{uuid.uuid4().hex[:12]}")
    ensure_database(url)
    yield url
    drop_database(url)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _has_vector_extension(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            return connection.execute(query).first() is not None
    finally:
        engine.dispose()


def _diff(url: str, metadata: MetaData) -> list[object]:
    """Autogenerate's diff of `metadata` against the database; any warning fails the test."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # e.g. "Did not recognize type 'vector'" or "Computed default ... cannot be
            # modified": either means the comparison silently skipped something.
            warnings.simplefilter("error")
            options = {**autogenerate_options(), "target_metadata": metadata}
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(fresh_url: str) -> None:
    migrate(fresh_url)
    assert _tables(fresh_url) == CATALOG_TABLES | {"alembic_version"}
    assert _has_vector_extension(fresh_url)

    command.downgrade(alembic_config(fresh_url), "base")
    assert _tables(fresh_url) == {"alembic_version"}
    assert not _has_vector_extension(fresh_url)

    migrate(fresh_url)
    assert _tables(fresh_url) == CATALOG_TABLES | {"alembic_version"}
    assert _diff(fresh_url, Base.metadata) == []


def test_migrated_schema_has_no_drift_from_models(fresh_url: str) -> None:
    migrate(fresh_url)
    assert _diff(fresh_url, Base.metadata) == []


def test_drift_check_sees_a_changed_column_type(fresh_url: str) -> None:
    """The empty diff above is meaningful: the comparison does look at column types."""
    migrate(fresh_url)
    altered = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(altered)
    altered.tables["chunks"].c.page_label.type = String(80)

    diff = _diff(fresh_url, altered)

    assert len(diff) == 1
    change: Any = diff[0]
    if isinstance(change, list):  # column changes come wrapped in a list
        (change,) = change
    assert change[0] == "modify_type"
    assert (change[2], change[3]) == ("chunks", "page_label")


def test_index_methods_and_operator_classes_match_models(fresh_url: str) -> None:
    """Autogenerate ignores an index's access method and operator class; check them here."""
    migrate(fresh_url)
    engine = make_engine(fresh_url)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            reflected = {ix["name"]: ix for ix in inspector.get_indexes(table.name)}
            for index in table.indexes:
                options = reflected[index.name].get("dialect_options", {})
                expected_using = index.dialect_options["postgresql"]["using"]
                assert options.get("postgresql_using", "btree") == (expected_using or "btree")
                expected_ops = index.dialect_options["postgresql"]["ops"] or {}
                assert options.get("postgresql_ops", {}) == expected_ops, index.name
    finally:
        engine.dispose()


def test_concurrent_migrations_from_several_processes_apply_once(fresh_url: str) -> None:
    script = "import sys; from sql.db import migrate; migrate(sys.argv[1])"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, fresh_url],
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr

    engine = make_engine(fresh_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in versions] == [
        (ScriptDirectory.from_config(alembic_config(fresh_url)).get_current_head(),)
    ]
    assert _tables(fresh_url) == CATALOG_TABLES | {"alembic_version"}


def test_alembic_command_line_upgrades_from_the_repository_root(fresh_url: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MANUALQA_")}
    env.pop("DATABASE_URL_FILE", None)
    env["DATABASE_URL"] = fresh_url
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "sql/alembic.ini", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _tables(fresh_url) == CATALOG_TABLES | {"alembic_version"}


def _alembic(url: str, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MANUALQA_")}
    env.pop("DATABASE_URL_FILE", None)
    env |= {"DATABASE_URL": url, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "sql/alembic.ini", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _embedding_width(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
                    "AND attname = 'embedding'"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def test_the_embedding_column_takes_the_configured_dimension(fresh_url: str) -> None:
    wide = {"MANUALQA_EMBEDDING__DIMENSION": "1536"}
    assert _alembic(fresh_url, "upgrade", "0005", **wide).returncode == 0
    assert _embedding_width(fresh_url) == 1536
    assert _alembic(fresh_url, "downgrade", "0003", **wide).returncode == 0
    assert _embedding_width(fresh_url) == 384


def test_stored_vectors_of_another_width_stop_the_resize(fresh_url: str) -> None:
    assert _alembic(fresh_url, "upgrade", "0003").returncode == 0
    engine = make_engine(fresh_url)
    vector = "[" + ",".join(["0.1"] * 384) + "]"
    try:
        with engine.begin() as connection:
            # a stored vector is all this needs, not a whole manual behind it
            connection.execute(
                text("ALTER TABLE embeddings DROP CONSTRAINT fk_embeddings_chunk_id_chunks")
            )
            connection.execute(
                text("INSERT INTO embeddings VALUES ('c1', 'm', CAST(:v AS vector))"), {"v": vector}
            )
    finally:
        engine.dispose()
    result = _alembic(fresh_url, "upgrade", "0005", MANUALQA_EMBEDDING__DIMENSION="1536")
    assert result.returncode != 0
    assert "holds 384-d embeddings" in result.stderr and "re-embed" in result.stderr
    assert _embedding_width(fresh_url) == 384


def test_0007_drops_the_unread_search_copies_and_its_downgrade_restores_them(
    fresh_url: str,
) -> None:
    wide = {"MANUALQA_EMBEDDING__DIMENSION": "1536"}
    assert _alembic(fresh_url, "upgrade", "head", **wide).returncode == 0
    assert "embeddings" not in _tables(fresh_url)
    assert "tsv" not in _columns(fresh_url, "chunks")

    assert _alembic(fresh_url, "downgrade", "0006", **wide).returncode == 0
    assert _embedding_width(fresh_url) == 1536
    assert "tsv" in _columns(fresh_url, "chunks")

    assert _alembic(fresh_url, "upgrade", "head").returncode == 0
    assert _tables(fresh_url) == CATALOG_TABLES | {"alembic_version"}


def _columns(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_0009_counts_gone_manuals_in_crawl_jobs_and_its_downgrade_drops_the_count(
    fresh_url: str,
) -> None:
    before = ScriptDirectory.from_config(alembic_config(fresh_url)).get_revision("0009")
    assert before is not None and isinstance(before.down_revision, str)
    assert _alembic(fresh_url, "upgrade", before.down_revision).returncode == 0
    assert "gone" not in _columns(fresh_url, "crawl_jobs")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO crawl_jobs (source, new) VALUES ('api', 2)"))
    finally:
        engine.dispose()

    assert _alembic(fresh_url, "upgrade", "0009").returncode == 0
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT new, gone FROM crawl_jobs")).one()
    finally:
        engine.dispose()
    assert tuple(row) == (2, 0)  # a run recorded before the count existed counts none

    assert _alembic(fresh_url, "downgrade", before.down_revision).returncode == 0
    assert "gone" not in _columns(fresh_url, "crawl_jobs")
    assert _alembic(fresh_url, "upgrade", "head").returncode == 0
    assert "gone" in _columns(fresh_url, "crawl_jobs")
