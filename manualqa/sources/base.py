"""The connector interface every manual source implements.

A connector is opened (its auth lifecycle: tokens, sessions), asked for what changed
since a cursor one page at a time, and asked to fetch one discovered manual given
the validators of the copy already held, so an unchanged document costs a `304`
and no bytes. Keys are namespaced by source (`<namespace>:<id>`), so two sources
never claim the same partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Protocol, Self

from manualqa.documents import ManualRef, slugify

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}
KEY_SEPARATOR = ":"
MAX_PAGES = 10_000  # a source that keeps paging past this is broken


class SourceError(RuntimeError):
    """A source cannot list or fetch a manual."""


def media_type_for(file_name: str) -> str | None:
    """The media type the pipeline handles for `file_name`, or None when unsupported."""
    return MEDIA_TYPES.get(PurePosixPath(file_name).suffix.lower())


def source_key(namespace: str, document_id: str) -> str:
    """The manual key for `document_id` in a source's `namespace`.

    The id is slugified; when that changes it, a short hash of the original keeps two
    ids that slugify alike apart. An empty namespace gives a bare key.
    """
    slug = slugify(document_id)
    if not slug:
        raise SourceError(f"document id {document_id!r} has no usable characters")
    if slug != document_id:
        slug = f"{slug[:80]}-{hashlib.sha256(document_id.encode()).hexdigest()[:8]}"
    return f"{namespace}{KEY_SEPARATOR}{slug}" if namespace else slug


def source_of_key(key: str) -> str:
    """The namespace part of a manual key ('' for a bare key)."""
    namespace, separator, _ = key.partition(KEY_SEPARATOR)
    return namespace if separator else ""


@dataclass(frozen=True)
class Validators:
    """What tells whether a held copy is still current.

    `etag` and `last_modified` are the HTTP validators; `checksum` is the SHA-256 of
    the document's normalised text, the change signal when a server sends neither.
    """

    etag: str | None = None
    last_modified: str | None = None
    checksum: str | None = None


@dataclass(frozen=True)
class Discovery:
    """One page of what a source offers: the refs new or changed since the cursor
    given, the cursor to pass next, and whether more pages follow now.

    `complete` says the pass this page belongs to lists everything the source offers
    now, so a manual held from it that no page listed is gone; `gone` names manuals the
    source says it withdrew (an API's tombstones)."""

    refs: list[ManualRef]
    cursor: str | None
    more: bool = False
    complete: bool = False
    gone: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Listing:
    """Every page of one discovery pass: what to fetch, the cursor to store, and which
    manuals the source no longer offers (see `Listing.gone_of`)."""

    refs: list[ManualRef]
    cursor: str | None
    complete: bool
    gone: list[str]

    def gone_of(self, held: Collection[str]) -> list[str]:
        """Which of the `held` manual keys the source no longer offers: those it withdrew,
        and, after a complete pass, those it did not list."""
        listed = {ref.key for ref in self.refs}
        unlisted = set(held) - listed if self.complete else set()
        return sorted((set(self.gone) & set(held)) | unlisted)


@dataclass(frozen=True)
class Fetched:
    """The bytes of a manual and the validators to store with them."""

    ref: ManualRef
    data: bytes
    validators: Validators


@dataclass(frozen=True)
class Unchanged:
    """The held copy is current (`304`, or the same normalised text)."""

    ref: ManualRef
    validators: Validators
    reason: str


FetchResult = Fetched | Unchanged


class Connector(Protocol):
    """Discovers manuals incrementally and fetches their bytes.

    Use it as a context manager: entering acquires credentials and connections,
    leaving releases them.
    """

    name: str

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def discover(self, cursor: str | None = None) -> Discovery:
        """The next page of manuals new or changed since `cursor` (None: from the start)."""
        ...

    def fetch(self, ref: ManualRef, held: Validators | None = None) -> FetchResult:
        """The bytes of `ref`, or `Unchanged` when `held` shows the copy held is current.

        Raises:
            SourceError: the document is gone, refused, over the byte cap, or the
                source keeps failing.
        """
        ...

    def settled(self, refs: Sequence[ManualRef], withdrawn: Sequence[str]) -> None:
        """The outcomes of `refs` and the withdrawals of the manuals `withdrawn` are
        stored durably; a push source drops them from its inbox."""
        ...


def discover_all(connector: Connector, cursor: str | None = None) -> Listing:
    """Every ref new or changed since `cursor`, paging until the source has no more,
    the cursor to store for next time, and what the source no longer offers."""
    refs: list[ManualRef] = []
    gone: list[str] = []
    complete = True
    for page in _pages(connector, cursor):
        refs.extend(page.refs)
        gone.extend(page.gone)
        complete = complete and page.complete
        cursor = page.cursor
    return Listing(refs, cursor, complete, gone)


def _pages(connector: Connector, cursor: str | None) -> Iterator[Discovery]:
    for _ in range(MAX_PAGES):
        page = connector.discover(cursor)
        yield page
        if not page.more:
            return
        if page.cursor == cursor:
            raise SourceError(f"source {connector.name} returned the same cursor twice")
        cursor = page.cursor
    raise SourceError(f"source {connector.name} kept paging past {MAX_PAGES} pages")
