"""A local folder of manuals, optionally described by a MANIFEST.csv."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from manualqa.documents import ManualRef, slugify
from manualqa.sources.base import SourceError, media_type_for

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.csv"


class FolderConnector:
    """The manuals in one folder.

    With a `MANIFEST.csv` (columns `file`, and any of `key`, `vendor`, `product`,
    `title`, `license`, `is_public`), the manifest is the list: it supplies catalog
    metadata, and files it does not name (a README, say) are skipped with a log line.
    Without one, every supported file directly in the folder is a manual, with
    defaults and a key from its file stem.
    """

    name = "folder"

    def __init__(
        self,
        root: Path,
        default_vendor: str = "unknown",
        default_license: str = "unknown",
    ):
        self.root = root
        self.default_vendor = default_vendor
        self.default_license = default_license

    def _manifest(self) -> dict[str, dict[str, str]]:
        path = self.root / MANIFEST
        if not path.exists():
            return {}
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "file" not in rows[0]:
            raise SourceError(f"{path} has no 'file' column")
        return {row["file"]: row for row in rows}

    def discover(self) -> list[ManualRef]:
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

    def _ref(self, path: Path, media_type: str, row: dict[str, str]) -> ManualRef:
        stat = path.stat()
        vendor = row.get("vendor") or self.default_vendor
        product = row.get("product") or path.stem
        return ManualRef(
            key=row.get("key") or slugify(path.stem),
            uri=str(path.resolve()),
            file_name=path.name,
            media_type=media_type,
            vendor=vendor,
            product=product,
            title=row.get("title") or product,
            license=row.get("license") or self.default_license,
            source=self.name,
            is_public=(row.get("is_public") or "true").strip().lower() not in ("false", "0", "no"),
            version_token=f"{stat.st_mtime_ns}:{stat.st_size}",
        )

    def fetch(self, key: str) -> tuple[ManualRef, bytes]:
        for ref in self.discover():
            if ref.key == key:
                return ref, Path(ref.uri).read_bytes()
        raise SourceError(f"manual {key!r} is no longer in {self.root}")
