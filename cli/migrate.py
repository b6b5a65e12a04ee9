"""`manualqa migrate`: bring the catalog schema to head, the one place migrations run.

The API and the Dagster code location only check the schema (`sql.db.check_schema`) and
refuse to work on an older one; `manualqa up` runs this before it starts any server.
"""

from __future__ import annotations

import argparse

from manualqa.config import Settings, get_settings
from sql import db
from sql.embedded import running_embedded_postgres, stop_embedded_postgres


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "migrate",
        help="upgrade the catalog schema to the latest revision",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.set_defaults(handler=run)


def migrate_catalog(settings: Settings) -> str:
    """Upgrade the configured catalog (starting the embedded server if it is the one) and
    return its URL."""
    url = db.resolve_database_url(settings)
    db.migrate(url)
    return url


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    embedded = settings.state_path(settings.postgres.data_dir)
    started_here = settings.database_url is None and running_embedded_postgres(embedded) is None
    try:
        migrate_catalog(settings)
    finally:
        if started_here:
            stop_embedded_postgres(embedded)
    return 0
