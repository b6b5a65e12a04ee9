"""PDF manuals: text page by page, sections from the outline (or from font sizes).

Section rule
------------
With an outline (bookmarks), every entry is a section: its level and path
come from the outline's nesting, its page from its destination. Text is
attributed page by page in reading order:

* A page's text starts in the section active at the start of the page (the
  last entry whose destination lies on an earlier page; before any, the
  front-matter section named after the manual's title).
* For each entry whose destination is that page (in outline order), its title
  is looked for in the page's text after the point where the page's previous
  entry took effect. Matching ignores whitespace, case, accents and
  typographic quotes and dashes, so a heading broken over two lines still
  matches; a match at the start of a line wins over one inside a line, and
  the title without its leading number ("2.3 Power supply" -> "Power
  supply") is tried too.
* Found: the text before the match stays with the previous section; from the
  heading on, the text belongs to the new one.
* Not found: the entry still takes effect at that point (the start of the
  page if it is the page's first entry), since its destination says the
  section begins on this page.

Without an outline, headings are detected conservatively from font size: a
run of text set at least 15 % (and 1 pt) larger than the body text (the size
that carries the most characters), of at most 18 words, with a word of three
letters or more and no sentence-ending punctuation; a page with more than 12
such runs is a poster or a table, not headings. These headings form a flat
list of top-level sections and split pages by the same rule, except that one
not found in the text is ignored. A PDF with neither keeps one section named
after the title.

Clean-up, per page: Unicode spaces and ligatures normalised, line-break
hyphens joined ("func-\\ntion" -> "function"; "ESP32-\\nWROOM" keeps its
hyphen), a line that starts in lower case joined to the previous one, as are
a bare list marker ("3.") and the line after it and a stray punctuation line,
dot leaders of tables of contents shortened, space runs collapsed, blank-line
paragraph breaks kept, and running headers/footers dropped: a line among the
first or last four of a page whose text (digits ignored, so page numbers
count as one line) recurs there on more than half of the pages of a document
of at least three pages.

Tables: a table whose cells pypdf's plain text gives one per line (a wrapped cell as
several) is written back as Markdown rows, one line a row, from the page's layout text
(`manualqa.extraction.pdf_tables`).

Hidden text: text a reader cannot see (invisible render mode outside an image, white on
the page, under 2 pt; see `manualqa.extraction.pdf_hidden`) is left out of the page's
text before any of the above, and listed in `ExtractedManual.hidden` with its reason:
removed rather than flagged, so it reaches no chunk, index or prompt, and the visible
text around it stays citable.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError
from pypdf.generic import ContentStream, NameObject

from manualqa.documents import ExtractedManual, HiddenText, ManualRef, SectionInfo, TextBlock
from manualqa.extraction import (
    ExtractionError,
    collapse_spaces,
    has_words,
    heading_keys,
    match_key,
)
from manualqa.extraction.pdf_hidden import split_hidden_text
from manualqa.extraction.pdf_tables import with_tables

__all__ = ["PageText", "clean_page_texts", "extract_page", "extract_pdf", "open_pdf"]

log = logging.getLogger(__name__)

RUNNING_LINE_ZONE = 4  # two-line headers plus a footer that extraction puts first
HEADING_SIZE_RATIO = 1.15
HEADING_SIZE_MIN_DELTA = 1.0
HEADING_MAX_WORDS = 18
HEADING_MAX_CHARS = 120
HEADINGS_PER_PAGE_MAX = 12
# From this many pages, a worker process extracts pages from the end: starting it (a
# fresh interpreter importing pypdf and opening the PDF) costs about what a few pages do.
PARALLEL_MIN_PAGES = 24

_CHAR_FIXES = str.maketrans(
    {
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "\r": "\n",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,
        "\ufeff": None,
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
    }
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LEADER_RE = re.compile(r"(?:\s*[.\u00b7\u2026]){4,}\s*")
_BARE_MARKER_RE = re.compile(
    r"^(?:\(?\d{1,3}(?:\.\d{1,3})*[.)]|[a-zA-Z][.)]|[-*+\u2022\u25e6\u25aa\u25cf\u25cb\u25a0\u25c6\u27a2\u25ba])$"
)
_PUNCTUATION_LINE_RE = re.compile(r"^[.,;:!?)\]\uff1a]+$")
_LIST_MARKER_RE = re.compile(
    r"^(?:[-*+\u2022\u25e6\u25aa\u25cf\u25cb\u25a0\u27a2\u25ba]\s|\(?[a-z][.)]\s)"
)
_SPACED_DOT_RE = re.compile(r"(?<=\d) \.(?= |$)")
_LETTER_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_JUNK_TITLE_RE = re.compile(
    r"(?i)^(?:untitled\b|microsoft word\b)"
    r"|\.(?:indd|docx?|pdf|qxd|qxp|odt|rtf|txt|tex|dvi|e?ps|pages)$"
)


@dataclass(frozen=True)
class _Heading:
    title: str
    path: tuple[str, ...]
    page: int  # 0-based
    optional: bool  # heuristic headings are dropped when not found in the text


def extract_pdf(data: bytes, ref: ManualRef, *, two_ends: bool = True) -> ExtractedManual:
    """Extract a PDF manual page by page with its sections (see the module docstring).

    `TextBlock.page` is the 1-based physical page; `page_label` is set only when
    the PDF declares page labels. The title is the PDF's /Title metadata when it
    looks like a title (not a file name), else `ref.title`. `hidden` holds the text a
    reader cannot see, which the blocks leave out. `two_ends=False` keeps a long PDF in
    this process (see `_extract_pages`; the result is the same).

    Raises:
        ExtractionError: not a PDF, truncated or corrupt, encrypted with a
            password, no pages, a page whose text cannot be extracted, or no text
            layer at all (scanned images).
    """
    reader = open_pdf(data)
    try:
        page_count = len(reader.pages)
    except Exception as exc:
        raise ExtractionError(f"corrupt PDF: cannot read its page tree ({_describe(exc)})") from exc
    if page_count == 0:
        raise ExtractionError("the PDF has no pages")
    title = _metadata_title(reader) or ref.title
    labels = _page_labels(reader, page_count)
    outline = _outline_headings(reader, page_count)
    raw_pages, runs, hidden = _extract_pages(reader, data, not outline, two_ends)
    pages = clean_page_texts(raw_pages)
    if not any(has_words(text) for text in pages):
        raise ExtractionError(
            f"no extractable text on any of the {page_count} pages: the PDF seems to hold "
            "scanned images without a text layer (OCR is not supported)"
        )
    headings = outline or _font_headings(runs)
    blocks, sections = _assemble(pages, labels, headings, title)
    return ExtractedManual(
        key=ref.key,
        media_type="application/pdf",
        title=title,
        page_count=page_count,
        blocks=blocks,
        sections=sections,
        published=_metadata_date(reader),
        hidden=hidden,
    )


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def open_pdf(data: bytes) -> PdfReader:
    if b"%PDF-" not in data[:1024]:
        raise ExtractionError("not a PDF: the file does not start with a %PDF- header")
    if b"%%EOF" not in data[-4096:]:
        raise ExtractionError(
            "truncated or corrupt PDF: no %%EOF marker at the end of the file "
            "(incomplete download or copy?)"
        )
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:
        raise ExtractionError(f"unreadable PDF: {_describe(exc)}") from exc
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except (DependencyError, NotImplementedError, FileNotDecryptedError) as exc:
            raise ExtractionError(
                f"encrypted PDF that cannot be decrypted: {_describe(exc)}"
            ) from exc
        if result == PasswordType.NOT_DECRYPTED:
            raise ExtractionError("encrypted PDF: a password is required to open it")
    return reader


def _metadata_date(reader: PdfReader) -> str | None:
    """The PDF's modification date, else its creation date (ISO date), when it has one."""
    try:
        metadata = reader.metadata
        if metadata is None:
            return None
        when = metadata.modification_date or metadata.creation_date
    except Exception as exc:  # pypdf raises several types on malformed date strings
        log.debug("unreadable PDF date: %s", exc)
        return None
    return when.date().isoformat() if when else None


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        raw = metadata.title if metadata is not None else None
    except Exception as exc:
        log.debug("unreadable PDF metadata: %s", exc)
        return None
    title = collapse_spaces(str(raw)) if raw else ""
    if len(title) < 3 or _JUNK_TITLE_RE.search(title):
        return None
    return title


def _page_labels(reader: PdfReader, page_count: int) -> list[str] | None:
    # pypdf invents "1", "2", ... when the PDF declares no labels; those are not labels.
    try:
        if "/PageLabels" not in reader.root_object:
            return None
        labels = list(reader.page_labels)
    except Exception as exc:
        log.warning("ignoring unreadable page labels: %s", exc)
        return None
    return labels if len(labels) == page_count else None


def _outline_headings(reader: PdfReader, page_count: int) -> list[_Heading]:
    try:
        outline = reader.outline
    except Exception as exc:
        log.warning("ignoring unreadable PDF outline: %s", exc)
        return []
    entries: list[tuple[str, tuple[str, ...], int | None]] = []

    def walk(items: list[Any], parents: tuple[str, ...]) -> None:
        last_path: tuple[str, ...] | None = None
        for item in items:
            if isinstance(item, list):
                walk(item, last_path if last_path is not None else parents)
                continue
            title = collapse_spaces(str(getattr(item, "title", "") or "").translate(_CHAR_FIXES))
            if not title:
                continue
            path = (*parents, title)
            entries.append((title, path, _destination_page(reader, item, page_count)))
            last_path = path

    walk(list(outline), ())
    # An entry without a usable destination starts where the next resolved one does.
    headings: list[_Heading] = []
    next_page: int | None = None
    for title, path, page in reversed(entries):
        page = page if page is not None else next_page
        if page is not None:
            headings.append(_Heading(title, path, page, optional=False))
            next_page = page
    headings.reverse()
    headings.sort(key=lambda h: h.page)  # stable: outline order within a page
    return headings


def _destination_page(reader: PdfReader, item: Any, page_count: int) -> int | None:
    try:
        page = reader.get_destination_page_number(item)
    except Exception as exc:
        log.debug("outline entry without a page destination: %s", exc)
        return None
    if page is None or not 0 <= page < page_count:
        return None
    return int(page)


@dataclass(frozen=True)
class PageText:
    """One page's visible text, its (font size, text) runs, and its hidden text."""

    text: str
    runs: list[tuple[float, str]]
    hidden: list[HiddenText]


def _extract_pages(
    reader: PdfReader, data: bytes, with_fonts: bool, two_ends: bool
) -> tuple[list[str], list[list[tuple[float, str]]], list[HiddenText]]:
    """Each page's visible text, its (font size, text) runs when `with_fonts`, and the
    text a reader cannot see, which is left out of the page's text.

    With `two_ends`, a PDF of `PARALLEL_MIN_PAGES` pages or more, on a machine with two
    CPUs or more, is extracted from both ends: this process from the first page on, a
    worker process (`pdf_worker`) from the last page back, until they meet. Pages are
    independent, so the result is the one a single process gives, and however their
    costs are spread over the document both processes stay busy to the end.
    """
    page_count = len(reader.pages)
    pages: list[PageText] = []
    if not two_ends or page_count < PARALLEL_MIN_PAGES or len(os.sched_getaffinity(0)) < 2:
        pages = [extract_page(reader, n, with_fonts=with_fonts) for n in range(1, page_count + 1)]
    else:
        with _worker_from_the_end(data, page_count, with_fonts) as from_end:
            for number in range(1, page_count + 1):
                if number in from_end:
                    break
                pages.append(extract_page(reader, number, with_fonts=with_fonts))
            here = len(pages)
            pages += [from_end[n] for n in range(here + 1, page_count + 1)]
        log.debug("%d of %d pages came from the worker", page_count - here, page_count)
    hidden = [h for page in pages for h in page.hidden]
    if hidden:
        log.warning(
            "left out %d runs of hidden text on pages %s",
            len(hidden),
            sorted({h.page for h in hidden}),
        )
    return [p.text for p in pages], [p.runs for p in pages], hidden


def extract_page(reader: PdfReader, number: int, *, with_fonts: bool) -> PageText:
    """Page `number` (1-based) of `_extract_pages`."""
    page = reader.pages[number - 1]
    runs: list[tuple[float, str]] = []
    hidden: list[HiddenText] = []
    try:
        streams = split_hidden_text(page)
        for reason, stream in streams.hidden.items():
            removed = collapse_spaces(_stream_text(page, stream).translate(_CHAR_FIXES))
            if removed:
                hidden.append(HiddenText(number, reason, removed))
        visitor = _FontSizeVisitor(runs) if with_fonts else None
        text = _stream_text(page, streams.visible, visitor)
    except Exception as exc:
        raise ExtractionError(f"text extraction failed on page {number}: {_describe(exc)}") from exc
    try:
        layout = page.extract_text(extraction_mode="layout")  # the visible stream, as above
    except Exception as exc:  # the plain text stands; only its tables stay one cell a line
        log.warning("page %d: no layout text for its tables: %s", number, _describe(exc))
    else:
        text = with_tables(text, layout)
    return PageText(text, runs, hidden)


@contextlib.contextmanager
def _worker_from_the_end(
    data: bytes, page_count: int, with_fonts: bool
) -> Iterator[dict[int, PageText]]:
    """Starts `python -m manualqa.extraction.pdf_worker` on `data` and yields the pages
    it has extracted so far (page number -> page), filled in by a thread as they arrive,
    last page first; on exit the worker is stopped. A fresh interpreter importing only
    the extractor starts in about 0.2 s, where a spawned multiprocessing worker would
    first import the caller's whole program (a Dagster step, a benchmark).

    A page the worker cannot extract stops it there: this process meets that page and
    raises the error itself. A worker that fails otherwise only leaves this process
    more pages to do; its error output is logged.
    """
    command = [
        sys.executable, "-m", "manualqa.extraction.pdf_worker",
        str(page_count), "fonts" if with_fonts else "text",
    ]  # fmt: skip
    done: dict[int, PageText] = {}
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        ) as process,
    ):
        feeder = threading.Thread(target=_feed, args=(process, data), daemon=True)
        collector = threading.Thread(target=_collect, args=(process, done), daemon=True)
        feeder.start()
        collector.start()
        try:
            yield done
        finally:
            if process.poll() is None:
                process.kill()  # the pages it is on now are already extracted here
            feeder.join()
            collector.join()
            if process.wait() > 0:
                errors.seek(0)
                tail = errors.read()[-2000:].decode("utf-8", "replace").strip()
                log.warning("the PDF page worker exited with %d: %s", process.returncode, tail)


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError), process.stdin as stdin:
        stdin.write(data)


def _collect(process: subprocess.Popen[bytes], done: dict[int, PageText]) -> None:
    """Reads the worker's pages, one JSON line each, into `done`."""
    assert process.stdout is not None
    for line in process.stdout:
        page = json.loads(line)
        runs = [(float(size), str(text)) for size, text in page["runs"]]
        hidden = [HiddenText(**h) for h in page["hidden"]]
        done[int(page["number"])] = PageText(page["text"], runs, hidden)


def _stream_text(
    page: PageObject, stream: ContentStream, visitor: _FontSizeVisitor | None = None
) -> str:
    """The text `stream` shows when it is the page's content (the page keeps it)."""
    page[NameObject("/Contents")] = stream
    return page.extract_text(visitor_text=visitor) or ""


class _FontSizeVisitor:
    """Collects (rendered font size, text) for each text run pypdf shows."""

    def __init__(self, runs: list[tuple[float, str]]) -> None:
        self.runs = runs

    def __call__(self, text: str, cm: Any, tm: Any, font_dict: Any, font_size: Any) -> None:
        if not text:
            return
        try:
            # Height of the glyphs in user space: font size scaled by the text and
            # transformation matrices' vertical component.
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            size = round(float(font_size) * scale * 2) / 2
        except (TypeError, ValueError, IndexError):
            return
        if 0 < size < 500:
            self.runs.append((size, text))


def clean_page_texts(raw_pages: list[str]) -> list[str]:
    """Clean the raw text of every page of one document (see the module docstring)."""
    pages_lines = [_page_lines(text) for text in raw_pages]
    pages_lines = _drop_running_lines(pages_lines)
    return [_reflow(lines) for lines in pages_lines]


def _page_lines(text: str) -> list[str]:
    text = _CONTROL_RE.sub("", text.translate(_CHAR_FIXES))
    lines: list[str] = []
    for raw in text.split("\n"):
        line = collapse_spaces(raw)
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.casefold())


def _drop_running_lines(pages_lines: list[list[str]]) -> list[list[str]]:
    if len(pages_lines) < 3:
        return pages_lines
    top: Counter[str] = Counter()
    bottom: Counter[str] = Counter()
    for lines in pages_lines:
        content = [line for line in lines if line]
        top.update({_running_key(line) for line in content[:RUNNING_LINE_ZONE]})
        bottom.update({_running_key(line) for line in content[-RUNNING_LINE_ZONE:]})
    half = len(pages_lines) / 2
    running_top = {k for k, n in top.items() if n > half and len(k) <= HEADING_MAX_CHARS}
    running_bottom = {k for k, n in bottom.items() if n > half and len(k) <= HEADING_MAX_CHARS}
    if not running_top and not running_bottom:
        return pages_lines
    cleaned: list[list[str]] = []
    for lines in pages_lines:
        content_at = [i for i, line in enumerate(lines) if line]
        drop = {i for i in content_at[:RUNNING_LINE_ZONE] if _running_key(lines[i]) in running_top}
        drop |= {
            i for i in content_at[-RUNNING_LINE_ZONE:] if _running_key(lines[i]) in running_bottom
        }
        kept = [line for i, line in enumerate(lines) if i not in drop]
        while kept and not kept[0]:
            kept.pop(0)
        while kept and not kept[-1]:
            kept.pop()
        cleaned.append(kept)
    return cleaned


def _reflow(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if line:
            line = collapse_spaces(_LEADER_RE.sub(" ... ", line))
        if not line:
            if out and out[-1]:
                out.append("")
            continue
        prev = out[-1] if out else ""
        if prev and _PUNCTUATION_LINE_RE.match(line):
            out[-1] = prev + line  # a stray "." set on its own line
            continue
        if prev and _BARE_MARKER_RE.match(prev):
            out[-1] = f"{prev} {line}"  # "3." then the step's text on the next line
            continue
        if prev and prev.endswith("-") and len(prev) > 1 and prev[-2].isalnum():
            if line[0].islower():
                word = prev.rsplit(" ", 1)[-1][:-1].lstrip("(\"'\u201c\u2018[")
                # "func-/tion" is one word; "ESP32-/wroom" or a URL keeps its hyphen.
                out[-1] = (prev[:-1] if word.isalpha() else prev) + line
                continue
            if line[0].isalnum():
                out[-1] = prev + line
                continue
        if (
            prev
            and line[0].islower()
            and prev[-1] not in ".!?:;"
            and not _LIST_MARKER_RE.match(line)
        ):
            out[-1] = f"{prev} {line}"
            continue
        out.append(line)
    return "\n".join(out).strip()


def _font_headings(runs_per_page: list[list[tuple[float, str]]]) -> list[_Heading]:
    chars_by_size: Counter[float] = Counter()
    for runs in runs_per_page:
        for size, text in runs:
            chars_by_size[size] += len(text.strip())
    if not chars_by_size:
        return []
    body = max(chars_by_size.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    threshold = max(body * HEADING_SIZE_RATIO, body + HEADING_SIZE_MIN_DELTA)
    headings: list[_Heading] = []
    for page, runs in enumerate(runs_per_page):
        candidates = [c for c in _large_runs(runs, threshold) if _plausible_heading(c)]
        if len(candidates) > HEADINGS_PER_PAGE_MAX:
            continue  # a page of large type (a poster, a big table) is not a page of headings
        headings.extend(_Heading(c, (c,), page, optional=True) for c in candidates)
    return headings


def _large_runs(runs: list[tuple[float, str]], threshold: float) -> list[str]:
    found: list[str] = []
    parts: list[str] = []
    current: float | None = None
    for size, text in runs:
        if not text.strip():
            if current is not None:
                parts.append(text)
            continue
        # Same size continues the heading (it may wrap), unless a sentence ended there.
        if (
            current is not None
            and abs(size - current) < 0.25
            and not "".join(parts).rstrip().endswith((".", "!", "?"))
        ):
            parts.append(text)
            continue
        if current is not None:
            found.append(collapse_spaces("".join(parts).translate(_CHAR_FIXES)))
        current, parts = (size, [text]) if size >= threshold else (None, [])
    if current is not None:
        found.append(collapse_spaces("".join(parts).translate(_CHAR_FIXES)))
    # "2 . LCD Menu" -> "2. LCD Menu": some layouts set the number's dot apart.
    return [_SPACED_DOT_RE.sub(".", text) for text in found]


def _plausible_heading(text: str) -> bool:
    return (
        3 <= len(text) <= HEADING_MAX_CHARS
        and len(text.split()) <= HEADING_MAX_WORDS
        and _LETTER_WORD_RE.search(text) is not None
        and not text.endswith((".", "!", "?", ",", ";"))
    )


def _assemble(
    pages: list[str],
    labels: list[str] | None,
    headings: list[_Heading],
    title: str,
) -> tuple[list[TextBlock], list[SectionInfo]]:
    by_page: dict[int, list[_Heading]] = {}
    for heading in headings:
        by_page.setdefault(heading.page, []).append(heading)
    front_path = (title,)
    blocks: list[TextBlock] = []
    used: list[_Heading] = []
    active: _Heading | None = None

    def emit(text: str, page: int) -> None:
        text = text.strip()
        if text:
            path = active.path if active is not None else front_path
            label = labels[page] if labels is not None else None
            blocks.append(TextBlock(text=text, page=page + 1, section_path=path, page_label=label))

    for page, text in enumerate(pages):
        cursor = 0
        key, index = match_key(text)
        for heading in by_page.get(page, ()):
            position = _find_heading(text, key, index, heading.title, cursor)
            if position is None:
                if heading.optional:
                    continue
                position = cursor
            emit(text[cursor:position], page)
            active = heading
            used.append(heading)
            cursor = position
        emit(text[cursor:], page)

    sections: list[SectionInfo] = []
    if any(block.section_path == front_path for block in blocks) and (
        not used or used[0].path != front_path
    ):
        first_page = next(b.page for b in blocks if b.section_path == front_path)
        sections.append(SectionInfo(0, title, 1, front_path, first_page))
    for heading in used:
        sections.append(
            SectionInfo(
                ordinal=len(sections),
                title=heading.title,
                level=len(heading.path),
                path=heading.path,
                page=heading.page + 1,
            )
        )
    return blocks, sections


def _find_heading(text: str, key: str, index: list[int], title: str, cursor: int) -> int | None:
    """Where `title` starts in `text` at or after `cursor`, or None (see module docstring)."""
    variants = heading_keys(title)
    start = bisect.bisect_left(index, cursor)
    fallback: int | None = None
    for variant in variants:
        at = key.find(variant, start)
        while at != -1:
            position = index[at]
            if _at_line_start(text, position):
                return position
            if fallback is None and len(variant) >= 4 and not _inside_word(text, position):
                fallback = position
            at = key.find(variant, at + 1)
    return fallback


def _at_line_start(text: str, position: int) -> bool:
    i = position - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i < 0 or text[i] == "\n"


def _inside_word(text: str, position: int) -> bool:
    return position > 0 and text[position - 1].isalnum()
