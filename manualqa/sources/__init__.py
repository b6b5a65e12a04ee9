"""Source connectors: where manuals come from.

Every connector lists `ManualRef`s and fetches bytes for one of them. The
folder connector is built; vendor APIs, signed partner webhooks and licensed
crawls implement the same `Connector` protocol.
"""

from manualqa.sources.base import Connector, SourceError, media_type_for
from manualqa.sources.folder import FolderConnector

__all__ = ["Connector", "FolderConnector", "SourceError", "media_type_for"]
