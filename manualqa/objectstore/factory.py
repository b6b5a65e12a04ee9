"""The object store the configuration selects."""

from __future__ import annotations

from manualqa.config import Settings
from manualqa.objectstore.base import ObjectStore


def open_object_store(settings: Settings) -> ObjectStore:
    """The local folder store or the S3 store, by `object_store.kind`."""
    config = settings.object_store
    if config.kind == "s3":
        from manualqa.objectstore.s3 import S3ObjectStore

        return S3ObjectStore(config.bucket, endpoint_url=config.endpoint_url, region=config.region)
    from manualqa.objectstore.local import LocalObjectStore

    return LocalObjectStore(settings.state_path(config.root))
