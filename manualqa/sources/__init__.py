"""Source connectors: where manuals come from.

Every connector discovers `ManualRef`s incrementally (a cursor, pages) and fetches
one given the validators of the copy held. Built here: the local folder (the embedded
default), vendor document APIs, licensed crawls and the partner-webhook inbox.
"""

from manualqa.sources.base import (
    Connector,
    Discovery,
    Fetched,
    FetchResult,
    Listing,
    SourceError,
    Unchanged,
    Validators,
    discover_all,
    media_type_for,
    source_key,
)
from manualqa.sources.folder import FolderConnector

__all__ = [
    "Connector",
    "Discovery",
    "FetchResult",
    "Fetched",
    "FolderConnector",
    "Listing",
    "SourceError",
    "Unchanged",
    "Validators",
    "discover_all",
    "media_type_for",
    "source_key",
]
