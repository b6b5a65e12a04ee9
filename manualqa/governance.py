"""Governance: per-document license manifests and the exclusion list.

A manifest says under which terms a manual may be used, for which uses (`index`,
`serve`) and until when. The exclusion list names URLs, domains and vendors whose
documents are never ingested, whatever their source says. Both are plain data here;
the catalog stores manifests and serving consults them at read time.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from manualqa.config import LicenseDefaults
from manualqa.documents import ManualRef, parse_expiry, slugify

USES = ("index", "serve")


class GovernanceError(ValueError):
    """A license manifest or exclusion list is malformed."""


@dataclass(frozen=True)
class LicenseManifest:
    """Under which terms, for which uses and until when a manual may be used."""

    name: str
    terms: str = ""
    allowed_uses: frozenset[str] = frozenset(USES)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        unknown = set(self.allowed_uses) - set(USES)
        if unknown:
            raise GovernanceError(f"unknown license uses {sorted(unknown)}; known: {USES}")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise GovernanceError("a license expiry needs a time zone")

    def permits(self, use: str, now: datetime | None = None) -> bool:
        """Whether `use` is allowed at `now` (default: the current time)."""
        if use not in self.allowed_uses:
            return False
        return self.expires_at is None or (now or datetime.now(UTC)) < self.expires_at


def _expiry(value: str | None) -> datetime | None:
    try:
        return parse_expiry(value)
    except ValueError as exc:
        raise GovernanceError(str(exc)) from exc


def manifest_of(ref: ManualRef) -> LicenseManifest:
    """The license manifest a source stated for `ref`."""
    return LicenseManifest(
        name=ref.license,
        terms=ref.license_terms,
        allowed_uses=frozenset(ref.allowed_uses),
        expires_at=_expiry(ref.license_expires_at),
    )


def with_license(
    ref: ManualRef,
    defaults: LicenseDefaults,
    *,
    name: str | None = None,
    terms: str | None = None,
    allowed_uses: Iterable[str] | None = None,
    expires_at: str | None = None,
    now: datetime | None = None,
) -> ManualRef:
    """`ref` carrying the license a source stated, each part missing taken from `defaults`.

    Raises:
        GovernanceError: an unknown use or a malformed expiry.
    """
    expiry = _expiry(expires_at)
    if expiry is None and defaults.expires_after_days is not None:
        expiry = (now or datetime.now(UTC)) + timedelta(days=defaults.expires_after_days)
    manifest = LicenseManifest(
        name=name or defaults.name,
        terms=terms if terms is not None else defaults.terms,
        allowed_uses=frozenset(allowed_uses if allowed_uses is not None else defaults.allowed_uses),
        expires_at=expiry,
    )
    return replace(
        ref,
        license=manifest.name,
        license_terms=manifest.terms,
        allowed_uses=tuple(sorted(manifest.allowed_uses)),
        license_expires_at=manifest.expires_at.isoformat() if manifest.expires_at else None,
    )


@dataclass(frozen=True)
class ExclusionList:
    """URLs (shell patterns allowed), domains (and their subdomains) and vendors never
    to ingest."""

    urls: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    vendors: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def load(cls, path: Path) -> ExclusionList:
        """Read `urls`, `domains` and `vendors` lists from a YAML file; a missing file
        excludes nothing."""
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or set(data) - {"urls", "domains", "vendors"}:
            raise GovernanceError(f"{path} must map any of urls, domains, vendors to lists")
        for name, value in data.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise GovernanceError(f"{path}: {name} must be a list of strings")
        return cls(
            urls=tuple(data.get("urls", [])),
            domains=tuple(d.lower().lstrip(".") for d in data.get("domains", [])),
            vendors=frozenset(slugify(v) for v in data.get("vendors", [])),
        )

    def reason_to_exclude_url(self, url: str) -> str | None:
        """Why `url` is excluded, or None when it is not."""
        host = (urlsplit(url).hostname or "").lower()
        for domain in self.domains:
            if host == domain or host.endswith("." + domain):
                return f"domain {domain} is excluded"
        for pattern in self.urls:
            if fnmatch.fnmatchcase(url, pattern):
                return f"URL matches excluded pattern {pattern}"
        return None

    def reason_to_exclude(self, ref: ManualRef) -> str | None:
        """Why the manual `ref` is excluded (its vendor or its URL), or None."""
        if slugify(ref.vendor) in self.vendors:
            return f"vendor {ref.vendor} is excluded"
        if "://" in ref.uri:
            return self.reason_to_exclude_url(ref.uri)
        return None
