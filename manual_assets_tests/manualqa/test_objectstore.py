import pytest

from manualqa.object_keys import raw_key
from manualqa.objectstore import LocalObjectStore, ObjectStoreError


def test_put_immutable_keeps_first_bytes_and_refuses_different_ones(tmp_path):
    store = LocalObjectStore(tmp_path)
    key = raw_key("acme__ac-200", "ab" * 32, "Manual.PDF")
    assert key == f"raw/acme__ac-200/{'ab' * 32}.pdf"

    assert store.put_immutable(key, b"v1", {"license": "CC-BY-4.0"}) is True
    assert store.put_immutable(key, b"v1") is False
    with pytest.raises(ObjectStoreError, match="immutable"):
        store.put_immutable(key, b"v2")
    assert store.get(key) == b"v1"
    assert store.metadata(key) == {"license": "CC-BY-4.0"}
    assert list(store.list("raw")) == [key]


@pytest.mark.parametrize("key", ["tmp/x", "raw", "raw/../etc/passwd", "raw//x", "/raw/x"])
def test_keys_outside_the_bucket_layout_are_refused(tmp_path, key):
    with pytest.raises(ObjectStoreError):
        LocalObjectStore(tmp_path).put(key, b"x")


def test_missing_object_error_names_the_key(tmp_path):
    with pytest.raises(ObjectStoreError, match="processed/none"):
        LocalObjectStore(tmp_path).get("processed/none")
