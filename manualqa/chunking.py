"""Token-aware chunking of an extracted manual into retrievable passages.

Rules (`chunk_manual`):

* A chunk never crosses a section boundary: consecutive blocks with the same
  section path are chunked together, and a new path starts a new chunk.
* Sizes are counted with the embedding model's tokenizer. Each chunk holds at
  most `budget` tokens, where `budget = min(max_tokens, window - prefix)`:
  the model window (256 for all-MiniLM-L6-v2, less its two special tokens)
  must still hold the `context_prefix` (manual title and section path) that
  `embedding_text` puts before the chunk.
* Within a section, whole paragraphs are packed greedily. A paragraph that
  does not fit is cut into items (a list item or numbered step with its
  continuation lines, a table row, a line of prose), an item that does not
  fit into sentences, and a sentence that does not fit at token boundaries
  (at word starts where possible). So a numbered step or a table row is only
  cut when it alone exceeds the budget.
* A table cut between two chunks starts the next one with its header row and
  rule again (when it has them), so that its rows still say what each cell is.
* Consecutive chunks of a section overlap by up to `overlap_tokens` tokens:
  the next chunk starts with the end of the previous one, from a word start
  (from a sentence or line start where one falls in the overlap).
* A chunk covers at most two consecutive pages of one section; `page` is the
  first, `page_end` the last (both None for HTML and Markdown).
* A chunk is dropped only when it carries no content: with its leading
  heading lines removed, it has fewer than `min_tokens` tokens and no word of
  three letters (a lone heading, a page number, diagram letters). A parent
  heading with no text of its own loses nothing: it stays in its children's
  section paths.
* Ordinals are 0..n-1 in reading order; the output depends only on the input.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from manualqa.config import ChunkingSettings
from manualqa.documents import Chunk, ExtractedManual, TextBlock
from manualqa.extraction import TABLE_ROW_RE, TABLE_RULE_RE, heading_keys, match_key
from manualqa.tokens import TokenCounter

__all__ = [
    "MIN_BUDGET",
    "PATH_SEPARATOR",
    "chunk_manual",
    "context_prefix",
    "embedding_text",
    "token_budget",
]

PATH_SEPARATOR = " > "
MIN_BUDGET = 32

_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n")
_ITEM_START_RE = re.compile(
    r"^\s*(?:[-*+\u2022\u25e6\u25aa\u25cf\u25cb\u25a0\u27a2\u25ba\u2013]\s"
    r"|\(?\d{1,3}(?:\.\d{1,3})*[.)]\s"
    r"|\(?[A-Za-z][.)]\s"
    r"|(?:step|note|warning|caution|important)\b"
    r"|\|)",
    re.IGNORECASE,
)
_ITEM_END_CHARS = ".!?:;"
_SENTENCE_END_RE = re.compile(r"[.!?][\"')\]\u201d\u2019]*\s+")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "fig", "figs", "no", "nos", "approx", "ca", "cf", "min", "max"}
    | {"mr", "mrs", "ms", "dr", "st", "ref", "refs", "sec", "vol", "rev", "pp", "p", "ch", "al"}
)
_CONTENT_WORD_RE = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class _Atom:
    """An unbreakable piece of text and the separator that goes before it."""

    text: str
    tokens: int
    page: int | None
    page_label: str | None
    sep: str


@dataclass(frozen=True)
class _Draft:
    text: str
    tokens: int
    page: int | None
    page_end: int | None
    page_label: str | None


def context_prefix(manual_title: str, section_path: Sequence[str]) -> str:
    """The heading line to embed before a chunk: "Manual > Section > Subsection".

    A section path equal to the title (the front matter) is not repeated.
    """
    parts = [manual_title] if manual_title else []
    for part in section_path:
        if not parts or part != parts[-1]:
            parts.append(part)
    return PATH_SEPARATOR.join(parts)


def embedding_text(chunk: Chunk, manual_title: str = "") -> str:
    """The text to embed for `chunk`: its context prefix, a newline, then its text.

    `chunk_manual` sized the chunk so that this fits the model window when
    `manual_title` is the manual's title (or empty).
    """
    prefix = context_prefix(manual_title, chunk.section_path)
    return f"{prefix}\n{chunk.text}" if prefix else chunk.text


def token_budget(
    counter: TokenCounter,
    settings: ChunkingSettings,
    manual_title: str,
    section_path: Sequence[str],
) -> int:
    """Most tokens a chunk of this section may hold.

    `max_tokens`, lowered so that the context prefix, a newline and the
    model's special tokens still fit in its window; never below
    `min(max_tokens, MIN_BUDGET)` (an absurdly long heading path is then cut
    by the embedder rather than leaving no room for text).
    """
    prefix_tokens = counter.count(context_prefix(manual_title, section_path) + "\n")
    room = counter.content_window - prefix_tokens
    return max(min(settings.max_tokens, room), min(settings.max_tokens, MIN_BUDGET))


def chunk_manual(
    doc: ExtractedManual, counter: TokenCounter, settings: ChunkingSettings
) -> list[Chunk]:
    """Cut an extracted manual into chunks (rules in the module docstring).

    Args:
        doc: the manual's blocks in reading order.
        counter: the embedding model's token counter.
        settings: `max_tokens`, `overlap_tokens` and `min_tokens`.

    Returns:
        The chunks with ordinals 0..n-1 in reading order.
    """
    chunks: list[Chunk] = []
    for path, blocks in _section_runs(doc.blocks):
        budget = token_budget(counter, settings, doc.title, path)
        overlap = min(settings.overlap_tokens, budget // 2)
        atoms = _atoms(blocks, counter, limit=budget - overlap)
        for draft in _pack(atoms, counter, budget, overlap):
            if _carries_no_content(draft.text, path, counter, settings.min_tokens):
                continue
            chunks.append(
                Chunk(
                    manual_key=doc.key,
                    ordinal=len(chunks),
                    text=draft.text,
                    page=draft.page,
                    page_end=draft.page_end,
                    section_path=path,
                    token_count=draft.tokens,
                    page_label=draft.page_label,
                )
            )
    return chunks


def _section_runs(
    blocks: Sequence[TextBlock],
) -> Iterator[tuple[tuple[str, ...], list[TextBlock]]]:
    run: list[TextBlock] = []
    for block in blocks:
        if run and block.section_path != run[0].section_path:
            yield run[0].section_path, run
            run = []
        run.append(block)
    if run:
        yield run[0].section_path, run


def _atoms(blocks: Sequence[TextBlock], counter: TokenCounter, *, limit: int) -> list[_Atom]:
    atoms: list[_Atom] = []
    for block in blocks:
        paragraphs = [p.strip() for p in _PARAGRAPH_RE.split(block.text) if p.strip()]
        for paragraph, tokens in zip(paragraphs, counter.count_batch(paragraphs), strict=True):
            for index, (text, count, sep) in enumerate(
                _split_paragraph(paragraph, tokens, counter, limit)
            ):
                atoms.append(
                    _Atom(text, count, block.page, block.page_label, "\n\n" if index == 0 else sep)
                )
    return atoms


def _split_paragraph(
    paragraph: str, tokens: int, counter: TokenCounter, limit: int
) -> list[tuple[str, int, str]]:
    """Pieces of at most `limit` tokens, each with the separator that precedes it."""
    if tokens <= limit:
        return [(paragraph, tokens, "\n\n")]
    pieces: list[tuple[str, int, str]] = []
    items = _items(paragraph)
    for item, item_tokens in zip(items, counter.count_batch(items), strict=True):
        if item_tokens <= limit:
            pieces.append((item, item_tokens, "\n"))
            continue
        sentences = _sentences(item)
        for k, (sentence, sentence_tokens) in enumerate(
            zip(sentences, counter.count_batch(sentences), strict=True)
        ):
            sep = "\n" if k == 0 else " "
            if sentence_tokens <= limit:
                pieces.append((sentence, sentence_tokens, sep))
                continue
            for q, part in enumerate(counter.split(sentence, limit)):
                pieces.append((part, counter.count(part), sep if q == 0 else " "))
    return pieces


def _items(paragraph: str) -> list[str]:
    """Lines grouped into list items, table rows and prose lines.

    A line continues the previous item when it starts no item of its own, the
    previous item does not end a sentence or a table row, and either the line
    starts in lower case or the previous item is a list item or step.
    """
    items: list[str] = []
    for line in paragraph.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if items and not _ITEM_START_RE.match(stripped):
            previous = items[-1]
            last_line = previous.rsplit("\n", 1)[-1].strip()
            ends = last_line.endswith(_ITEM_END_CHARS) or last_line.startswith("|")
            if not ends and (stripped[0].islower() or _ITEM_START_RE.match(previous.lstrip())):
                items[-1] = f"{previous}\n{line.rstrip()}"
                continue
        items.append(line.rstrip())
    return items


def _sentences(text: str) -> list[str]:
    """Split at sentence ends followed by an upper-case letter, digit or bullet."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        following = text[match.end() : match.end() + 1]
        if not following or not (
            following.isupper() or following.isdigit() or following in "\"'(\u201c[\u2022"
        ):
            continue
        words = text[start : match.start() + 1].split()
        last_word = words[-1].lower().rstrip(".!?") if words else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _join(atoms: Sequence[_Atom]) -> str:
    parts: list[str] = []
    for i, atom in enumerate(atoms):
        if i:
            parts.append(atom.sep)
        parts.append(atom.text)
    return "".join(parts)


def _same_span(first_page: int | None, page: int | None) -> bool:
    return first_page is None or page is None or 0 <= page - first_page <= 1


def _pack(atoms: list[_Atom], counter: TokenCounter, budget: int, overlap: int) -> list[_Draft]:
    drafts: list[_Draft] = []
    current: list[_Atom] = []
    total = 0
    head: _Atom | None = None  # the header row and rule of the table being packed
    last: _Atom | None = None
    for atom in atoms:
        if current and (total + atom.tokens > budget or not _same_span(current[0].page, atom.page)):
            drafts.extend(_drafts(current, counter, budget))
            # A table cut between chunks repeats its header: a row alone names no column.
            heading = head if head is not None and TABLE_ROW_RE.match(atom.text) else None
            room = budget - atom.tokens - (heading.tokens if heading is not None else 0)
            carry = _carry(current, atom, counter, min(overlap, room))
            if heading is not None and carry is not None:
                carry = dataclasses.replace(carry, sep="\n")
            current = [a for a in (heading, carry) if a is not None]
            total = sum(a.tokens for a in current)
        head = _table_head(last, atom, head)
        last = atom
        current.append(atom)
        total += atom.tokens
    if current:
        drafts.extend(_drafts(current, counter, budget))
    return drafts


def _table_head(previous: _Atom | None, atom: _Atom, head: _Atom | None) -> _Atom | None:
    """The header of the table `atom` belongs to: a row above a rule (`| --- |`), kept
    while rows follow it. It has no page: it stands in for the page it was set on."""
    if (
        previous is not None
        and TABLE_RULE_RE.match(atom.text)
        and TABLE_ROW_RE.match(previous.text)
    ):
        text = f"{previous.text}\n{atom.text}"
        return _Atom(text, previous.tokens + atom.tokens, None, None, "\n\n")
    return head if TABLE_ROW_RE.match(atom.text) else None


def _carry(
    previous: list[_Atom], following: _Atom, counter: TokenCounter, max_tokens: int
) -> _Atom | None:
    """The overlap: the end of the previous chunk, to start the next one with."""
    if max_tokens <= 0:
        return None
    source_atoms: list[_Atom] = []
    collected = 0
    for atom in reversed(previous):
        if not _same_span(atom.page, following.page):
            break  # the overlap must not stretch the next chunk over three pages
        source_atoms.insert(0, atom)
        collected += atom.tokens
        if collected >= max_tokens:
            break
    if not source_atoms:
        return None
    source = _join(source_atoms)
    text = counter.tail(source, max_tokens)
    if not text:
        return None
    # The page of the overlap is the page of the atom its first character comes from.
    start = len(source.rstrip()) - len(text)
    origin = source_atoms[-1]
    offset = 0
    for i, atom in enumerate(source_atoms):
        offset += len(atom.sep) if i else 0
        if start < offset + len(atom.text):
            origin = atom
            break
        offset += len(atom.text)
    return _Atom(text, counter.count(text), origin.page, origin.page_label, "")


def _drafts(atoms: list[_Atom], counter: TokenCounter, budget: int) -> list[_Draft]:
    text = _join(atoms).strip()
    pages = [a.page for a in atoms if a.page is not None]
    page = pages[0] if pages else None
    page_end = max(pages) if pages else None
    label = next((a.page_label for a in atoms if a.page == page), None)
    tokens = counter.count(text)
    if tokens <= budget:
        return [_Draft(text, tokens, page, page_end, label)]
    # Token counts of joined pieces add up for a BERT tokenizer; this is a safety net.
    return [
        _Draft(part, counter.count(part), page, page_end, label)
        for part in counter.split(text, budget)
    ]


def _carries_no_content(
    text: str, path: Sequence[str], counter: TokenCounter, min_tokens: int
) -> bool:
    remainder = _without_leading_headings(text, path)
    if _CONTENT_WORD_RE.search(remainder):
        return False
    return counter.count(remainder) < min_tokens


def _without_leading_headings(text: str, path: Sequence[str]) -> str:
    """`text` without the heading lines of its section path that open it."""
    titles = {key for title in path for key in heading_keys(title)}
    lines = text.split("\n")
    start = 0
    folded = ""
    for k, line in enumerate(lines):
        folded += match_key(line)[0]
        if not folded:
            continue
        if folded.rstrip(":.") in titles:
            start = k + 1
            folded = ""
            continue
        if not any(title.startswith(folded) for title in titles):
            break
    return "\n".join(lines[start:])
