"""What changed in a manual source since the pipeline last read it, from cheap version
tokens alone (modification time and size, an ETag): no manual is fetched or hashed here.

The source sensor and `manualqa up` both ask this; what follows `raw_manual` is decided
by Dagster from data versions (see `manual_assets.automation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from manual_assets.partitions import MANUALS
from manual_assets.resources import CatalogResource
from manualqa.documents import ManualRef
from manualqa.sources import FolderConnector
from sql import catalog


@dataclass(frozen=True)
class SourceChanges:
    listed: int  # manuals the source lists now
    new_partitions: list[str]  # manuals the source lists that have no partition yet
    to_fetch: list[ManualRef]  # manuals the catalog lacks or holds at another version token
    removed: list[str]  # manuals the catalog holds from this source that it no longer lists

    @property
    def empty(self) -> bool:
        return not (self.new_partitions or self.to_fetch or self.removed)


def compare(
    refs: Iterable[ManualRef], partitions: Iterable[str], catalog_tokens: Mapping[str, str]
) -> SourceChanges:
    """Compare what a source lists with the partitions and the catalog's version tokens."""
    refs = sorted(refs, key=lambda r: r.key)
    listed = {ref.key for ref in refs}
    known = set(partitions)
    return SourceChanges(
        listed=len(refs),
        new_partitions=[ref.key for ref in refs if ref.key not in known],
        to_fetch=[ref for ref in refs if catalog_tokens.get(ref.key) != ref.version_token],
        removed=sorted(set(catalog_tokens) - listed),
    )


def source_changes(
    connector: FolderConnector, instance: dg.DagsterInstance, catalog_db: CatalogResource
) -> SourceChanges:
    """What `connector` lists now against this instance's partitions and the catalog.

    Raises:
        SourceError: the source cannot be listed.
    """
    refs = connector.list_all()
    with catalog_db.session() as session:
        tokens = catalog.version_tokens(session, source=connector.name)
    return compare(refs, instance.get_dynamic_partitions(MANUALS), tokens)
