"""The connector interface every manual source implements."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Protocol

from manualqa.documents import ManualRef

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}


class SourceError(RuntimeError):
    """A source cannot list or fetch a manual."""


def media_type_for(file_name: str) -> str | None:
    """The media type the pipeline handles for `file_name`, or None when unsupported."""
    return MEDIA_TYPES.get(PurePosixPath(file_name).suffix.lower())


class Connector(Protocol):
    """Lists manuals and fetches their bytes."""

    name: str

    def discover(self) -> list[ManualRef]:
        """Every manual the source offers now, sorted by key."""
        ...

    def fetch(self, key: str) -> tuple[ManualRef, bytes]:
        """The current ref and bytes of one manual; raises SourceError if it is gone."""
        ...
