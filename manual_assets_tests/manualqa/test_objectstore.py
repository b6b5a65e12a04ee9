"""The same object-store cases on the local folder store and on S3 (moto's HTTP server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from manualqa.config import LifecycleSettings, Settings
from manualqa.objectstore import (
    LocalObjectStore,
    ObjectExistsError,
    ObjectStore,
    ObjectStoreError,
    open_object_store,
    raw_key,
)
from manualqa.objectstore.s3 import S3ObjectStore


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, s3_endpoint) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path)
        return
    settings = Settings(
        object_store={
            "kind": "s3",
            "bucket": f"t-{uuid.uuid4().hex[:12]}",
            "endpoint_url": s3_endpoint,
        }
    )
    s3 = open_object_store(settings)
    assert isinstance(s3, S3ObjectStore)
    s3.ensure_bucket()
    yield s3


def test_put_immutable_keeps_first_bytes_and_refuses_different_ones(store):
    key = raw_key("acme__ac-200", "ab" * 32, "Manual.PDF")
    assert key == f"raw/acme__ac-200/{'ab' * 32}.pdf"

    assert store.put_immutable(key, b"v1", {"license": "CC-BY-4.0"}) is True
    assert store.put_immutable(key, b"v1") is False
    with pytest.raises(ObjectStoreError, match="immutable"):
        store.put_immutable(key, b"v2")
    assert store.get(key) == b"v1"
    assert store.metadata(key) == {"license": "CC-BY-4.0"}
    assert list(store.list("raw")) == [key]


def test_put_new_refuses_an_existing_key_and_delete_removes_object_and_metadata(store):
    store.put_new("inbox/p/accepted/a.json", b"{}", {"n": 1})
    with pytest.raises(ObjectExistsError):
        store.put_new("inbox/p/accepted/a.json", b"{}")
    store.put("inbox/p/pending/a/item.json", b"x")
    assert list(store.list("inbox/p")) == ["inbox/p/accepted/a.json", "inbox/p/pending/a/item.json"]
    store.delete("inbox/p/accepted/a.json")
    assert not store.exists("inbox/p/accepted/a.json")
    assert store.metadata("inbox/p/accepted/a.json") == {}


@pytest.mark.parametrize(
    "key", ["tmp/x", "raw", "raw/../etc/passwd", "raw//x", "/raw/x", "raw/a.meta.json"]
)
def test_keys_outside_the_bucket_layout_are_refused(store, key):
    with pytest.raises(ObjectStoreError):
        store.put(key, b"x")


def test_missing_object_error_names_the_key(store):
    with pytest.raises(ObjectStoreError, match="processed/none"):
        store.get("processed/none")


def test_every_s3_write_is_encrypted_and_the_bucket_is_versioned(s3_endpoint):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    store = S3ObjectStore(bucket, endpoint_url=s3_endpoint)
    store.ensure_bucket()
    store.put("derived/a/x.json", b"1", {"m": 1})
    store.put("derived/a/x.json", b"2")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    head = client.head_object(Bucket=bucket, Key="derived/a/x.json")
    assert head["ServerSideEncryption"] == "AES256"
    meta = client.head_object(Bucket=bucket, Key="derived/a/x.json.meta.json")
    assert meta["ServerSideEncryption"] == "AES256"
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    versions = client.list_object_versions(Bucket=bucket, Prefix="derived/a/x.json")["Versions"]
    assert len([v for v in versions if v["Key"] == "derived/a/x.json"]) == 2


def test_lifecycle_rules_move_raw_to_colder_storage_and_expire_derived(s3_endpoint):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    store = S3ObjectStore(bucket, endpoint_url=s3_endpoint)
    store.ensure_bucket()
    store.apply_lifecycle(LifecycleSettings(raw_transition_days=30, derived_expire_days=7))
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["raw-to-colder-storage"]["Transitions"][0] == {
        "Days": 30,
        "StorageClass": "STANDARD_IA",
    }
    assert rules["derived-expiry"]["Expiration"] == {"Days": 7}
