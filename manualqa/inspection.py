"""What a document's bytes really are: type sniffed from magic bytes, PDF health, text.

`inspect_document` never raises on bad input: a file that cannot be opened is reported
in `DocumentFacts.error`, so validation can quarantine it with the reason.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import puremagic

log = logging.getLogger(__name__)

PDF = "application/pdf"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
LANGUAGE_SAMPLE_CHARS = 20_000
MIN_LANGUAGE_CHARS = 200  # below this a language guess is noise
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class DocumentFacts:
    """What inspection found. `text` is the document's text with whitespace collapsed."""

    size: int
    sniffed_type: str | None
    page_count: int | None = None
    page_chars: tuple[int, ...] = ()
    image_only_pages: tuple[int, ...] = ()  # 1-based pages with images and no text
    encrypted: bool = False
    error: str | None = None
    text: str = ""
    language: str | None = None

    @property
    def pages_without_text(self) -> int:
        return sum(1 for chars in self.page_chars if chars == 0)


def sniff_media_type(data: bytes) -> str | None:
    """The media type the magic bytes say; UTF-8 text without a signature is `text/plain`."""
    if not data:
        return None
    try:
        return str(puremagic.from_string(data, mime=True)) or None
    except puremagic.PureError:
        pass
    head = data[:4096]
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the sample's end is fine
            return None
    return TEXT


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces, ends trimmed."""
    return _SPACE_RE.sub(" ", text).strip()


def text_checksum(text: str) -> str:
    """SHA-256 of the normalised, lower-cased text: the change signal when bytes differ
    only in markup, timestamps or metadata."""
    return hashlib.sha256(normalise(text).lower().encode("utf-8")).hexdigest()


def inspect_document(data: bytes, declared_type: str, *, max_pages: int = 5000) -> DocumentFacts:
    """Sniff, open and read `data`, which its source declared as `declared_type`."""
    sniffed = sniff_media_type(data)
    kind = sniffed if sniffed in (PDF, HTML) else declared_type
    if sniffed == PDF or (kind == PDF and sniffed is None):
        facts = _inspect_pdf(data, max_pages)
    elif kind == HTML or (sniffed == TEXT and declared_type == HTML):
        facts = DocumentFacts(size=len(data), sniffed_type=sniffed, text=_html_text(data))
    elif sniffed == TEXT:
        facts = DocumentFacts(
            size=len(data), sniffed_type=sniffed, text=normalise(data.decode("utf-8", "replace"))
        )
    else:
        facts = DocumentFacts(size=len(data), sniffed_type=sniffed)
    if len(facts.text) >= MIN_LANGUAGE_CHARS:
        facts = _with_language(facts)
    return facts


def _inspect_pdf(data: bytes, max_pages: int) -> DocumentFacts:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    base = DocumentFacts(size=len(data), sniffed_type=sniff_media_type(data))
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            return replace(base, encrypted=True, error="the PDF is password-protected")
        count = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return replace(base, error=f"the PDF cannot be opened: {exc}")
    if count == 0:
        return replace(base, page_count=0, encrypted=encrypted, error="the PDF has no pages")
    texts: list[str] = []
    image_only: list[int] = []
    try:
        for number, page in enumerate(reader.pages[:max_pages], start=1):
            text = normalise(page.extract_text() or "")
            texts.append(text)
            if not text and _has_images(page):
                image_only.append(number)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return replace(
            base, page_count=count, encrypted=encrypted, error=f"a PDF page cannot be read: {exc}"
        )
    return replace(
        base,
        page_count=count,
        page_chars=tuple(len(t) for t in texts),
        image_only_pages=tuple(image_only),
        encrypted=encrypted,
        text=" ".join(t for t in texts if t),
    )


def _has_images(page: Any) -> bool:
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return False
    return any(
        xobject.get_object().get("/Subtype") == "/Image"
        for xobject in xobjects.get_object().values()
    )


def _html_text(data: bytes) -> str:
    import lxml.html
    from lxml.etree import ParserError

    try:
        tree = lxml.html.fromstring(data)
    except (ParserError, ValueError):
        return ""
    for element in tree.xpath("//script|//style|//noscript"):
        element.drop_tree()
    return normalise(tree.text_content())


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is mostly written in."""
    import py3langid  # loads its model (~2 s) on first use

    language, _score = py3langid.classify(text[:LANGUAGE_SAMPLE_CHARS])
    return str(language)


def _with_language(facts: DocumentFacts) -> DocumentFacts:
    return replace(facts, language=detect_language(facts.text))
