"""The read-only role cannot write, even with the guard bypassed; it reads what the
allow-list names and nothing else."""

import contextlib
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sql.allowlist import ALLOWED_COLUMNS, READONLY_ROLE
from sql.guard import CheckedStatement
from sql.readonly import NotReadOnlyError, StatementTimeout, run_readonly, verify_readonly

WRITES = [
    "INSERT INTO vendors (slug, name) VALUES ('evil', 'Evil')",
    "UPDATE manuals SET title = 'owned'",
    "DELETE FROM manuals",
    "TRUNCATE manuals CASCADE",
    "DROP TABLE manuals",
    "CREATE TABLE stolen (id int)",
    "CREATE TEMP TABLE scratch (id int)",
    "ALTER TABLE manuals ADD COLUMN owned int",
    "GRANT SELECT ON audit_log TO manualqa_readonly",
    "SET ROLE postgres",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY vendors FROM PROGRAM 'id'",
    "SELECT content_hash FROM manuals",
    "SELECT detail FROM audit_log",
    "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_role_refuses_writes_and_unlisted_reads_without_the_guard(
    readonly_engine, demo_catalog, statement
):
    with readonly_engine.connect() as connection, pytest.raises(DBAPIError) as failed:
        connection.exec_driver_sql(statement)
    assert failed.value.orig.sqlstate in {"42501", "25006"}  # privilege / read-only transaction


def test_even_a_read_write_transaction_of_the_role_cannot_write(readonly_engine, demo_catalog):
    with readonly_engine.connect() as connection:
        connection.exec_driver_sql("SET default_transaction_read_only = off")
        connection.exec_driver_sql("SET TRANSACTION READ WRITE")
        with pytest.raises(DBAPIError) as failed:
            connection.exec_driver_sql("UPDATE manuals SET title = 'owned'")
    assert failed.value.orig.sqlstate == "42501"  # insufficient privilege


def test_the_catalog_is_unchanged_after_the_attempts(db_engine, readonly_engine, demo_catalog):
    for statement in WRITES:
        with readonly_engine.connect() as connection, contextlib.suppress(DBAPIError):
            connection.exec_driver_sql(statement)
    with db_engine.connect() as connection:
        titles = connection.execute(text("SELECT title FROM manuals")).scalars().all()
    assert len(titles) == len(demo_catalog.refs) and "owned" not in titles


def test_grants_match_the_allow_list(db_engine):
    with db_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.column_privileges "
                "WHERE grantee = :role AND privilege_type = 'SELECT'"
            ),
            {"role": READONLY_ROLE},
        ).all()
    granted = {(t, c) for t, c in rows}
    assert granted == {(t, c) for t, cols in ALLOWED_COLUMNS.items() for c in cols}


def test_a_login_that_can_write_is_refused(db_engine):
    with pytest.raises(NotReadOnlyError, match="can write"):
        verify_readonly(db_engine)


def test_a_slow_statement_is_cancelled(readonly_engine):
    # Built by hand: the guard would refuse pg_sleep; the timeout must hold without it.
    slow = CheckedStatement(sql="SELECT pg_sleep(5)")
    started = time.monotonic()
    with pytest.raises(StatementTimeout, match="200 ms"):
        run_readonly(readonly_engine, slow, 200)
    assert time.monotonic() - started < 3
