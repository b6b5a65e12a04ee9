"""What a request may read, checked against the catalog in one round trip.

Each request reads the governance version (`GovernanceVersion`) and, when it sent an API
key, that key's row, in one statement. What follows from the manuals' licenses (the
manuals withheld from serving) and from a restricted key's vendors and products (the
manuals it may see) is cached in process under the version, and read again only when the
version differs, or when the earliest license expiry among the servable manuals has
passed. Revoking a key or a license therefore takes effect on the next request, as it did
when every request re-read everything.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, Select, bindparam, literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sql import ingest
from sql.api_keys import KeyRow, visible_manual_keys
from sql.models import ApiKey, GovernanceVersion

log = logging.getLogger(__name__)

T = TypeVar("T")


# Built once, and compiled once per engine (`_Statement`): a request's read goes straight
# to the driver with a server-side prepared statement. Through SQLAlchemy's Core execute it
# cost three times the CPU (0.33 against 0.11 ms a read), more than the round trip itself.
_KEYS = ApiKey.__table__
_VERSION = select(GovernanceVersion.version).where(GovernanceVersion.id == 1)
_VERSION_AND_KEY = (
    select(_VERSION.scalar_subquery().label("governance_version"), *_KEYS.c)
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(_KEYS, _KEYS.c.key_id == bindparam("key_id"))
)


@dataclass(frozen=True)
class _Statement:
    """A statement compiled for the driver, with its fixed parameters bound."""

    sql: str
    params: dict[str, object]

    @classmethod
    def compile(cls, statement: Select[Any], engine: Engine) -> _Statement:
        compiled = statement.compile(dialect=engine.dialect)
        return cls(str(compiled), dict(compiled.params))

    def run(self, connection: psycopg.Connection[Any], **params: object) -> Any:
        cursor = connection.cursor(row_factory=namedtuple_row)
        return cursor.execute(self.sql, {**self.params, **params}, prepare=True).fetchone()


@dataclass(frozen=True)
class CatalogView:
    """The catalog's governance state one request was admitted under."""

    version: int | None  # None: the version row is missing (an emptied catalog); never cached
    withheld_manual_keys: tuple[str, ...]


@dataclass(frozen=True)
class _Withheld:
    version: int
    keys: tuple[str, ...]
    valid_until: datetime | None  # the next license expiry among servable manuals


class CatalogAccess:
    """Reads the governance version and an API key per request; caches the rest under it.

    `engine` should be a pool without pre-ping in autocommit mode (`make_engine(url,
    pool_pre_ping=False, isolation_level="AUTOCOMMIT")`). The per-request reads take their
    driver connection from a stack of idle ones of their own (opened through the engine, as
    many as reads ever ran at once: the API's `serving.request_threads`), so the one
    statement a request makes is its only round trip, with no pool checkout around it.
    Instead of pinging before each use, a read that finds its connection dropped (a server
    restart) drops every idle connection and is made once more on a new one.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._withheld: _Withheld | None = None
        self._visible: dict[tuple[int, tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}
        self._version = _Statement.compile(_VERSION, engine)
        self._version_and_key = _Statement.compile(_VERSION_AND_KEY, engine)
        self._idle: deque[psycopg.Connection[Any]] = deque()  # append and pop are atomic

    def dispose(self) -> None:
        self._close_idle()
        self._engine.dispose()

    def _close_idle(self) -> None:
        while True:
            try:
                self._idle.pop().close()
            except IndexError:
                return

    def _checkout(self) -> psycopg.Connection[Any]:
        try:
            return self._idle.pop()
        except IndexError:
            pooled = self._engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # ours from now on: back to `_idle` after each read
            assert isinstance(connection, psycopg.Connection)
            connection.autocommit = True
            return connection

    def read(self, key_id: str | None) -> tuple[CatalogView, KeyRow | None]:
        """The current view and the row of API key `key_id` (None: no such key, or none
        asked for). The row is read on every call, never cached."""
        return self._once_more_if_dropped(lambda: self._read(key_id))

    def _read(self, key_id: str | None) -> tuple[CatalogView, KeyRow | None]:
        connection = self._checkout()
        try:
            if key_id is None:
                found = self._version.run(connection)
                current, row = (found[0] if found else None), None
            else:
                found = self._version_and_key.run(connection, key_id=key_id)
                current = found.governance_version
                row = found if found.key_id is not None else None
        except BaseException:
            connection.close()
            raise
        self._idle.append(connection)
        return CatalogView(current, self._withheld_under(current)), row

    def visible_manual_keys(
        self, view: CatalogView, vendors: tuple[str, ...], products: tuple[str, ...]
    ) -> tuple[str, ...]:
        """Keys of the manuals of `vendors` or `products` (slugs), as of `view`."""
        cache_key = (view.version, vendors, products) if view.version is not None else None
        with self._lock:
            cached = self._visible.get(cache_key) if cache_key else None
        if cached is not None:
            return cached
        keys = self._once_more_if_dropped(lambda: self._visible_keys(vendors, products))
        if cache_key is not None:
            with self._lock:
                self._visible = {k: v for k, v in self._visible.items() if k[0] == view.version}
                self._visible[cache_key] = keys
        return keys

    def _visible_keys(self, vendors: tuple[str, ...], products: tuple[str, ...]) -> tuple[str, ...]:
        with Session(self._engine) as session:
            return visible_manual_keys(session, vendors, products)

    def _once_more_if_dropped(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except DBAPIError as exc:  # a read through the pool
            if not exc.connection_invalidated:
                raise
        except psycopg.OperationalError:  # a read on one of our own connections
            # The same restart left the idle ones, and the engine's pool, dead too.
            self._close_idle()
            self._engine.dispose()
        log.info("catalog connection was dropped; reading again on a new one")
        return read()

    def _withheld_under(self, version: int | None) -> tuple[str, ...]:
        now = datetime.now(UTC)
        with self._lock:
            cached = self._withheld
        if (
            cached is not None
            and cached.version == version
            and (cached.valid_until is None or now < cached.valid_until)
        ):
            return cached.keys
        # Read after the version: these rows include at least that version's changes.
        with Session(self._engine) as session:
            keys = tuple(sorted(ingest.withheld_keys(session, now=now)))
            if version is None:  # an emptied catalog: nothing to cache under
                return keys
            valid_until = ingest.next_license_expiry(session, now=now)
        with self._lock:
            self._withheld = _Withheld(version, keys, valid_until)
        return keys
