"""The demo corpus source model: manuals authored as YAML, loaded into typed objects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
LICENSE = "CC-BY-4.0 (demo content written by the manualqa project)"
SOURCE = "manualqa demo corpus"
FORMATS = {"pdf": "pdf", "html": "html", "markdown": "md"}
BLOCK_KINDS = frozenset({"p", "steps", "bullets", "table", "note", "warning", "caution"})
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Source text marks button and label names as **Power**; each renderer styles them its own way.
BOLD_RE = re.compile(r"\*\*(.+?)\*\*")


class SourceError(ValueError):
    """A manual source file is malformed."""


@dataclass(frozen=True)
class Section:
    """One numbered section of a manual, with its body blocks and sub-sections."""

    number: str
    title: str
    blocks: tuple[dict[str, Any], ...]
    children: tuple[Section, ...] = ()

    @property
    def heading(self) -> str:
        """The heading as printed, e.g. ``"2.3 Connecting to Wi-Fi"``."""
        return f"{self.number} {self.title}"

    @property
    def level(self) -> int:
        """Nesting depth: 0 for a chapter, 1 for a section, 2 for a sub-section."""
        return self.number.count(".")

    @property
    def anchor(self) -> str:
        """A stable identifier usable as an HTML id or PDF bookmark name."""
        return "sec-" + self.number.replace(".", "-")


@dataclass(frozen=True)
class Manual:
    """One product manual: identity, rendering options and its section tree."""

    vendor: str
    vendor_slug: str
    product: str
    model: str
    doc_type: str
    doc_slug: str
    format: str
    is_public: bool
    edition: str
    published: str  # ISO date of the edition, for the manifest
    brand_color: str
    intro: str
    about: tuple[str, ...] = ()
    sections: tuple[Section, ...] = field(default=())

    @property
    def key(self) -> str:
        """The stable manual key: ``vendor__model__doc-type``."""
        return f"{self.vendor_slug}__{slugify(self.model)}__{self.doc_slug}"

    @property
    def title(self) -> str:
        """The document title, e.g. ``"PureAir AC-200 Air Purifier Owner's Manual"``."""
        return f"{self.product} {self.doc_type}"

    @property
    def filename(self) -> str:
        """The rendered file's name: ``<key>.<ext>``."""
        return f"{self.key}.{FORMATS[self.format]}"

    def walk(self) -> Iterator[Section]:
        """Yield every section in reading order (depth first)."""
        yield from _walk(self.sections)


def _walk(sections: tuple[Section, ...]) -> Iterator[Section]:
    for section in sections:
        yield section
        yield from _walk(section.children)


def slugify(text: str) -> str:
    """Lower-case ``text`` and keep only ``[a-z0-9-]``, collapsing other runs to one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _check_block(block: dict[str, Any], number: str) -> None:
    if len(block) != 1 or next(iter(block)) not in BLOCK_KINDS:
        raise SourceError(f"section {number}: unknown block {sorted(block)}")
    table = block.get("table")
    if table is None:
        return
    width = len(table["columns"])
    for row in table["rows"]:
        # An unquoted comma or ": " in a YAML flow list silently splits or nests a cell, and
        # an unquoted Off, Yes or No becomes a boolean.
        if len(row) != width or any(isinstance(cell, (dict, list, bool)) for cell in row):
            raise SourceError(f"section {number}: malformed table row {row} (quote the cells)")
    if "widths" in table and len(table["widths"]) != width:
        raise SourceError(f"section {number}: table widths do not match its {width} columns")


def _parse_sections(raw: list[dict[str, Any]], prefix: str = "") -> tuple[Section, ...]:
    sections = []
    for index, item in enumerate(raw, start=1):
        number = f"{prefix}{index}"
        blocks = tuple(item.get("body") or ())
        for block in blocks:
            _check_block(block, number)
        children = _parse_sections(item.get("sections") or [], prefix=f"{number}.")
        sections.append(Section(number, item["title"], blocks, children))
    return tuple(sections)


def _check_pdf_charset(text: str, path: Path) -> None:
    # The PDFs use the standard Type 1 fonts, which can only show the cp1252 character set.
    for line_number, line in enumerate(text.splitlines(), start=1):
        try:
            line.encode("cp1252")
        except UnicodeEncodeError as exc:
            raise SourceError(
                f"{path.name}:{line_number}: {line[exc.start]!r} cannot be shown in the PDF fonts"
            ) from exc


def load_manual(path: Path) -> Manual:
    """Load one manual source file.

    Raises:
        SourceError: when a field is missing, a slug or format is invalid, a table row is
            malformed, or a PDF manual uses a character its fonts cannot show.
    """
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if data.get("format") == "pdf":
        _check_pdf_charset(text, path)
    try:
        manual = Manual(
            vendor=data["vendor"],
            vendor_slug=data["vendor_slug"],
            product=data["product"],
            model=data["model"],
            doc_type=data["doc_type"],
            doc_slug=data["doc_slug"],
            format=data["format"],
            is_public=bool(data["is_public"]),
            edition=data["edition"],
            published=str(data["published"]),
            brand_color=data["brand_color"],
            intro=data["intro"],
            about=tuple(data.get("about") or ()),
            sections=_parse_sections(data["sections"]),
        )
    except KeyError as exc:
        raise SourceError(f"{path.name}: missing field {exc}") from exc
    except SourceError as exc:
        raise SourceError(f"{path.name}: {exc}") from exc
    if manual.format not in FORMATS:
        raise SourceError(f"{path.name}: unknown format {manual.format!r}")
    for slug in (manual.vendor_slug, manual.doc_slug, slugify(manual.model)):
        if not _SLUG_RE.match(slug):
            raise SourceError(f"{path.name}: invalid slug {slug!r}")
    return manual


def load_manuals(sources_dir: Path = SOURCES_DIR) -> list[Manual]:
    """Load every ``*.yaml`` manual source in ``sources_dir``, sorted by manual key."""
    manuals = [load_manual(path) for path in sorted(sources_dir.glob("*.yaml"))]
    return sorted(manuals, key=lambda manual: manual.key)
