"""The production object store: an S3 bucket (AWS, MinIO, GCS interop) through boto3.

Every write asks for server-side encryption (AES256); `put_new` is a conditional write
(`If-None-Match: *`), so immutable keys stay immutable even between processes.
Metadata lives in a JSON object beside each object (S3 user metadata is limited to
2 KB of ASCII, too small for license terms). `ensure_bucket` turns versioning and
default encryption on, `apply_lifecycle` installs the storage-class and expiry rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from manualqa.config import LifecycleSettings
from manualqa.objectstore.base import (
    META_SUFFIX,
    ObjectExistsError,
    ObjectStoreError,
    check_key,
)

SSE = "AES256"


class S3ObjectStore:
    """Objects in one bucket, keyed exactly as the local store's paths."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    def _error(self, exc: Exception) -> str:
        response = getattr(exc, "response", {}) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def _put(self, key: str, data: bytes, **extra: Any) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption=SSE, **extra
        )

    def _put_meta(self, key: str, metadata: dict[str, Any]) -> None:
        body = json.dumps(metadata, sort_keys=True, default=str).encode()
        self._put(key + META_SUFFIX, body, ContentType="application/json")

    def put(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        check_key(key)
        if metadata is not None:
            self._put_meta(key, metadata)
        self._put(key, data)

    def put_new(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        from botocore.exceptions import ClientError

        check_key(key)
        if self.exists(key):
            raise ObjectExistsError(f"an object is already at {key}")
        if metadata is not None:
            self._put_meta(key, metadata)
        try:
            self._put(key, data, IfNoneMatch="*")
        except ClientError as exc:
            if self._error(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ObjectExistsError(f"an object is already at {key}") from exc
            raise

    def put_immutable(self, key: str, data: bytes, metadata: dict[str, Any] | None = None) -> bool:
        try:
            self.put_new(key, data, metadata)
        except ObjectExistsError:
            if self.get(key) != data:
                raise ObjectStoreError(
                    f"{key} already holds different bytes; keys are immutable"
                ) from None
            return False
        return True

    def get(self, key: str) -> bytes:
        return self._get(check_key(key))

    def _get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._error(exc) in ("NoSuchKey", "404"):
                raise ObjectStoreError(f"no object at {key}") from exc
            raise
        return bytes(response["Body"].read())

    def metadata(self, key: str) -> dict[str, Any]:
        check_key(key)
        try:
            return dict(json.loads(self._get(key + META_SUFFIX)))
        except ObjectStoreError:
            return {}

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        check_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._error(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        start = prefix.rstrip("/") + "/"
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith(META_SUFFIX):
                    yield key

    def delete(self, key: str) -> None:
        check_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key + META_SUFFIX)
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def ensure_bucket(self) -> None:
        """Create the bucket if missing; turn versioning and default AES256 encryption on."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if self._error(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self.client.create_bucket(Bucket=self.bucket)
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        self.client.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE}}]
            },
        )

    def apply_lifecycle(self, lifecycle: LifecycleSettings) -> Sequence[dict[str, Any]]:
        """Install the bucket's lifecycle rules (replacing any); return them."""
        rules = lifecycle_rules(lifecycle)
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}
        )
        return rules


def lifecycle_rules(lifecycle: LifecycleSettings) -> list[dict[str, Any]]:
    """Raw bytes move to a colder class; derived objects and old versions expire."""
    return [
        {
            "ID": "raw-to-colder-storage",
            "Filter": {"Prefix": "raw/"},
            "Status": "Enabled",
            "Transitions": [
                {
                    "Days": lifecycle.raw_transition_days,
                    "StorageClass": lifecycle.raw_storage_class,
                }
            ],
        },
        {
            "ID": "derived-expiry",
            "Filter": {"Prefix": "derived/"},
            "Status": "Enabled",
            "Expiration": {"Days": lifecycle.derived_expire_days},
            "NoncurrentVersionExpiration": {"NoncurrentDays": lifecycle.derived_expire_days},
        },
    ]
