"""API keys: created, listed, revoked and checked; only a hash of each secret is stored.

A key reads `mqa_<key id>_<secret>`. The key id is public (it names the key in lists,
logs and usage records); the secret is 32 random bytes, so a plain SHA-256 of it is as
hard to invert as the secret is to guess, and checking it costs microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sql.catalog import record_audit
from sql.models import ApiKey, Manual, Product, Vendor

SCOPES = ("search", "ask", "sql", "admin", "webhook")
PREFIX = "mqa"


class ApiKeyError(ValueError):
    """A key that cannot be created or revoked as asked."""


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    vendors: tuple[str, ...]
    products: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def restricted(self) -> bool:
        return bool(self.vendors or self.products)


class KeyRow(Protocol):
    """A key's row: an `ApiKey`, or a row of its table's columns."""

    @property
    def key_id(self) -> str: ...
    @property
    def secret_sha256(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def vendors(self) -> list[str]: ...
    @property
    def products(self) -> list[str]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def created_by(self) -> str: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def _record(row: KeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.key_id,
        name=row.name,
        scopes=tuple(row.scopes),
        vendors=tuple(row.vendors),
        products=tuple(row.products),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """The (key id, secret) of a well-formed key, else None."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 16 or len(secret) < 32:
        return None
    return key_id, secret


def create_key(
    session: Session,
    name: str,
    scopes: list[str],
    actor: str,
    vendors: list[str] | None = None,
    products: list[str] | None = None,
) -> tuple[ApiKeyRecord, str]:
    """Store a new key and return it with its plain text, which is shown only this once.

    Raises:
        ApiKeyError: no scope, an unknown scope, or a vendor or product slug the
            catalog does not have.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ApiKeyError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
    vendors, products = sorted(set(vendors or [])), sorted(set(products or []))
    _check_slugs(session, Vendor, vendors, "vendor")
    _check_slugs(session, Product, products, "product")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = ApiKey(
        key_id=key_id,
        secret_sha256=_digest(secret),
        name=name,
        scopes=sorted(set(scopes)),
        vendors=vendors,
        products=products,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    detail = {"name": name, "scopes": row.scopes, "vendors": vendors, "products": products}
    record_audit(session, actor, "api_key.created", key_id, detail)
    return _record(row), f"{PREFIX}_{key_id}_{secret}"


def _check_slugs(
    session: Session, model: type[Vendor | Product], slugs: list[str], what: str
) -> None:
    if not slugs:
        return
    known = set(session.scalars(select(model.slug).where(model.slug.in_(slugs))))
    missing = [s for s in slugs if s not in known]
    if missing:
        raise ApiKeyError(f"no {what} with slug {', '.join(missing)} in the catalog")


def list_keys(session: Session, include_revoked: bool = False) -> list[ApiKeyRecord]:
    """Every key, newest first; revoked ones only when asked."""
    query = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_record(row) for row in session.scalars(query)]


def revoke_key(session: Session, key_id: str, actor: str) -> ApiKeyRecord:
    """Revoke a key from now on.

    Raises:
        ApiKeyError: no key with this id, or it is already revoked.
    """
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        raise ApiKeyError(f"no API key {key_id!r}")
    if row.revoked_at is not None:
        raise ApiKeyError(f"API key {key_id!r} was revoked at {row.revoked_at.isoformat()}")
    session.execute(
        update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=datetime.now().astimezone())
    )
    session.refresh(row)
    record_audit(session, actor, "api_key.revoked", key_id, {"name": row.name})
    return _record(row)


def verify_key(session: Session, key: str) -> ApiKeyRecord | None:
    """The active key this plain text is, or None (malformed, unknown, wrong or revoked)."""
    parts = split_key(key)
    if parts is None:
        return None
    key_id, secret = parts
    return admitted(session.scalar(select(ApiKey).where(ApiKey.key_id == key_id)), secret)


def admitted(row: KeyRow | None, secret: str) -> ApiKeyRecord | None:
    """The record of key `row` when it exists, is not revoked and `secret` is its secret."""
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _digest(secret)):
        return None
    return _record(row)


def visible_manual_keys(
    session: Session, vendors: tuple[str, ...], products: tuple[str, ...]
) -> tuple[str, ...]:
    """Keys of the manuals whose vendor is one of `vendors` or whose product is one of
    `products` (slugs)."""
    query = (
        select(Manual.key)
        .join(Product, Manual.product_id == Product.id)
        .join(Vendor, Product.vendor_id == Vendor.id)
        .where(or_(Vendor.slug.in_(vendors), Product.slug.in_(products)))
        .order_by(Manual.key)
    )
    return tuple(session.scalars(query))
