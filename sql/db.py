"""Connections: resolving the catalog URL, engines, sessions and migrations."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from manualqa.config import Settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
SQLALCHEMY_DRIVER = "postgresql+psycopg"
DAGSTER_DRIVER = "postgresql+psycopg2"

_alembic_lock = threading.Lock()

_DUPLICATE_DATABASE = "42P04"
_UNIQUE_VIOLATION = "23505"
_OBJECT_IN_USE = "55006"


def resolve_database_url(settings: Settings) -> str:
    """The catalog's SQLAlchemy URL (`postgresql+psycopg://...`).

    `settings.database_url` when set; otherwise the embedded server under
    `settings.postgres.data_dir` inside `data_dir` (started if it is not running yet) and
    its database `settings.postgres.database` (created if missing).
    """
    if settings.database_url is not None:
        return normalize_url(settings.database_url.get_secret_value())
    from sql.embedded import start_embedded_postgres

    server = start_embedded_postgres(settings.state_path(settings.postgres.data_dir))
    url = server.url(settings.postgres.database)
    ensure_database(url)
    return url


def normalize_url(url: str) -> str:
    """Point a PostgreSQL URL (`postgres://`, `postgresql://`, any driver) at psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise ValueError(f"the catalog needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return render_url(parsed.set(drivername=SQLALCHEMY_DRIVER))


def dagster_storage_url(url: str, database: str | None = None) -> str:
    """A `postgres_url` for dagster-postgres (psycopg2 driver) on the same server.

    dagster-postgres 0.29 breaks on psycopg 3, and a unix socket folder can only be given
    as the `host` query parameter: `postgresql+psycopg2://user:@/db?host=/socket/dir`.
    Dagster keeps its own Alembic history, so give it its own `database` on the server.
    """
    parsed = make_url(url).set(drivername=DAGSTER_DRIVER)
    if database is not None:
        parsed = parsed.set(database=database)
    return render_url(parsed)


def render_url(url: URL) -> str:
    """Render `url` with its password, keeping `/` readable in query values (socket paths)."""
    netloc = ""
    if url.username is not None:
        netloc = quote(url.username, safe="")
        if url.password is not None:
            netloc += ":" + quote(str(url.password), safe="")
        netloc += "@"
    if url.host:
        netloc += f"[{url.host}]" if ":" in url.host else url.host
    if url.port is not None:
        netloc += f":{url.port}"
    rendered = f"{url.drivername}://{netloc}/{quote(url.database or '', safe='')}"
    if url.query:
        pairs = []
        for name, value in url.query.items():
            values = value if isinstance(value, tuple) else (value,)
            pairs += [f"{quote(name, safe='')}={quote(v, safe='/')}" for v in values]
        rendered += "?" + "&".join(pairs)
    return rendered


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine that checks pooled connections before use (servers restart under us)."""
    options: dict[str, object] = {"pool_pre_ping": True}
    options.update(kwargs)
    return create_engine(normalize_url(url), **options)  # type: ignore[arg-type]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises.

    Objects stay readable after the block (`expire_on_commit=False`).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    """An Alembic config for the catalog migrations against `url`, without `alembic.ini`."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats % specially; URL-escaped characters carry them.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    # The application owns logging; env.py reads this to skip `fileConfig`.
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the catalog schema at `url` to `revision`.

    Safe at every start and from several processes at once: env.py holds a PostgreSQL
    advisory lock for the whole upgrade, so a second caller waits and then finds
    nothing to do. Alembic's `context` is module-global, so threads take turns.
    """
    started = time.monotonic()
    with _alembic_lock:
        command.upgrade(alembic_config(url), revision)
    logger.info("catalog schema at %s (%.2fs)", revision, time.monotonic() - started)


class SchemaOutOfDateError(RuntimeError):
    """The catalog schema is not at the revision this code was written for."""


def check_schema(url: str) -> None:
    """Refuse to work on a catalog whose schema is not at head.

    Migrations run in one place (`manualqa migrate`, which `manualqa up` calls before it
    starts any server); everything else only checks, so two code versions never race to
    change the schema under each other.

    Raises:
        SchemaOutOfDateError: the database is behind (or ahead of) the migrations.
    """
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if current != head:
        raise SchemaOutOfDateError(
            f"the catalog schema is at revision {current or 'none'}, this code needs {head}: "
            "run `manualqa migrate`"
        )


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it is missing; return whether it was created.

    Connects to the server's `postgres` database; needs the CREATEDB privilege only when
    the database is missing.
    """
    target = make_url(normalize_url(url))
    name = target.database
    if not name:
        raise ValueError("the URL names no database")
    admin = create_engine(
        target.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        for attempt in range(20):
            with admin.connect() as connection:
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if exists is not None:
                    return False
                quoted = admin.dialect.identifier_preparer.quote(name)
                try:
                    connection.execute(text(f"CREATE DATABASE {quoted}"))
                except DBAPIError as exc:
                    code = _sqlstate(exc)
                    if code in {_DUPLICATE_DATABASE, _UNIQUE_VIOLATION}:
                        return False  # another process created it first
                    if code == _OBJECT_IN_USE and attempt < 19:
                        # The template database is busy with a concurrent CREATE DATABASE.
                        time.sleep(0.1)
                        continue
                    raise
                logger.info("created database %s", name)
                return True
    finally:
        admin.dispose()
    return False


def drop_database(url: str) -> None:
    """Drop the database named in `url` if it exists, closing its other connections."""
    target = make_url(normalize_url(url))
    admin = create_engine(
        target.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            quoted = admin.dialect.identifier_preparer.quote(target.database or "")
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()


def _sqlstate(exc: DBAPIError) -> str | None:
    original = exc.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
