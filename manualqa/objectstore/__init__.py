"""Object store: immutable raw bytes and derived artefacts under a bucket layout.

Keys start with one of `raw/ processed/ derived/ logs/ quarantine/ inbox/`. The local
folder store is the embedded default; the S3 store (boto3 with `endpoint_url`, so MinIO
and GCS interop work too) is the production twin behind the same `ObjectStore`
protocol, chosen by `object_store.kind`.
"""

from manualqa.objectstore.base import (
    PREFIXES,
    ObjectExistsError,
    ObjectStore,
    ObjectStoreError,
    check_key,
    processed_key,
    quarantine_key,
    raw_key,
)
from manualqa.objectstore.factory import open_object_store
from manualqa.objectstore.local import LocalObjectStore

__all__ = [
    "PREFIXES",
    "LocalObjectStore",
    "ObjectExistsError",
    "ObjectStore",
    "ObjectStoreError",
    "check_key",
    "open_object_store",
    "processed_key",
    "quarantine_key",
    "raw_key",
]
