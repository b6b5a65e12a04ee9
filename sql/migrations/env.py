"""Alembic environment for the catalog schema; `sql.models` is the source of truth.

The URL is `sqlalchemy.url` when the caller set it (`sql.db.migrate`), else the one the
settings resolve to (`DATABASE_URL`, or the embedded server).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from sql.migrations import MIGRATION_LOCK_ID, autogenerate_options

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from manualqa.config import get_settings
    from sql.db import resolve_database_url

    return resolve_database_url(get_settings())


def _run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **autogenerate_options())
    with context.begin_transaction():
        # Held until commit: a concurrent upgrade waits here, then sees the new head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **autogenerate_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection)
        return
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
