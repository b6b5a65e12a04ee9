"""A local folder of manuals, optionally described by a MANIFEST.csv."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

from manualqa.config import LicenseDefaults
from manualqa.documents import ManualRef, slugify
from manualqa.governance import GovernanceError, with_license
from manualqa.sources.base import (
    KEY_SEPARATOR,
    Discovery,
    Fetched,
    FetchResult,
    SourceError,
    Unchanged,
    Validators,
    media_type_for,
)

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.csv"


class FolderConnector:
    """The manuals in one folder.

    With a `MANIFEST.csv` (columns `file`, and any of `key`, `vendor`, `product`,
    `title`, `license`, `is_public`, `license_terms`, `allowed_uses` (space separated),
    `license_expires_at`, `edition` (or `version`), `published` (an ISO date) and
    `aliases` (other product names, `;` separated)), the manifest is the list: it
    supplies catalog metadata, and files it does not name (a README, say) are skipped
    with a log line. Without one, every supported file directly in the folder is a
    manual, with defaults and a key from its file stem. A file's mtime and size are its
    entity tag; the cursor remembers the tag of every file offered, so a second
    discovery offers only what changed.
    """

    def __init__(
        self,
        root: Path,
        default_vendor: str = "unknown",
        default_license: str = "unknown",
        *,
        name: str = "folder",
        namespace: str = "",
        license_defaults: LicenseDefaults | None = None,
    ):
        self.root = root
        self.name = name
        self.namespace = namespace
        self.default_vendor = default_vendor
        self.license_defaults = (license_defaults or LicenseDefaults()).model_copy(
            update={"name": default_license}
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def _manifest(self) -> dict[str, dict[str, str]]:
        path = self.root / MANIFEST
        if not path.exists():
            return {}
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "file" not in rows[0]:
            raise SourceError(f"{path} has no 'file' column")
        return {row["file"]: row for row in rows}

    def list_all(self) -> list[ManualRef]:
        """Every manual in the folder now, sorted by key."""
        if not self.root.is_dir():
            raise SourceError(f"manual folder {self.root} does not exist")
        manifest = self._manifest()
        refs = []
        for path in sorted(self.root.iterdir()):
            media_type = media_type_for(path.name)
            if not path.is_file() or media_type is None:
                continue
            if manifest and path.name not in manifest:
                log.info("%s is not in %s; skipped", path.name, MANIFEST)
                continue
            refs.append(self._ref(path, media_type, manifest.get(path.name, {})))
        missing = sorted(set(manifest) - {ref.file_name for ref in refs})
        if missing:
            log.warning("%s lists files that are not in %s: %s", MANIFEST, self.root, missing)
        keys = [ref.key for ref in refs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise SourceError(f"two files map to the same manual key: {duplicates}")
        return sorted(refs, key=lambda r: r.key)

    def discover(self, cursor: str | None = None) -> Discovery:
        """The files new or changed since `cursor`; the folder is one page."""
        seen: dict[str, str] = json.loads(cursor) if cursor else {}
        refs = self.list_all()
        changed = [ref for ref in refs if seen.get(ref.key) != ref.version_token]
        current = {ref.key: ref.version_token for ref in refs}
        return Discovery(refs=changed, cursor=json.dumps(current, sort_keys=True), complete=True)

    def ref(self, key: str) -> ManualRef:
        """The current ref of the manual `key`.

        Raises:
            SourceError: no file in the folder has this key any more.
        """
        for ref in self.list_all():
            if ref.key == key:
                return ref
        raise SourceError(f"manual {key!r} is no longer in {self.root}")

    def read(self, key: str) -> tuple[ManualRef, bytes]:
        """The current ref and bytes of the manual `key`, unconditionally.

        Raises:
            SourceError: no file in the folder has this key any more.
        """
        ref = self.ref(key)
        fetched = self.fetch(ref)
        assert isinstance(fetched, Fetched)  # nothing held, so never Unchanged
        return ref, fetched.data

    def fetch(self, ref: ManualRef, held: Validators | None = None) -> FetchResult:
        path = Path(ref.uri)
        try:
            stat = path.stat()
            token = _token(stat.st_mtime_ns, stat.st_size)
            if held is not None and held.etag == token:
                return Unchanged(ref, held, "same modification time and size")
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise SourceError(f"manual {ref.key!r} is no longer in {self.root}") from exc
        return Fetched(ref, data, Validators(etag=token))

    def _ref(self, path: Path, media_type: str, row: dict[str, str]) -> ManualRef:
        stat = path.stat()
        vendor = row.get("vendor") or self.default_vendor
        product = row.get("product") or path.stem
        key = row.get("key") or slugify(path.stem)
        if self.namespace:
            key = f"{self.namespace}{KEY_SEPARATOR}{key}"
        ref = ManualRef(
            key=key,
            uri=str(path.resolve()),
            file_name=path.name,
            media_type=media_type,
            vendor=vendor,
            product=product,
            title=row.get("title") or product,
            license=self.license_defaults.name,
            source=self.name,
            is_public=(row.get("is_public") or "true").strip().lower() not in ("false", "0", "no"),
            version_token=_token(stat.st_mtime_ns, stat.st_size),
            edition=(row.get("edition") or row.get("version") or "").strip(),
            published=_published(row.get("published"), path),
            aliases=tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()),
        )
        uses = row.get("allowed_uses")
        try:
            return with_license(
                ref,
                self.license_defaults,
                name=row.get("license") or None,
                terms=row.get("license_terms") or None,
                allowed_uses=uses.split() if uses else None,
                expires_at=row.get("license_expires_at") or None,
            )
        except GovernanceError as exc:
            raise SourceError(f"{MANIFEST} row for {path.name}: {exc}") from exc

    def settled(self, refs: Sequence[ManualRef], withdrawn: Sequence[str]) -> None:
        """Nothing to release: a pull source keeps no queue."""


def _token(mtime_ns: int, size: int) -> str:
    return f"{mtime_ns}:{size}"


def _published(value: str | None, path: Path) -> str | None:
    """The manifest's `published` date (ISO 8601), checked; None when blank."""
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise SourceError(
            f"{MANIFEST} row for {path.name}: published {value!r} is not an ISO date (YYYY-MM-DD)"
        ) from exc
