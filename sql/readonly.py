"""Running checked statements as the read-only role, on its own connections.

The role (migration 0003) can read only the allow-listed columns, owns nothing and
starts every session read-only; each statement also runs in a `READ ONLY` transaction
with a `statement_timeout`. So a statement that slipped past the guard still cannot
write, and cannot run for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from manualqa.config import Settings
from sql.allowlist import READONLY_ROLE
from sql.db import normalize_url, render_url
from sql.guard import CheckedStatement

_QUERY_CANCELED = "57014"


class StatementTimeout(RuntimeError):
    """The statement ran longer than its timeout and was cancelled."""


class NotReadOnlyError(RuntimeError):
    """The configured read-only login could write; the SQL path refuses to use it."""


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def readonly_url(settings: Settings, catalog_url: str) -> str:
    """`READONLY_DATABASE_URL`, else the catalog URL as `manualqa_readonly` with no password."""
    if settings.readonly_database_url is not None:
        return normalize_url(settings.readonly_database_url.get_secret_value())
    url = make_url(normalize_url(catalog_url)).set(username=READONLY_ROLE, password=None)
    return render_url(url)


def make_readonly_engine(url: str) -> Engine:
    """An engine for the read-only login, checked: it must not be able to write."""
    engine = create_engine(normalize_url(url), pool_pre_ping=True, pool_size=4, max_overflow=4)
    verify_readonly(engine)
    return engine


def verify_readonly(engine: Engine) -> None:
    """Refuse a login that is a superuser or may change any catalog table.

    Raises:
        NotReadOnlyError: naming the role and what it could do.
    """
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT current_user, r.rolsuper, r.rolbypassrls, "
                "  EXISTS (SELECT FROM information_schema.table_privileges p "
                "          WHERE p.grantee = current_user "
                "            AND p.privilege_type IN ('INSERT','UPDATE','DELETE','TRUNCATE')) "
                "  OR EXISTS (SELECT FROM information_schema.column_privileges c "
                "          WHERE c.grantee = current_user "
                "            AND c.privilege_type IN ('INSERT','UPDATE')), "
                "  EXISTS (SELECT FROM pg_tables t WHERE t.tableowner = current_user) "
                "FROM pg_roles r WHERE r.rolname = current_user"
            )
        ).one()
    user, superuser, bypass_rls, writes, owns = row
    if superuser or bypass_rls or writes or owns:
        raise NotReadOnlyError(
            f"the text-to-SQL login {user!r} can write (superuser={superuser}, "
            f"write grants={writes}, owns tables={owns}); give it the {READONLY_ROLE} role"
        )


def run_readonly(engine: Engine, statement: CheckedStatement, timeout_ms: int) -> Rows:
    """Run a checked statement in a READ ONLY transaction with a statement timeout.

    Raises:
        StatementTimeout: it ran past `timeout_ms`.
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            result = connection.exec_driver_sql(statement.sql, statement.params)
            columns = list(result.keys())
            rows = [tuple(r) for r in result.fetchall()]
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise StatementTimeout(
                    f"the statement ran longer than {timeout_ms} ms and was cancelled"
                ) from exc
            raise
        finally:
            transaction.rollback()  # nothing to keep: it only read
    return Rows(columns=columns, rows=rows)


def catalog_names(engine: Engine) -> dict[str, Sequence[Any]]:
    """Vendor, product and license names as stored, for the `sql` prompt."""
    with engine.connect() as connection:
        vendor_names: list[str] = list(
            connection.execute(text("SELECT name FROM vendors ORDER BY name")).scalars()
        )
        products = connection.execute(
            text(
                "SELECT p.name, v.name FROM products p JOIN vendors v ON v.id = p.vendor_id "
                "ORDER BY p.name"
            )
        ).all()
        license_names: list[str] = list(
            connection.execute(text("SELECT name FROM licenses ORDER BY name")).scalars()
        )
        connection.rollback()
    return {
        "vendors": vendor_names,
        "products": [[name, vendor] for name, vendor in products],
        "licenses": license_names,
    }
