"""The object-store protocol and the key checks every store applies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

PREFIXES = ("raw", "processed", "derived", "logs", "quarantine", "inbox")
META_SUFFIX = ".meta.json"


class ObjectStoreError(RuntimeError):
    """A key is malformed, missing, or would overwrite immutable bytes."""


class ObjectExistsError(ObjectStoreError):
    """`put_new` found an object already at the key."""


class ObjectStore(Protocol):
    """The blob interface the pipeline needs. Metadata is a JSON-able mapping kept
    beside each object."""

    def put(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None: ...

    def put_new(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        """Write only if nothing is at `key` yet, atomically.

        Raises:
            ObjectExistsError: an object is already there.
        """
        ...

    def put_immutable(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> bool:
        """Write once; return False when identical bytes are already there.

        Raises:
            ObjectStoreError: different bytes are already there.
        """
        ...

    def get(self, key: str) -> bytes: ...

    def metadata(self, key: str) -> dict[str, Any]: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix`, sorted, without metadata files."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object and its metadata (a versioned bucket keeps old versions)."""
        ...


def check_key(key: str) -> str:
    """Refuse keys outside the bucket layout or that could escape the root."""
    parts = key.split("/")
    if parts[0] not in PREFIXES or len(parts) < 2:
        raise ObjectStoreError(f"object key {key!r} must start with one of {PREFIXES}")
    if any(p in ("", ".", "..") for p in parts):
        raise ObjectStoreError(f"object key {key!r} has an empty or relative segment")
    if key.endswith(META_SUFFIX):
        raise ObjectStoreError(f"object key {key!r} ends like a metadata file")
    return key
