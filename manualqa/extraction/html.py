"""HTML manuals: trafilatura keeps the main content (no navigation, footers or ads)
and renders it as Markdown, which the Markdown splitter turns into sections.

trafilatura runs in its recall-oriented mode. Its precision mode judges each element by
text density, and on a plain manual page (headings, paragraphs and an <ol> straight in
<body>) it dropped every heading and the whole numbered procedure, with no error: a manual
that loses its steps answers nothing about them. Navigation, headers and footers are
removed in both modes.

Navigation (`<nav>`, `role="navigation"`) is taken out before trafilatura reads the page.
Which headings trafilatura keeps depends on how a page nests its elements: on a manual of
`<section>` elements after a `<nav>` table of contents it kept no heading, list or table at
all, and without the `<nav>` the same page kept them or not depending on the sections'
`id`s. A manual read as one section cites no section and tells its passages apart by
nothing. So where a page has headings and trafilatura kept none, the page is written as
Markdown from its elements instead (`html_render`), and the log says so."""

from __future__ import annotations

import logging
import re

import lxml.html
import trafilatura

from manualqa.documents import ExtractedManual, ManualRef
from manualqa.extraction import ExtractionError, collapse_spaces
from manualqa.extraction.html_render import pair_definitions, render_markdown
from manualqa.extraction.markdown import split_markdown

__all__ = ["extract_html", "html_to_markdown"]

log = logging.getLogger(__name__)

# Below this, what trafilatura kept is a stray menu item, not a manual.
MIN_MAIN_CONTENT_WORDS = 8
_HEADING_LINE_RE = re.compile(r"^#{1,6} ", re.MULTILINE)
_HEADINGS_XPATH = "//h1 | //h2 | //h3 | //h4 | //h5 | //h6"


def html_to_markdown(html: bytes | str) -> str | None:
    """The main content of an HTML page as Markdown (headings, lists, tables kept), or
    None when there is none."""
    root = _prepared(html)
    if root is None:
        return None
    text: str | None = trafilatura.extract(
        lxml.html.tostring(root, encoding="unicode"),
        output_format="markdown",
        include_tables=True,
        include_formatting=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        deduplicate=False,
        favor_recall=True,
    )
    headings = len(root.xpath(_HEADINGS_XPATH))
    if headings >= 2 and not (text and _HEADING_LINE_RE.search(text)):
        log.info(
            "trafilatura kept none of the page's %d headings: the page is written as "
            "Markdown from its elements",
            headings,
        )
        text = render_markdown(root)
    return text if text and text.strip() else None


def _prepared(html: bytes | str) -> lxml.html.HtmlElement | None:
    """The page without its navigation and its headings' permalinks, and with its
    definition lists paired; None when it cannot be parsed. Bytes are decoded as
    trafilatura decodes them (declared charset, else detected): lxml alone reads
    undeclared UTF-8 as Latin-1."""
    root = trafilatura.load_html(html)
    if root is None:
        return None
    for nav in root.xpath("//nav | //*[@role='navigation']"):
        if nav.getparent() is not None:  # the document's root element cannot be dropped
            nav.drop_tree()
    # A heading's permalink ("Safety ¶", "# Setup"): a link whose text is one symbol.
    for link in root.xpath(f"({_HEADINGS_XPATH})//a"):
        mark = link.text_content().strip()
        if len(mark) <= 1 and not mark.isalnum():
            link.drop_tree()
    pair_definitions(root)
    return root


def extract_html(data: bytes, ref: ManualRef) -> ExtractedManual:
    """Extract an HTML manual's main content, split into sections by its headings.

    The title is the page's own (trafilatura metadata), else `ref.title`.

    Raises:
        ExtractionError: when the page has no main content.
    """
    if b"\x00" in data[:4096]:
        raise ExtractionError("the file holds binary data (NUL bytes), not HTML")
    markdown = html_to_markdown(data)
    words = len(markdown.split()) if markdown else 0
    if markdown is None or words < MIN_MAIN_CONTENT_WORDS:
        raise ExtractionError(
            "no main content found in the HTML page (empty, or only navigation/boilerplate: "
            f"{words} words of main text)"
        )
    title = ref.title
    try:
        metadata = trafilatura.extract_metadata(data)
    except Exception as exc:  # metadata is optional; the content is what matters
        log.warning("could not read HTML metadata of %s: %s", ref.key, exc)
        metadata = None
    if metadata is not None and metadata.title:
        title = collapse_spaces(metadata.title)
    blocks, sections = split_markdown(markdown, title)
    if not blocks:
        raise ExtractionError("no text found in the HTML page's main content")
    return ExtractedManual(
        key=ref.key,
        media_type="text/html",
        title=title,
        page_count=None,
        blocks=blocks,
        sections=sections,
    )
