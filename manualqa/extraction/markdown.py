"""Markdown manuals: sections from ATX headings, light clean-up of the text.

The same splitter serves HTML, whose main content trafilatura renders as
Markdown first (see `manualqa.extraction.html`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from manualqa.documents import ExtractedManual, ManualRef, SectionInfo, TextBlock
from manualqa.extraction import ExtractionError, collapse_spaces, has_words
from manualqa.extraction.html_render import fragment_markdown

__all__ = ["clean_inline", "decode_text", "extract_markdown", "split_markdown"]

log = logging.getLogger(__name__)

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
# Any indentation: a fence inside a list item is indented to the item's text.
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})")
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
# A setext heading's underline: '=' for level 1, '-' for level 2, under a line of text.
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines a setext underline cannot make a heading of: list items, quotes, table rows.
_NOT_SETEXT_TEXT_RE = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])(?:\s|$)|\|")
# A line all in bold, which titles the paragraph it opens (`split_markdown`).
_BOLD_LINE_RE = re.compile(r"^ {0,3}(\*\*|__)(?![*_\s])([^*_]+?)\1[ \t]*$")
BOLD_HEADING_WORDS = 15
_TABLE_RULE_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK_DEF_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_QUOTE_RE = re.compile(r"^(\s{0,3}>\s?)+")
_ADMONITION_RE = re.compile(r'^(\s*)(?:!!!|\?\?\?\+?)\s*([\w-]+)(?:\s+"([^"]*)")?\s*$')
# An HTML block: a line opening a block-level element (CommonMark's HTML blocks of type 6).
_HTML_BLOCK_RE = re.compile(
    r"^ {0,3}<(table|ul|ol|dl|div|p|pre|blockquote|details|figure|section|center)(?=[\s>/]|$)",
    re.IGNORECASE,
)
_TAB_RE = re.compile(r'^(\s*)===\+?\s+"([^"]*)"\s*$')  # mkdocs-material content tabs
_ATTR = r"(?:[.#][\w-]+|[\w-]+=(?:\"[^\"]*\"|'[^']*'|[^\s}]+))"
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"!\[[^\]]*\]\[[^\]]*\]"), ""),  # reference images
    (re.compile(r"\{:?\s*" + _ATTR + r"(?:\s+" + _ATTR + r")*\s*\}"), ""),  # attr lists
    # links; the closing parenthesis is optional because real files forget it
    (re.compile(r"\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)?"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<((?:https?|ftp)://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"<br\s*/?>", re.I), " "),
    (re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>"), ""),  # other HTML tags
    (re.compile(r"\*\*"), ""),
    (re.compile(r"`([^`\n]+)`"), r"\1"),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), r"\1"),  # backslash escapes
)


def decode_text(data: bytes, what: str) -> str:
    """Decode text bytes as UTF-8 (BOM allowed), else Windows-1252.

    Raises:
        ExtractionError: for binary data or bytes that are neither encoding.
    """
    if b"\x00" in data[:4096]:
        raise ExtractionError(f"the file holds binary data (NUL bytes), not {what} text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"{what} text is neither UTF-8 nor Windows-1252: {exc}") from exc
    log.warning("%s text is not UTF-8; decoded as Windows-1252", what)
    return text


def extract_markdown(data: bytes, ref: ManualRef) -> ExtractedManual:
    """Extract a Markdown manual: YAML front matter stripped, sections from headings.

    The title is the front matter's `title`, else `ref.title`.

    Raises:
        ExtractionError: undecodable bytes or no text.
    """
    text = decode_text(data, "Markdown")
    front, body = _split_front_matter(text)
    front_title = front.get("title")
    title = collapse_spaces(str(front_title)) if front_title else ref.title
    blocks, sections = split_markdown(body, title)
    if not any(has_words(b.text) for b in blocks):
        raise ExtractionError("the Markdown file holds no text (only markup or whitespace)")
    return ExtractedManual(
        key=ref.key,
        media_type="text/markdown",
        title=title,
        page_count=None,
        blocks=blocks,
        sections=sections,
    )


@dataclass
class _Section:
    path: tuple[str, ...]
    heading: str | None
    lines: list[str] = field(default_factory=list)


def split_markdown(text: str, title: str) -> tuple[list[TextBlock], list[SectionInfo]]:
    """Split Markdown into one block per section, headings giving the section paths.

    ATX headings (`#` to `######`) and setext headings (a line of text underlined with
    `===` or `---`) open sections; their path is the chain of enclosing headings, and
    `SectionInfo.level` is the depth in that chain (1 = top), whatever the number of `#`.
    A paragraph opening with a line all in bold (up to `BOLD_HEADING_WORDS` words; an FAQ
    question, a troubleshooting symptom) opens a section titled by it, one level below the
    heading above.
    A `#` line inside a fenced code block is code, not a heading. Text before the first
    heading belongs to a section named after `title`. Each block starts with its heading's
    text. Clean-up: HTML comments, images, thematic breaks and link definitions are
    dropped; links become their text; fences are dropped but the code inside is kept
    verbatim; a pipe table is written with outer pipes and its header rule as `|---|`.
    Pages are None.
    """
    text = _COMMENT_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _html_blocks_as_markdown(text)
    sections: list[_Section] = [_Section(path=(title,), heading=None)]
    stack: list[tuple[int, str]] = []

    def open_section(level: int, raw_title: str) -> None:
        heading_title = collapse_spaces(clean_inline(raw_title))
        if heading_title:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading_title))
            path = tuple(t for _, t in stack)
            sections.append(_Section(path=path, heading=heading_title))

    fence: str | None = None
    lines = text.split("\n")
    underlined = False  # this line is the underline of a setext heading, already opened
    heading_level = 0  # the level of the last heading (`#` count, or 1/2 for setext)
    table = False  # reading the rows of a table below its header rule
    for index, raw in enumerate(lines):
        line = raw.rstrip()
        if underlined:
            underlined = False
            continue
        if fence is not None:
            if _closes(fence, line):
                fence = None
            else:
                sections[-1].lines.append(line)
            continue
        fence_match = _FENCE_RE.match(line)
        if fence_match:
            fence = fence_match.group(1)
            continue
        heading = _ATX_RE.match(line)
        if heading:
            heading_level = len(heading.group(1))
            open_section(heading_level, heading.group(2) or "")
            table = False
            continue
        following = lines[index + 1].rstrip() if index + 1 < len(lines) else ""
        setext = _SETEXT_RE.match(following)
        if setext and line.strip() and not _NOT_SETEXT_TEXT_RE.match(line):
            heading_level = 1 if setext.group(1)[0] == "=" else 2
            open_section(heading_level, line.strip())
            underlined = True
            continue
        kept = sections[-1].lines
        if "|" in line and _TABLE_RULE_RE.match(line) and kept and "|" in kept[-1]:
            # The rule under a table's header: the row above names the columns. Both are
            # written with outer pipes, the rule as `|---|---|`, as every extractor writes
            # a table, so that each row is read with its header.
            kept[-1] = _piped(kept[-1])
            kept.append("|" + "---|" * (kept[-1].count("|") - 1))
            table = True
            continue
        if _RULE_RE.match(line) or _TABLE_RULE_RE.match(line) or _LINK_DEF_RE.match(line):
            continue
        if table and "|" in line:
            kept.append(_piped(_clean_line(line)))
            continue
        table = False
        lead = _BOLD_LINE_RE.match(line)
        starts_paragraph = index == 0 or not lines[index - 1].strip()
        if lead and starts_paragraph and len(lead.group(2).split()) <= BOLD_HEADING_WORDS:
            # A paragraph that opens with a line all in bold ("**The pads stay dark.**",
            # then the remedy): that line titles what follows, one level below the heading.
            open_section(heading_level + 1, lead.group(2))
            continue
        sections[-1].lines.append(_clean_line(line))

    blocks: list[TextBlock] = []
    infos: list[SectionInfo] = []
    for section in sections:
        body = _join_lines(section.lines)
        if section.heading is None and not body:
            continue
        parts = [p for p in (section.heading, body) if p]
        blocks.append(TextBlock(text="\n\n".join(parts), page=None, section_path=section.path))
        infos.append(
            SectionInfo(
                ordinal=len(infos),
                title=section.path[-1],
                level=len(section.path),
                path=section.path,
                page=None,
            )
        )
    return blocks, infos


def _closes(fence: str, line: str) -> bool:
    """Whether `line` closes the code block `fence` opened."""
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _html_blocks_as_markdown(text: str) -> str:
    """`text` with each HTML block outside code (a `<table>`, `<ul>`, `<div>` ... starting a
    line) written as Markdown: stripping its tags would run a table's cells together
    ("Weight22.4 kg")."""
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = _FENCE_RE.match(line)
        block = _HTML_BLOCK_RE.match(line) if fence is None and not opened else None
        if block is None:
            if fence is not None and _closes(fence, line):
                fence = None
            elif fence is None and opened:
                fence = opened.group(1)
            out.append(line)
            index += 1
            continue
        end = _html_block_end(lines, index, block.group(1).lower())
        out.extend(["", fragment_markdown("\n".join(lines[index:end])), ""])
        index = end
    return "\n".join(out)


def _html_block_end(lines: list[str], start: int, tag: str) -> int:
    """The index after the last line of the HTML block of `tag` opening at `start`: the
    line that closes it, or a blank line not followed by more HTML (Markdown resumes
    there), whichever comes first. Each line is read once, whatever the input."""
    opening = re.compile(rf"<{tag}(?=[\s>/])", re.IGNORECASE)
    closing = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    depth = 0
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip():
            following = lines[index + 1].lstrip() if index + 1 < len(lines) else ""
            if not following.startswith("<"):
                return index
            continue
        depth += len(opening.findall(line)) - len(closing.findall(line))
        if depth <= 0:
            return index + 1
    return len(lines)


def clean_inline(text: str) -> str:
    """Drop Markdown inline markup that carries no words (images, link targets, tags)."""
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


def _clean_line(line: str) -> str:
    line = _QUOTE_RE.sub("", line)
    admonition = _ADMONITION_RE.match(line)
    if admonition:
        indent, kind, label = admonition.groups()
        line = f"{indent}{kind.capitalize()}: {label}" if label else f"{indent}{kind.capitalize()}:"
    line = _TAB_RE.sub(r"\1\2:", line)
    cleaned = clean_inline(line).rstrip()
    indent_len = len(cleaned) - len(cleaned.lstrip())
    # Keep list indentation, but collapse space runs inside the line.
    return cleaned[:indent_len] + re.sub(r"[ \t]{2,}", " ", cleaned[indent_len:])


def _piped(row: str) -> str:
    """A table row with its outer pipes: "Zones | 6" -> "| Zones | 6 |"."""
    row = row.strip()
    return f"{'' if row.startswith('|') else '| '}{row}{'' if row.endswith('|') else ' |'}"


def _join_lines(lines: list[str]) -> str:
    out: list[str] = []
    blank = False
    for line in lines:
        if not line.strip():
            blank = bool(out)
            continue
        if blank:
            out.append("")
        out.append(line)
        blank = False
    return "\n".join(out).strip("\n")


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    body = text[match.end() :]
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        log.warning("ignoring front matter that is not valid YAML: %s", exc)
        return {}, body
    return (data if isinstance(data, dict) else {}), body
