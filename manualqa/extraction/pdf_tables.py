"""Tables in a PDF page, read from pypdf's layout text and written back as Markdown rows.

pypdf's plain text gives a table one cell per line, and a cell that wraps in its column
as several lines: nothing says where a row starts. Its layout mode keeps each line's
horizontal place, so a table shows as lines of text blocks separated by wide gaps, each
block starting at one of a few columns, and a wrapped cell as a line whose blocks leave
the first column empty:

    Problem                  Cause                        Solution
    No mist comes out        Water tank is empty or not   Refill the tank and make
                             seated correctly             sure it sits flat.

Such a run of lines (at least `MIN_ROWS` rows under their first line) is a table. Its
cells, read row by row and cell by cell, must be the very words of a run of the plain
text's lines; those
lines are then replaced by one `| cell | cell |` line a row, with a rule under the first
row when it names the columns (short cells, no figures, no sentence). Where the words do
not line up (two columns of prose side by side, a table whose plain text interleaves
differently) the plain text is kept as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from manualqa.extraction import names_a_column

GAP = 3  # spaces between two blocks of one line that set them in different columns
COLUMN_SLACK = 2  # characters a block may start off its column
MIN_ROWS = 2  # rows under the first one
HEADER_CELL_WORDS = 4
MAX_ROW_LINES = 16  # lines one row of a table may take
GUTTER_CROSSINGS = 2  # lines that may cross the gutter of a page set in two columns
MIN_SIDE_BY_SIDE = 4  # lines with text in both columns of a page set in two

_BLOCK_RE = re.compile(rf"\S+(?: {{1,{GAP - 1}}}\S+)*")
_PAGE_RE = re.compile(r"^\d{1,4}$")
_NUMBERED_RE = re.compile(r"^\d+(?:\.\d+)*\.?\s+\D")
_LEADER_RE = re.compile(r"(?:\.\s?){4,}|…")
_MARKER_RE = re.compile(r"^\(?(?:\d{1,3}|[a-zA-Z])[.)]$")


@dataclass(frozen=True)
class _Block:
    start: int
    text: str


def _blocks(line: str) -> list[_Block]:
    return [_Block(m.start(), m.group()) for m in _BLOCK_RE.finditer(line)]


Line = dict[int, str]  # column -> the text of the line's block there


def layout_tables(layout: str) -> list[list[Line]]:
    """The runs of lines of a page's layout text that read as tables: a first line of two
    blocks or more, and the lines under it whose blocks each start at one of its columns
    (a blank line may come between two). At least `MIN_ROWS` of them start in the first
    column with another block beside: rows."""
    tables = []
    lines = layout.splitlines()
    index = 0
    while index < len(lines):
        first = _blocks(lines[index])
        if len(first) < 2:
            index += 1
            continue
        columns = [b.start for b in first]
        table: list[Line] = [{i: b.text for i, b in enumerate(first)}]
        end = index + 1
        while end < len(lines):
            placed = _placed(columns, lines[end])
            if placed is None:
                break
            if not placed:  # a blank line: inside the table when an aligned line follows
                if end + 1 < len(lines) and _placed(columns, lines[end + 1]):
                    end += 1
                    continue
                break
            table.append(placed)
            end += 1
        if sum(1 for line in table[1:] if 0 in line and len(line) > 1) >= MIN_ROWS:
            tables.append(table)
            index = end
        else:
            index += 1
    return tables


def _placed(columns: list[int], line: str) -> Line | None:
    """The line's blocks by column; None when one starts at no column of the table or
    two at the same one."""
    placed: Line = {}
    for block in _blocks(line):
        column = next(
            (i for i, c in enumerate(columns) if abs(c - block.start) <= COLUMN_SLACK), None
        )
        if column is None or column in placed:
            return None
        if column + 1 < len(columns) and block.start + len(block.text) >= columns[column + 1]:
            return None  # it runs across the next column: prose under the table
        placed[column] = block.text
    return placed


def _order(lines: list[Line], width: int) -> list[str]:
    """The words of a row made of `lines` as the plain text gives them: cell by cell, each
    cell's lines from the top."""
    return [w for c in range(width) for line in lines for w in line.get(c, "").split()]


def _rows(table: list[Line], width: int, plain: list[str]) -> tuple[list[list[Line]], int]:
    """The table's lines grouped into rows so that, read cell by cell, they are `plain`
    (the plain text's words from the table's first on), as far as they are, and how many
    of those words they take. A row is the most lines (up to `MAX_ROW_LINES`) from where
    the one above ended that read as the plain text does and hold two cells or more:
    "White dust on furniture near" / "the unit" is one cell wrapped, and a cell set at the
    foot of its row leaves the row's first line without it."""
    rows: list[list[Line]] = []
    at = 0
    index = 0
    while index < len(table):
        longest: list[Line] = []
        taken = 0
        for end in range(index + 1, min(index + MAX_ROW_LINES, len(table)) + 1):
            group = table[index:end]
            words = _order(group, width)
            if plain[at : at + len(words)] == words and len(set().union(*group)) >= 2:
                longest, taken = group, len(words)
        if not longest:
            break
        rows.append(longest)
        at += taken
        index += len(longest)
    return rows, at


def _is_header(row: list[str]) -> bool:
    return all(
        cell and len(cell.split()) <= HEADER_CELL_WORDS and names_a_column(cell) for cell in row
    )


def _markdown(rows: list[list[str]]) -> list[str]:
    out = [f"| {' | '.join(row)} |" for row in rows]
    if _is_header(rows[0]):
        out.insert(1, "|" + "---|" * len(rows[0]))
    return out


def page_columns(layout: str) -> list[str]:
    """The layout text of each column of a page set in two (a table in the left column,
    prose in the right on the same lines), or none when the page is not: a gutter is a
    run of at least `GAP` character places, in the middle half of the page, that no line
    crosses but at most `GUTTER_CROSSINGS` (a title set across both columns) and that at
    least `MIN_SIDE_BY_SIDE` lines have text on both sides of."""
    lines = layout.splitlines()
    width = max((len(line) for line in lines), default=0)
    free = [
        x
        for x in range(width // 4, 3 * width // 4)
        if sum(1 for line in lines if line[x - 1 : x + 2].strip()) <= GUTTER_CROSSINGS
        and sum(1 for line in lines if line[:x].strip() and line[x:].strip()) >= MIN_SIDE_BY_SIDE
    ]
    runs: list[list[int]] = []
    for x in free:
        if runs and x == runs[-1][-1] + 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    gutter = max(runs, key=len, default=[])
    if len(gutter) < GAP:
        return []
    cut = gutter[len(gutter) // 2]
    return ["\n".join(line[:cut] for line in lines), "\n".join(line[cut:] for line in lines)]


def with_tables(plain: str, layout: str) -> str:
    """`plain` (a page's plain text) with the lines of each table found in `layout` (the
    same page's layout text, and each of its columns on a page set in two) replaced by
    Markdown rows."""
    lines = plain.split("\n")
    tables = [t for part in [layout, *page_columns(layout)] for t in layout_tables(part)]
    for table in tables:
        width = max(max(line) for line in table) + 1
        first = _order(table[:1], width)
        words = [line.split() for line in lines]
        for start, here in enumerate(words):
            if not here or here != first[: len(here)]:
                continue
            rows, taken = _rows(table, width, [w for line in words[start:] for w in line])
            cells = [
                [" ".join(w for line in row for w in line.get(c, "").split()) for c in range(width)]
                for row in rows
            ]
            end = _line_end(words, start, taken)
            if (
                len(rows) > MIN_ROWS
                and end is not None
                and sum(map(_is_marker, cells)) < len(cells) - 1
                and not _is_contents(cells)
            ):
                lines[start:end] = _markdown(cells)
                break
    return "\n".join(lines)


def _is_contents(rows: list[list[str]]) -> bool:
    """A table of contents: section titles (numbered, or run into dot leaders) beside
    page numbers."""
    titled = sum(
        1
        for row in rows
        if _PAGE_RE.match(row[-1]) and (_NUMBERED_RE.match(row[0]) or _LEADER_RE.search(row[0]))
    )
    return titled >= 0.6 * len(rows)


def _is_marker(row: list[str]) -> bool:
    """A first cell that is a bullet or a step number: in (nearly) every row, a list laid
    out with wide gaps."""
    first = row[0]
    return bool(first) and (not any(ch.isalnum() for ch in first) or bool(_MARKER_RE.match(first)))


def _line_end(words: list[list[str]], start: int, count: int) -> int | None:
    """The line after the one where the `count`th word from line `start` ends (`words`:
    each line's words), when it ends that line."""
    taken = 0
    for end in range(start, len(words)):
        taken += len(words[end])
        if taken == count:
            return end + 1
        if taken > count:
            return None
    return None
