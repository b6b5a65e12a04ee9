"""Which version of a manual the downstream stages work on: the catalog says."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from manual_assets.resources import CatalogResource
from manualqa.documents import ManualRef
from manualqa.objectstore import LocalObjectStore, processed_key, raw_key
from sql import catalog


@dataclass(frozen=True)
class ManualVersion:
    ref: ManualRef
    sha256: str
    raw_key: str

    def processed(self, name: str) -> str:
        return processed_key(self.ref.key, self.sha256, name)


def current_version(
    key: str, catalog_res: CatalogResource, store: LocalObjectStore
) -> ManualVersion:
    """The latest raw version; fails clearly if it was never ingested or is quarantined."""
    with catalog_res.session() as session:
        manual = catalog.get_manual(session, key)
        if manual is None:
            raise dg.Failure(f"manual {key!r} is not in the catalog: materialize raw_manual first")
        if manual.status == "quarantined":
            raise dg.Failure(
                f"manual {key!r} is quarantined: {manual.quarantine_reason}",
                metadata={"reason": manual.quarantine_reason or ""},
            )
        sha, file_name = manual.content_hash, manual.file_name
    obj = raw_key(key, sha, file_name)
    meta = store.metadata(obj)
    return ManualVersion(ref=ManualRef(**meta["ref"]), sha256=sha, raw_key=obj)
