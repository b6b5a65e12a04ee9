"""Object store: immutable raw bytes and derived artefacts under a bucket layout.

Keys start with `raw/`, `processed/`, `derived/` or `logs/`; `manualqa.object_keys`
says which key holds what. The local folder store is the embedded default; an S3
store (boto3 `endpoint_url`) is the production twin behind the same `ObjectStore`
protocol.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

PREFIXES = ("raw", "processed", "derived", "logs")


class ObjectStoreError(RuntimeError):
    """A key is malformed, missing, or would overwrite immutable bytes."""


class ObjectStore(Protocol):
    """Minimal blob interface the pipeline needs."""

    def put(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None: ...

    def put_immutable(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> bool:
        """Write once; return False when identical bytes are already there."""
        ...

    def get(self, key: str) -> bytes: ...

    def metadata(self, key: str) -> dict[str, Any]: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[str]: ...


def check_key(key: str) -> str:
    """Refuse keys outside the bucket layout or that could escape the root."""
    parts = key.split("/")
    if parts[0] not in PREFIXES or len(parts) < 2:
        raise ObjectStoreError(f"object key {key!r} must start with one of {PREFIXES}")
    if any(p in ("", ".", "..") for p in parts):
        raise ObjectStoreError(f"object key {key!r} has an empty or relative segment")
    return key


class LocalObjectStore:
    """A folder on disk laid out like the bucket; writes are atomic renames."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for prefix in PREFIXES:
            (root / prefix).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + ".meta.json")

    def put(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        path = self._path(key)
        _atomic_write(path, data)
        if metadata is not None:
            _atomic_write(self._meta_path(key), json.dumps(metadata, sort_keys=True).encode())

    def put_immutable(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> bool:
        path = self._path(key)
        if path.exists():
            if path.read_bytes() != data:
                raise ObjectStoreError(f"{key} already holds different bytes; keys are immutable")
            return False
        self.put(key, data, metadata)
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
            if path.is_file() and not path.name.endswith(".meta.json") and ".tmp" not in path.name:
                yield path.relative_to(self.root).as_posix()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
