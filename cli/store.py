"""`manualqa store lifecycle`: versioning, default encryption and lifecycle rules."""

from __future__ import annotations

import argparse
import json
import sys

from manualqa.config import get_settings
from manualqa.objectstore import LocalObjectStore, open_object_store
from manualqa.objectstore.s3 import S3ObjectStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("store", help="manage the object store")
    commands = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    lifecycle = commands.add_parser(
        "lifecycle",
        help="S3: turn versioning and AES256 default encryption on and install the "
        "lifecycle rules; local folder: delete derived objects past their expiry",
    )
    lifecycle.set_defaults(handler=apply_lifecycle)


def apply_lifecycle(args: argparse.Namespace) -> int:
    settings = get_settings()
    store = open_object_store(settings)
    lifecycle = settings.object_store.lifecycle
    if isinstance(store, S3ObjectStore):
        store.ensure_bucket()
        rules = store.apply_lifecycle(lifecycle)
        sys.stdout.write(json.dumps({"bucket": store.bucket, "rules": rules}, indent=1) + "\n")
        return 0
    assert isinstance(store, LocalObjectStore)
    purged = store.purge_older_than("derived", lifecycle.derived_expire_days)
    sys.stdout.write(
        f"purged {len(purged)} derived objects older than "
        f"{lifecycle.derived_expire_days} days from {store.root}\n"
    )
    return 0
