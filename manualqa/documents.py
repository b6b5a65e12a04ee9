"""Plain data types that flow between the pipeline stages.

They carry no behaviour beyond small derived properties, so every package
(`sql`, `manual_assets`, `serving`, `evals`) can exchange them freely.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_SLUG_RE = re.compile(r"[^a-z0-9_-]+")


def slugify(text: str) -> str:
    """Lower-case `text` and replace every run of other characters with '-'."""
    return _SLUG_RE.sub("-", text.strip().lower()).strip("-")


def content_hash(data: bytes | str) -> str:
    """SHA-256 hex digest of bytes (or UTF-8 text)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def parse_expiry(value: str | None) -> datetime | None:
    """A license expiry given as ISO 8601 (a bare date means its start, UTC), or None.

    Raises:
        ValueError: the value is not an ISO 8601 date.
    """
    if value is None or not str(value).strip():
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"license expiry {value!r} is not an ISO 8601 date") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ManualRef:
    """A manual as a source lists it, before its bytes are read.

    `key` is the stable partition key (a slug such as `acme__ac-200__owners-manual`).
    `uri` tells the source how to fetch it again (a file path, a URL, an API id).
    """

    key: str
    uri: str
    file_name: str
    media_type: str  # "application/pdf" | "text/html" | "text/markdown"
    vendor: str
    product: str
    title: str
    license: str
    source: str  # connector name, e.g. "folder"
    is_public: bool = True
    version_token: str = ""  # cheap change marker (mtime+size, ETag); not the content hash
    # The document's license manifest, as the source states it (see manualqa.governance).
    license_terms: str = ""
    allowed_uses: tuple[str, ...] = ("index", "serve")
    license_expires_at: str | None = None  # ISO 8601; None = no expiry
    edition: str = ""  # the manual's version or edition as its publisher names it
    published: str | None = None  # ISO date of that edition, when the source gives one
    aliases: tuple[str, ...] = ()  # other names of the product (model numbers, nicknames)

    @property
    def license_expiry(self) -> datetime | None:
        """`license_expires_at` as a time-zone-aware moment (None: no expiry)."""
        return parse_expiry(self.license_expires_at)


@dataclass(frozen=True)
class TextBlock:
    """A run of text that lies on one page and in one section.

    `page` is the 1-based physical page number (None for HTML and Markdown).
    `page_label` is the number printed on the page where the PDF declares one.
    `section_path` is the heading path from the top, e.g. ("3 Setup", "3.2 Wi-Fi").
    """

    text: str
    page: int | None
    section_path: tuple[str, ...]
    page_label: str | None = None

    @property
    def section(self) -> str:
        return self.section_path[-1] if self.section_path else ""


@dataclass(frozen=True)
class SectionInfo:
    """One heading of a manual, in reading order."""

    ordinal: int
    title: str
    level: int  # 1 = top level
    path: tuple[str, ...]
    page: int | None


@dataclass(frozen=True)
class ManualProfile:
    """What the answer engine knows of a manual: names to match questions to it, and the
    edition a citation shows."""

    key: str
    vendor: str
    product: str
    title: str
    edition: str = ""
    published: str | None = None
    aliases: tuple[str, ...] = ()
    model_mentions: dict[str, int] = field(default_factory=dict)  # model number -> count


@dataclass(frozen=True)
class HiddenText:
    """Text on a PDF page that a reader cannot see (`manualqa.extraction.pdf_hidden`):
    removed from the extracted text, kept here as the record of what was removed."""

    page: int  # 1-based
    reason: str  # "invisible-text" | "white-text" | "tiny-text"
    text: str


@dataclass
class ExtractedManual:
    """The text of one manual, page- and section-aware."""

    key: str
    media_type: str
    title: str
    page_count: int | None
    blocks: list[TextBlock]
    sections: list[SectionInfo] = field(default_factory=list)
    published: str | None = None  # ISO date from the document's own metadata, when it has one
    hidden: list[HiddenText] = field(default_factory=list)  # removed from `blocks`

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with everything a citation needs."""

    manual_key: str
    ordinal: int
    text: str
    page: int | None
    page_end: int | None
    section_path: tuple[str, ...]
    token_count: int
    page_label: str | None = None

    @property
    def section(self) -> str:
        return self.section_path[-1] if self.section_path else ""

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)

    @property
    def chunk_id(self) -> str:
        """Deterministic id from manual key, ordinal and content."""
        return content_hash(f"{self.manual_key}\x1f{self.ordinal}\x1f{self.content_hash}")[:32]
