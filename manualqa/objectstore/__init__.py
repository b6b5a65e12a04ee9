"""Object store: immutable raw bytes and derived artefacts under a bucket layout.

Keys start with one of `raw/ processed/ derived/ logs/ quarantine/ inbox/`;
`manualqa.objectstore.keys` says which key holds what. The local
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
)
from manualqa.objectstore.factory import open_object_store
from manualqa.objectstore.keys import (
    eval_report_key,
    extraction_failure_key,
    quarantine_key,
    raw_key,
    stage_key,
)
from manualqa.objectstore.local import LocalObjectStore

__all__ = [
    "PREFIXES",
    "LocalObjectStore",
    "ObjectExistsError",
    "ObjectStore",
    "ObjectStoreError",
    "check_key",
    "eval_report_key",
    "extraction_failure_key",
    "open_object_store",
    "quarantine_key",
    "raw_key",
    "stage_key",
]
