"""Text in a PDF page that a reader cannot see, split from the text a reader can.

A model reads every character of a text layer; a reader sees only what is painted. A
text-showing operator of a page's content stream is hidden when it shows its text

* in render mode 3 or 7 (neither filled nor stroked), except over an image: that is how
  a scanned page carries its OCR text layer (`invisible-text`);
* in white (the fill colour, or the stroke colour for the stroking render modes), except
  over something painted earlier in another colour or an image: white type on a dark band
  is ordinary layout, and the page itself is taken as white (`white-text`);
* at a height under `TINY_TEXT_PT` (the font size scaled by the text and transformation
  matrices) (`tiny-text`).

Not examined: text inside form XObjects, text placed off the page or covered by a shape
painted after it, and colours outside the gray, RGB and CMYK spaces (device or ICC-based).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from pypdf import PageObject
from pypdf.generic import (
    ArrayObject,
    ContentStream,
    DictionaryObject,
    NameObject,
    is_null_or_none,
)

__all__ = ["HIDDEN_REASONS", "TINY_TEXT_PT", "PageStreams", "split_hidden_text"]

TINY_TEXT_PT = 2.0
WHITE_LEVEL = 0.97  # a component this close to full intensity reads as white
HIDDEN_REASONS = ("invisible-text", "white-text", "tiny-text")

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in default user space

IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
EVERYWHERE: Box = (-math.inf, -math.inf, math.inf, math.inf)
_SHOW = {b"Tj", b"TJ", b"'", b'"'}
_FILL_PAINT = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_END_PATH = _FILL_PAINT | {b"S", b"s", b"n"}
_FILL_MODES = {0, 2, 4, 6}
_STROKE_MODES = {1, 2, 5, 6}
_INVISIBLE_MODES = {3, 7}
_DEVICE_COMPONENTS = {
    "/DeviceGray": 1,
    "/G": 1,
    "/DeviceRGB": 3,
    "/RGB": 3,
    "/DeviceCMYK": 4,
    "/CMYK": 4,
}


@dataclass(frozen=True)
class PageStreams:
    """A page's content stream without its hidden text, and per reason a stream that
    shows only the text hidden for that reason (empty when nothing is hidden)."""

    visible: ContentStream
    hidden: dict[str, ContentStream]


@dataclass(frozen=True)
class _Colour:
    components: int  # 1 gray, 3 RGB, 4 CMYK; 0 for a space this module does not read
    values: tuple[float, ...]

    @property
    def white(self) -> bool:
        if self.components == 4 and len(self.values) == 4:
            return all(v <= 1 - WHITE_LEVEL for v in self.values)
        if self.components in (1, 3) and len(self.values) == self.components:
            return all(v >= WHITE_LEVEL for v in self.values)
        return False


_BLACK = {1: _Colour(1, (0.0,)), 3: _Colour(3, (0.0, 0.0, 0.0)), 4: _Colour(4, (0, 0, 0, 1.0))}


@dataclass(frozen=True)
class _Graphics:
    """The parts of the graphics state that decide visibility; `q` saves, `Q` restores."""

    ctm: Matrix = IDENTITY
    fill: _Colour = _BLACK[1]
    stroke: _Colour = _BLACK[1]
    render_mode: int = 0
    font_size: float = 0.0
    leading: float = 0.0


@dataclass
class _Page:
    """The walk over one content stream: state, painted areas, and the verdicts."""

    colour_spaces: dict[str, int]
    xobjects: set[str]  # resource names of images and forms
    state: _Graphics = field(default_factory=_Graphics)
    saved: list[_Graphics] = field(default_factory=list)
    text_matrix: Matrix = IDENTITY
    line_matrix: Matrix = IDENTITY
    path: list[tuple[float, float]] = field(default_factory=list)
    painted: list[Box] = field(default_factory=list)  # fills in a colour other than white
    images: list[Box] = field(default_factory=list)

    def hidden_reason(self) -> str | None:
        s = self.state
        origin = _apply(s.ctm, self.text_matrix[4], self.text_matrix[5])
        if s.render_mode in _INVISIBLE_MODES:
            return None if _inside(origin, self.images) else "invisible-text"
        colours = [s.fill] if s.render_mode in _FILL_MODES else []
        colours += [s.stroke] if s.render_mode in _STROKE_MODES else []
        if all(c.white for c in colours) and not _inside(origin, self.painted + self.images):
            return "white-text"
        if _text_height(s, self.text_matrix) < TINY_TEXT_PT:
            return "tiny-text"
        return None

    def step(self, operands: list[Any], operator: bytes) -> None:
        s = self.state
        if operator == b"q":
            self.saved.append(s)
        elif operator == b"Q":
            self.state = self.saved.pop() if self.saved else _Graphics()
        elif operator == b"cm" and len(operands) == 6:
            self.state = replace(s, ctm=_multiply(_matrix(operands), s.ctm))
        elif operator == b"BT":
            self.text_matrix = self.line_matrix = IDENTITY
        elif operator == b"Tm" and len(operands) == 6:
            self.text_matrix = self.line_matrix = _matrix(operands)
        elif operator in (b"Td", b"TD") and len(operands) == 2:
            if operator == b"TD":
                self.state = replace(s, leading=-float(operands[1]))
            self._next_line(float(operands[0]), float(operands[1]))
        elif operator in (b"T*", b"'", b'"'):
            self._next_line(0.0, -s.leading)
        elif operator == b"TL" and operands:
            self.state = replace(s, leading=float(operands[0]))
        elif operator == b"Tf" and len(operands) == 2:
            self.state = replace(s, font_size=abs(float(operands[1])))
        elif operator == b"Tr" and operands:
            self.state = replace(s, render_mode=int(operands[0]))
        else:
            self._colour_or_paint(operands, operator)

    def _colour_or_paint(self, operands: list[Any], operator: bytes) -> None:
        s = self.state
        device = {b"g": 1, b"G": 1, b"rg": 3, b"RG": 3, b"k": 4, b"K": 4}
        if operator in device:
            colour = _Colour(device[operator], tuple(float(v) for v in operands))
            self.state = _with_colour(s, operator, colour)
        elif operator in (b"cs", b"CS") and operands:
            components = self.colour_spaces.get(str(operands[0]), 0)
            colour = _BLACK.get(components, _Colour(0, ()))
            self.state = _with_colour(s, operator, colour)
        elif operator in (b"sc", b"scn", b"SC", b"SCN"):
            current = s.stroke if operator.isupper() else s.fill
            values = tuple(float(v) for v in operands if isinstance(v, (int, float)))
            self.state = _with_colour(s, operator, _Colour(current.components, values))
        elif operator == b"re" and len(operands) == 4:
            x, y, w, h = (float(v) for v in operands)
            self.path += [_apply(s.ctm, x, y), _apply(s.ctm, x + w, y + h)]
            self.path += [_apply(s.ctm, x + w, y), _apply(s.ctm, x, y + h)]
        elif operator in (b"m", b"l", b"c", b"v", b"y"):
            pairs = zip(operands[::2], operands[1::2], strict=False)
            self.path += [_apply(s.ctm, float(x), float(y)) for x, y in pairs]
        elif operator in _END_PATH:
            if operator in _FILL_PAINT and self.path and not s.fill.white:
                self.painted.append(_bounds(self.path))
            self.path = []
        elif operator == b"sh":
            self.painted.append(EVERYWHERE)  # a shading fills the whole clipping area
        elif operator == b"INLINE IMAGE" or (
            operator == b"Do" and operands and str(operands[0]) in self.xobjects
        ):
            # An image, or a form (anything may be drawn in it), over the unit square.
            corners = [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]
            self.images.append(_bounds([_apply(s.ctm, x, y) for x, y in corners]))

    def _next_line(self, tx: float, ty: float) -> None:
        a, b, c, d, e, f = self.line_matrix
        self.line_matrix = (a, b, c, d, tx * a + ty * c + e, tx * b + ty * d + f)
        self.text_matrix = self.line_matrix


def split_hidden_text(page: PageObject) -> PageStreams:
    """The page's content stream split into what a reader sees and, per reason
    (`HIDDEN_REASONS`), the text they cannot see (see the module docstring)."""
    pdf = page.indirect_reference.pdf if page.indirect_reference is not None else None
    contents = page.get("/Contents")
    # Strings stay bytes, as pypdf's own text extraction parses them: a font's encoding
    # decodes them later.
    visible = ContentStream(
        None if contents is None or is_null_or_none(contents) else contents, pdf, "bytes"
    )
    walk = _Page(_colour_spaces(page), _xobjects(page))
    verdicts: list[str | None] = []
    for operands, operator in visible.operations:
        walk.step(operands, operator)
        verdicts.append(walk.hidden_reason() if operator in _SHOW else None)
    if not any(verdicts):
        return PageStreams(visible, {})
    operations = visible.operations
    hidden: dict[str, ContentStream] = {}
    for reason in HIDDEN_REASONS:
        if reason in verdicts:
            stream = ContentStream(None, pdf)
            stream.operations = list(_without(operations, verdicts, keep=reason))
            hidden[reason] = stream
    stripped = ContentStream(None, pdf)
    stripped.operations = list(_without(operations, verdicts, keep=None))
    return PageStreams(stripped, hidden)


def _without(
    operations: list[tuple[Any, bytes]], verdicts: list[str | None], keep: str | None
) -> Iterator[tuple[Any, bytes]]:
    """The operations with every text-showing one whose verdict is not `keep` turned into
    the line move it makes, so the text that stays keeps its place."""
    for (operands, operator), verdict in zip(operations, verdicts, strict=True):
        if operator not in _SHOW or verdict == keep:
            yield operands, operator
        elif operator == b"'":
            yield [], b"T*"
        elif operator == b'"' and len(operands) >= 2:
            yield [operands[0]], b"Tw"
            yield [operands[1]], b"Tc"
            yield [], b"T*"


def _with_colour(state: _Graphics, operator: bytes, colour: _Colour) -> _Graphics:
    """`state` with the stroke colour (upper-case operators) or the fill colour set."""
    return replace(state, stroke=colour) if operator.isupper() else replace(state, fill=colour)


def _matrix(operands: list[Any]) -> Matrix:
    a, b, c, d, e, f = (float(v) for v in operands)
    return (a, b, c, d, e, f)


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m × n in PDF's row-vector convention (`cm` makes the new CTM = m × CTM)."""
    a1, b1, c1, d1, e1, f1 = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return (x * a + y * c + e, x * b + y * d + f)


def _bounds(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _inside(point: tuple[float, float], boxes: list[Box]) -> bool:
    x, y = point
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in boxes)


def _text_height(state: _Graphics, text_matrix: Matrix) -> float:
    # The glyphs' height in user space: the font size scaled by the vertical component
    # of the text matrix times the CTM.
    tm, cm = text_matrix, state.ctm
    scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
    return state.font_size * scale


def _resources(page: PageObject, kind: str) -> dict[Any, Any]:
    resources = page.get("/Resources")
    found = resources.get_object().get(kind) if resources is not None else None
    found = found.get_object() if found is not None else None
    return found if isinstance(found, DictionaryObject) else {}


def _colour_spaces(page: PageObject) -> dict[str, int]:
    """Colour space name -> components, for the gray, RGB and CMYK spaces (device or
    ICC-based) a page's resources name; other spaces are not read."""
    spaces = dict(_DEVICE_COMPONENTS)
    for name, value in _resources(page, "/ColorSpace").items():
        space = value.get_object()
        if isinstance(space, NameObject):
            components = _DEVICE_COMPONENTS.get(str(space), 0)
        elif isinstance(space, ArrayObject) and space and space[0] == "/ICCBased":
            components = int(space[1].get_object().get("/N", 0))
        else:
            components = 0
        spaces[str(name)] = components
    return spaces


def _xobjects(page: PageObject) -> set[str]:
    return {str(name) for name in _resources(page, "/XObject")}
