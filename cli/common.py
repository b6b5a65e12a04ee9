"""What the command groups share: the catalog, the acting identity, JSON output."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from manualqa.config import get_settings
from sql import db


@contextmanager
def catalog_session() -> Iterator[Session]:
    """A session on the configured catalog, migrated to head first; commits on success."""
    url = db.resolve_database_url(get_settings())
    db.migrate(url)
    engine = db.make_engine(url)
    try:
        with db.session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor", default=None, help="identity recorded in the audit log (default: cli:$USER)"
    )


def actor(args: argparse.Namespace) -> str:
    return str(args.actor or f"cli:{getpass.getuser()}")


def print_json(value: Any) -> None:
    """Dataclasses, datetimes and lists of them, as JSON on stdout."""

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")

    sys.stdout.write(json.dumps(value, default=default, indent=1) + "\n")


def fail(message: str) -> int:
    sys.stderr.write(f"manualqa: {message}\n")
    return 1
