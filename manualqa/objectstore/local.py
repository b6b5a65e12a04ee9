"""The embedded object store: a folder on disk laid out like the bucket."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from manualqa.objectstore.base import (
    META_SUFFIX,
    PREFIXES,
    ObjectExistsError,
    ObjectStoreError,
    check_key,
)


class LocalObjectStore:
    """Writes are atomic renames; `put_new` links the finished file into place, which
    fails if something is already there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for prefix in PREFIXES:
            (root / prefix).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + META_SUFFIX)

    def put(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        if metadata is not None:
            _atomic_write(self._meta_path(key), _meta_bytes(metadata))
        _atomic_write(self._path(key), data)

    def put_new(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        path = self._path(key)
        if metadata is not None:
            _atomic_write(self._meta_path(key), _meta_bytes(metadata))
        try:
            _atomic_write(path, data, replace=False)
        except FileExistsError as exc:
            raise ObjectExistsError(f"an object is already at {key}") from exc

    def put_immutable(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> bool:
        path = self._path(key)
        if path.exists():
            if path.read_bytes() != data:
                raise ObjectStoreError(f"{key} already holds different bytes; keys are immutable")
            return False
        try:
            self.put_new(key, data, metadata)
        except ObjectExistsError:
            return self.put_immutable(key, data, metadata)
        return True

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.exists():
            raise ObjectStoreError(f"no object at {key}")
        return path.read_bytes()

    def metadata(self, key: str) -> dict[str, Any]:
        meta = self._meta_path(key)
        return json.loads(meta.read_text()) if meta.exists() else {}

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            name = path.name
            if path.is_file() and not name.endswith(META_SUFFIX) and not name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def delete(self, key: str) -> None:
        self._meta_path(key).unlink(missing_ok=True)
        self._path(key).unlink(missing_ok=True)

    def purge_older_than(self, prefix: str, days: int) -> Sequence[str]:
        """Delete the objects under `prefix` last written more than `days` ago (the
        folder's stand-in for a bucket's expiry rule); return their keys."""
        cutoff = time.time() - days * 86_400
        purged = [key for key in self.list(prefix) if self._path(key).stat().st_mtime < cutoff]
        for key in purged:
            self.delete(key)
        return purged


def _meta_bytes(metadata: dict[str, Any]) -> bytes:
    return json.dumps(metadata, sort_keys=True, default=str).encode()


def _atomic_write(path: Path, data: bytes, *, replace: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError if anything is there
    finally:
        Path(tmp).unlink(missing_ok=True)
