"""Answer units: the sentences, steps, list items and table rows a passage is made of.

An answer quotes whole units, never a fragment of one. Text extracted from a PDF breaks
lines anywhere, so wrapped lines are joined back into paragraphs first. Each unit keeps
the text an answer shows for it (`shown`): a numbered step shows its whole procedure
with the sentence that leads into it, and a table row shows the table's header with it.

A PDF table usually comes out one cell per line ("Weight", "4.1 kg", "Power cord length",
"1.8 m"), and where its rows start is not marked. A run of such short lines is therefore
cut into every window of one to three neighbouring cells; the one that reads as the row
the question asks about ("Weight 4.1 kg") scores best. A code alone on its line ("E2",
"AF-200H") labels a row whose cells follow it up to the end of a sentence: "E2: Filter
not recognised; Check that a genuine filter is fitted."
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from manualqa.extraction import TABLE_ROW_RE, TABLE_RULE_RE, names_a_column
from manualqa.sentences import split_sentences

UnitKind = Literal["sentence", "step", "item", "row"]

_STRAY_STOP_RE = re.compile(r"^[.,;:](?:\s+|$)")
_STEP_RE = re.compile(r"^\(?(?:step\s*)?(\d{1,2})[.):]\s+\S", re.IGNORECASE)
_ITEM_RE = re.compile(
    r"^(?:[-*+\u2022\u25e6\u25aa\u25cf\u25a0\u27a2\u25ba\u2013]|\(?[a-z][.)])\s+\S"
)
_HEADING_RE = re.compile(r"^#{1,6}\s")
_DIGIT_RE = re.compile(r"\d")
_SECTION_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)+\.?\s")
# A table-of-contents entry: a numbered title ending in its page number, or dot leaders.
_CONTENTS_RE = re.compile(
    r"^(?:\d+(?:\.\d+)+\.?\s+\D.*\s\d{1,4}|\d+\s+[A-Z]\D*\s\d{1,4}|.*(?:(?:\.\s?){3,}|…)\s*\d{1,4})$"
)
# A caption names a figure or table; it says nothing about the product itself.
_CAPTION_RE = re.compile(
    r"^(?:figure|fig\.|table|image|picture|photo)\s*\d+[.:)]?\s", re.IGNORECASE
)
_NUMBERED_TITLE_RE = re.compile(r"^\d+(?:\.\d+)*\.?\s+[^\W\d]")
# A code alone on its line (E2, E21, J1, AF-200H): the label of a table row laid out one
# cell per line, whose other cells (meaning, remedy) follow it.
_CODE_LABEL_RE = re.compile(r"^(?=[A-Z0-9-]*\d)(?=.{2,12}$)[A-Z]{1,3}(?:-?[A-Z0-9]{1,5}){1,3}$")
_PAGE_NUMBER_RE = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE)
MIN_WORDS = 3
WRAPPED_WORDS = 7  # a shorter line that ends no sentence is a line of its own (a spec row)
TITLE_WORDS = 6
MAX_PROCEDURE_STEPS = 12
STEP_GAP_LINES = 4  # lines between two steps that still belong to the first (a command, a note)
TABLE_LINES = 3  # at least this many short lines in a row are read as table cells
ROW_CELLS = 3  # the widest window of neighbouring cells read as one row
LABELLED_CELLS = 3  # cells after a lone code label read as its row


@dataclass(frozen=True)
class AnswerUnit:
    """One quotable unit of a passage."""

    passage: int  # index of the passage in the list the units were cut from
    ordinal: int  # position within the passage
    kind: UnitKind
    text: str  # the unit alone, as it is scored
    shown: str  # what an answer quotes: the unit with its procedure or table header


@dataclass(frozen=True)
class _Cells:
    """A run of short lines: a table laid out one cell per line."""

    cells: tuple[str, ...]


def _starts_block(line: str) -> bool:
    """A numbered step, a list item or a table row starts a unit of its own."""
    return any(r.match(line) for r in (_STEP_RE, _ITEM_RE, TABLE_ROW_RE))


def _is_cell(line: str) -> bool:
    return (
        bool(line)
        and len(line.split()) < WRAPPED_WORDS
        and line[-1] not in ".!?"
        and not _starts_block(line)
        and not _HEADING_RE.match(line)
    )


def _cell_run_end(raw_lines: list[str], start: int) -> int:
    """The end of the run of table cells starting at `start`, or `start` if none does."""
    end = start
    while end < len(raw_lines) and _is_cell(raw_lines[end]):
        if end > start and _CODE_LABEL_RE.match(raw_lines[end]):
            break  # a row label: its row is read by `_labelled_row_end`
        end += 1
    return end if end - start >= TABLE_LINES else start


def _labelled_row_end(raw_lines: list[str], start: int) -> int:
    """The end of the row a lone code at `start` labels ("E2", "Filter not recognised",
    "Check that a genuine filter is fitted."): the lines after it up to the first that
    ends a sentence, at most `LABELLED_CELLS`, never into the next label or a new block."""
    end = start + 1
    while (
        end < len(raw_lines)
        and end - start <= LABELLED_CELLS
        and raw_lines[end]
        and not _CODE_LABEL_RE.match(raw_lines[end])
        and not _starts_block(raw_lines[end])
        and not _HEADING_RE.match(raw_lines[end])
    ):
        end += 1
        if raw_lines[end - 1][-1] in ".!?":
            break
    return end


def _labelled_row(lines: list[str]) -> str:
    """A labelled row as one unit: `E2: Filter not recognised; Check that ...`."""
    cells = [c if c[-1] in ".!?;:," else f"{c};" for c in lines[1:-1]] + [lines[-1]]
    return f"{lines[0]}: {' '.join(cells)}"


def _is_contents(cells: list[str]) -> bool:
    """A table of contents laid out one entry per line: numbered titles ("8.3 Restoring
    factory settings") between their page numbers make most of the run."""
    titles = sum(1 for c in cells if _NUMBERED_TITLE_RE.match(c))
    pages = sum(1 for c in cells if _PAGE_NUMBER_RE.match(c))
    return titles >= 2 and pages >= 2 and titles + pages >= 0.6 * len(cells)


def _is_title(line: str, following: str) -> bool:
    """A short line that starts with a word and ends no sentence, followed by one that
    starts a new one. A line opening with a sign ("$ su -", "[root@kvm ~]# rw") is code."""
    return (
        line[0].isalnum()
        and len(line.split()) <= TITLE_WORDS
        and line[-1] not in ".!?:;,"
        and (not _DIGIT_RE.search(line) or bool(_SECTION_NUMBER_RE.match(line)))
        and bool(following)
        and (following[0].isupper() or following[0].isdigit())
    )


def _lines(text: str) -> list[str | _Cells]:
    """Logical lines: wrapped prose re-joined, runs of table cells kept together, page
    numbers, headings, captions and table-of-contents entries dropped."""
    # A stop or comma a PDF layout left at the start of a line belongs to the line before.
    raw_lines = [_STRAY_STOP_RE.sub("", " ".join(raw.split())) for raw in text.splitlines()]
    raw_lines = [
        "" if _CONTENTS_RE.match(line) or _CAPTION_RE.match(line) else line for line in raw_lines
    ]
    out: list[str | _Cells] = []
    index = 0
    while index < len(raw_lines):
        line = raw_lines[index]
        previous = out[-1] if out else ""
        wrapped = len(raw_lines[index - 1].split()) >= WRAPPED_WORDS if index else False
        continues = (
            isinstance(previous, str)
            and previous
            and wrapped
            and not _starts_block(line)
            and not TABLE_ROW_RE.match(previous)
            and previous[-1] not in ".!?:;"
        )
        if not continues and _CODE_LABEL_RE.match(line):
            row_end = _labelled_row_end(raw_lines, index)
            if row_end > index + 1:
                out.append(_Cells((_labelled_row(raw_lines[index:row_end]),)))
                index = row_end
                continue
        end = index if continues else _cell_run_end(raw_lines, index)
        if end > index:
            cells = raw_lines[index:end]
            while cells and _PAGE_NUMBER_RE.match(cells[-1]):
                cells.pop()
            if _is_contents(cells):
                if out and out[-1] != "":
                    out.append("")
            else:
                out.append(_Cells(tuple(cells)))
            index = end
            continue
        index += 1
        following = next((r for r in raw_lines[index:] if r), "")
        skip = not line or _PAGE_NUMBER_RE.match(line) or _HEADING_RE.match(line)
        if skip or (not TABLE_ROW_RE.match(line) and _is_title(line, following)):
            if out and out[-1] != "":
                out.append("")  # a paragraph break
            continue
        if continues:
            out[-1] = f"{previous} {line}"
        else:
            out.append(line)
    return [line for line in out if line]


def _splits_a_row(has_figure: list[bool], start: int, end: int) -> bool:
    """Whether the window of cells `start:end` cuts a label from its figure (`has_figure`:
    per cell, whether it holds a digit). In a table of labels and figures ("Weight",
    "4.1 kg", "Power cord length", "1.8 m") a label follows a figure only where a new row
    starts, so a window may neither end on such a label nor start on a figure whose label
    precedes it."""
    ends_on_label = not has_figure[end - 1] and has_figure[end - 2]
    starts_on_figure = start > 0 and has_figure[start] and not has_figure[start - 1]
    return ends_on_label or starts_on_figure


def _cell_rows(cells: tuple[str, ...]) -> list[str]:
    """Every window of one to `ROW_CELLS` neighbouring cells (a lone cell only when it
    reads as a row by itself; none that ends inside brackets or cuts a label from its
    figure), in reading order."""
    rows = []
    has_figure = [bool(_DIGIT_RE.search(c)) for c in cells]
    for start in range(len(cells)):
        for width in range(1, ROW_CELLS + 1):
            if start + width > len(cells):
                break
            row = " ".join(cells[start : start + width])
            if row.count("(") > row.count(")"):
                continue  # a cell wrapped onto the next line, cut in its middle
            if width == 1:
                if len(row.split()) >= MIN_WORDS:
                    rows.append(row)
            elif not _splits_a_row(has_figure, start, start + width):
                rows.append(row)
    return rows


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _is_caption(row: str, following: str | _Cells) -> bool:
    """A first table row with one cell filled, above another row: the table's title."""
    cells = _cells(row)
    return (
        len(cells) > 1
        and sum(1 for c in cells if c) == 1
        and isinstance(following, str)
        and bool(TABLE_ROW_RE.match(following))
    )


def _is_header(row: str, after: Sequence[str | _Cells]) -> bool:
    """Whether the first row of a table with no rule under its header (a PDF's, as laid out)
    names its columns: every cell could (`names_a_column`), and a row below holds a figure
    ("Volume | Bluetooth" over "25 % | 24 hours"). A row holding a figure ("Weight |
    2.9 kg"), a list or a sentence is data; a table with no figures keeps its rows
    unlabelled."""
    if not all(names_a_column(cell) for cell in _cells(row)):
        return False  # a figure, a list or a sentence: data
    for line in after:
        if not isinstance(line, str) or not TABLE_ROW_RE.match(line):
            return False
        if _DIGIT_RE.search(line):
            return True
    return False


def _row_text(header: list[str] | None, row: str) -> str:
    """A row as one line: each cell after its column's name (a cell under a column with no
    name on its own), or without a header known, the first cell as the label of the others
    ("Weight: 2.9 kg", "E09: Too steep; Move the wire"), as a code labels its row
    (`_labelled_row`)."""
    cells = _cells(row)
    if header and len(header) == len(cells):
        # A cell under no name (a header cell spanning two columns) keeps its text.
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True) if c]
        return "; ".join(pairs)
    first, *rest = [c for c in cells if c] or [""]
    if not rest:
        return first
    return f"{first}{' ' if first[-1] in '.!?:;' else ': '}{'; '.join(rest)}"


def split_units(text: str, passage: int = 0) -> list[AnswerUnit]:
    """The units of one passage, in reading order."""
    units: list[AnswerUnit] = []
    lines = _lines(text)
    header: list[str] | None = None
    caption: str | None = None  # the title row of the table being read
    steps: list[int] = []  # indexes into `units` of the procedure being read, lead-in first
    last_step = 0  # the number of the procedure's last step

    def close_procedure() -> None:
        if not steps:
            return
        shown = "\n".join(units[i].text for i in steps[: MAX_PROCEDURE_STEPS + 1])
        for i in steps:
            units[i] = AnswerUnit(passage, i, units[i].kind, units[i].text, shown)
        steps.clear()

    for index, line in enumerate(lines):
        if isinstance(line, _Cells):
            close_procedure()
            header = caption = None
            for row in _cell_rows(line.cells):
                units.append(AnswerUnit(passage, len(units), "row", row, row))
            continue
        if TABLE_ROW_RE.match(line):
            close_procedure()
            if TABLE_RULE_RE.match(line):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if isinstance(following, str) and TABLE_RULE_RE.match(following):
                if _is_caption(line, following):  # a <caption> as a row, its header below
                    caption, header = next(c for c in _cells(line) if c), None
                else:
                    header = _cells(line)
                continue
            if header is None and index:  # a table's first row, after the text above it
                if _is_caption(line, following):
                    caption = next(c for c in _cells(line) if c)  # a <caption> as a row
                    continue
                if _is_header(line, lines[index + 1 :]):
                    header = _cells(line)
                    continue
            row = _row_text(header, line)
            if caption:
                row = f"{caption}: {row}"
            if len(row.split()) >= 2:
                units.append(AnswerUnit(passage, len(units), "row", row, row))
            continue
        header = caption = None
        step = _STEP_RE.match(line)
        if step:
            number = int(step.group(1))
            if steps and number <= last_step:
                # The numbering starts again: a new list, not more of this one (a numbered
                # heading, "4. Dosing with the timer", above its steps 1, 2, 3).
                close_procedure()
            last_step = number
            if not steps and units and units[-1].kind == "sentence":
                steps.append(len(units) - 1)  # the sentence that leads into the steps
            steps.append(len(units))
            units.append(AnswerUnit(passage, len(units), "step", line, line))
            continue
        # A line between two steps that follow each other ("2. Gain superuser rights:",
        # "$ su -", "When prompted, use root.", "3. Run rw") belongs to the procedure.
        inside = bool(steps) and _next_step(lines, index) == last_step + 1
        if not inside:
            close_procedure()
        kind: UnitKind = "item" if _ITEM_RE.match(line) else "sentence"
        sentences = split_sentences(line) if kind == "sentence" else [line]
        for sentence in sentences:
            if not any(c.isalnum() for c in sentence):
                continue  # a stray stop or bullet says nothing
            if len(sentence.split()) < MIN_WORDS and units and not sentence.endswith(":"):
                previous = units[-1]
                if previous.kind in ("sentence", "item"):
                    merged = f"{previous.text} {sentence}"
                    units[-1] = AnswerUnit(passage, previous.ordinal, previous.kind, merged, merged)
                    continue
            if inside:
                steps.append(len(units))
            units.append(AnswerUnit(passage, len(units), kind, sentence, sentence))
    close_procedure()
    return _with_answers(units)


def _next_step(lines: Sequence[str | _Cells], index: int) -> int | None:
    """The number of the next step within `STEP_GAP_LINES` lines after `index`, None when
    none comes first (or a table does)."""
    for line in lines[index + 1 : index + 1 + STEP_GAP_LINES]:
        if isinstance(line, _Cells) or TABLE_ROW_RE.match(line):
            return None
        step = _STEP_RE.match(line)
        if step:
            return int(step.group(1))
    return None


def _with_answers(units: list[AnswerUnit]) -> list[AnswerUnit]:
    """A question in the text (an FAQ entry) is no answer by itself: it is joined with the
    sentence or item that answers it."""
    out: list[AnswerUnit] = []
    for unit in units:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.text.endswith("?")
            and previous.kind in ("sentence", "item")
            and unit.kind in ("sentence", "item")
        ):
            text = f"{previous.text} {unit.text}"
            out[-1] = AnswerUnit(unit.passage, previous.ordinal, previous.kind, text, text)
            continue
        out.append(AnswerUnit(unit.passage, len(out), unit.kind, unit.text, unit.shown))
    return out
