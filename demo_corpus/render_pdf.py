"""Render a manual to a booklet-style A5 PDF with an outline, a contents page and page numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    ListFlowable,
    ListItem,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from demo_corpus.corpus import BOLD_RE, SOURCE, Manual, Section

PAGE_WIDTH, PAGE_HEIGHT = A5
MARGIN_X = 15 * mm
MARGIN_TOP = 20 * mm
MARGIN_BOTTOM = 18 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
INK = colors.HexColor("#1d1d1f")
RULE = colors.HexColor("#b8bcc2")
# Callout kind: (label, accent colour, fill colour).
CALLOUTS = {
    "warning": ("WARNING", "#c0392b", "#fbeceb"),
    "caution": ("CAUTION", "#d68910", "#fdf3e3"),
    "note": ("NOTE", "#2e6da4", "#eef4fa"),
}


def markup(text: object) -> str:
    """Escape source text for a reportlab Paragraph and turn ``**x**`` into bold."""
    return BOLD_RE.sub(r"<b>\1</b>", escape(str(text)))


def _styles(brand: colors.Color) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body",
        fontName="Helvetica",
        fontSize=9,
        leading=12.5,
        textColor=INK,
        spaceAfter=5,
        allowWidows=0,
        allowOrphans=0,
    )
    heading = {"fontName": "Helvetica-Bold", "keepWithNext": 1, "alignment": TA_LEFT}
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5, spaceAfter=0),
        "head_cell": ParagraphStyle(
            "head_cell",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=8.5,
            leading=10.5,
            textColor=colors.white,
            spaceAfter=0,
        ),
        "caption": ParagraphStyle(
            "caption", parent=body, fontName="Helvetica-Oblique", fontSize=8.5, spaceBefore=2
        ),
        "h0": ParagraphStyle(
            "h0", parent=body, fontSize=17, leading=21, textColor=brand, spaceAfter=10, **heading
        ),
        "h1": ParagraphStyle(
            "h1", parent=body, fontSize=12, leading=15, spaceBefore=9, spaceAfter=5, **heading
        ),
        "h2": ParagraphStyle(
            "h2", parent=body, fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=3, **heading
        ),
        "cover_vendor": ParagraphStyle(
            "cover_vendor",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=13,
            leading=16,
            textColor=colors.white,
        ),
        "cover_title": ParagraphStyle(
            "cover_title",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=24,
            leading=29,
            textColor=brand,
            spaceAfter=6,
        ),
        "cover_sub": ParagraphStyle("cover_sub", parent=body, fontSize=13, leading=17),
        "toc0": ParagraphStyle(
            "toc0",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=9,
            leading=11.5,
            spaceBefore=2.5,
            spaceAfter=0,
        ),
        "toc1": ParagraphStyle(
            "toc1", parent=body, fontSize=8, leading=9.8, leftIndent=12, spaceAfter=0
        ),
    }


class SectionHeading(Paragraph):
    """A numbered heading that registers itself in the outline and the contents page."""

    def __init__(self, section: Section, style: ParagraphStyle) -> None:
        super().__init__(escape(section.heading), style)
        self.section = section


class ManualDocTemplate(BaseDocTemplate):
    """An A5 booklet: a cover template and a body template with running header and footer."""

    def __init__(self, path: Path, manual: Manual) -> None:
        super().__init__(
            str(path),
            pagesize=A5,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=manual.title,
            author=manual.vendor,
            subject=f"{manual.model} {manual.doc_type}",
            creator=SOURCE,
            invariant=1,
            pageCompression=1,
        )
        self.manual = manual
        self.brand = colors.HexColor(manual.brand_color)
        frame = Frame(
            MARGIN_X, MARGIN_BOTTOM, TEXT_WIDTH, PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM, id="body"
        )
        self.addPageTemplates(
            [
                PageTemplate("cover", [frame], onPage=self._draw_cover),
                PageTemplate("body", [frame], onPage=self._draw_chrome),
            ]
        )

    def afterFlowable(self, flowable: Flowable) -> None:
        """Bookmark each heading and record chapters and sections for the contents page."""
        if not isinstance(flowable, SectionHeading):
            return
        section = flowable.section
        self.canv.bookmarkPage(section.anchor)
        self.canv.addOutlineEntry(section.heading, section.anchor, level=section.level)
        self.canv.showOutline()
        if section.level <= 1:
            self.notify("TOCEntry", (section.level, section.heading, self.page, section.anchor))

    def _draw_cover(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFillColor(self.brand)
        canvas.rect(0, PAGE_HEIGHT - 42 * mm, PAGE_WIDTH, 42 * mm, stroke=0, fill=1)
        canvas.rect(0, 0, PAGE_WIDTH, 8 * mm, stroke=0, fill=1)
        canvas.restoreState()

    def _draw_chrome(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        manual = self.manual
        top = PAGE_HEIGHT - 12 * mm
        bottom = 10 * mm
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, top - 2.5 * mm, PAGE_WIDTH - MARGIN_X, top - 2.5 * mm)
        canvas.line(MARGIN_X, bottom + 4 * mm, PAGE_WIDTH - MARGIN_X, bottom + 4 * mm)
        canvas.setFillColor(self.brand)
        canvas.setFont("Helvetica-Bold", 8)
        canvas.drawString(MARGIN_X, top, manual.product)
        canvas.setFillColor(INK)
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(PAGE_WIDTH - MARGIN_X, top, manual.doc_type)
        canvas.drawString(MARGIN_X, bottom, f"{manual.vendor} - {manual.edition}")
        canvas.drawRightString(PAGE_WIDTH - MARGIN_X, bottom, f"Page {doc.page}")
        canvas.restoreState()


def _cover(manual: Manual, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    return [
        Spacer(1, 2 * mm),
        Paragraph(markup(manual.vendor), styles["cover_vendor"]),
        Spacer(1, 40 * mm),
        Paragraph(markup(manual.product), styles["cover_title"]),
        Paragraph(f"Model {markup(manual.model)}", styles["cover_sub"]),
        Paragraph(markup(manual.doc_type), styles["cover_sub"]),
        Spacer(1, 14 * mm),
        Paragraph(markup(manual.intro), styles["body"]),
        Spacer(1, 6 * mm),
        Paragraph(markup(manual.edition), styles["caption"]),
    ]


class ContentsTable(TableOfContents):
    """A contents list laid out as a two-column table (heading, page) without dot leaders."""

    def __init__(self, styles: dict[str, ParagraphStyle]) -> None:
        super().__init__(levelStyles=[styles["toc0"], styles["toc1"]])
        self.page_style = ParagraphStyle("toc_page", parent=styles["toc1"], alignment=TA_RIGHT)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        """Lay out the entries recorded in the previous build pass."""
        rows = []
        for level, text, page, key in self._lastEntries or [(0, "Contents", 0, None)]:
            link = f'<a href="#{key}">{escape(text)}</a>' if key else escape(text)
            rows.append(
                [Paragraph(link, self.getLevelStyle(level)), Paragraph(str(page), self.page_style)]
            )
        self._table = Table(
            rows,
            colWidths=(availWidth - 12 * mm, 12 * mm),
            style=[
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ],
        )
        self.width, self.height = self._table.wrapOn(self.canv, availWidth, availHeight)
        return self.width, self.height


def _front_matter(manual: Manual, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    story: list[Flowable] = [Paragraph("Contents", styles["h0"]), ContentsTable(styles)]
    if manual.about:
        story += [CondPageBreak(40 * mm), Paragraph("About this manual", styles["h1"])]
        story += [Paragraph(markup(text), styles["body"]) for text in manual.about]
    return story


def _column_widths(table: dict[str, Any]) -> list[float]:
    if "widths" in table:
        return [TEXT_WIDTH * fraction for fraction in table["widths"]]
    lengths = [
        max(len(str(row[index])) for row in [table["columns"], *table["rows"]])
        for index in range(len(table["columns"]))
    ]
    weights = [min(max(length, 6), 40) for length in lengths]
    return [TEXT_WIDTH * weight / sum(weights) for weight in weights]


def _table(
    table: dict[str, Any], styles: dict[str, ParagraphStyle], brand: colors.Color
) -> list[Flowable]:
    header = [Paragraph(markup(cell), styles["head_cell"]) for cell in table["columns"]]
    rows = [[Paragraph(markup(cell), styles["cell"]) for cell in row] for row in table["rows"]]
    grid = Table([header, *rows], colWidths=_column_widths(table), repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), brand),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    commands += [
        ("BACKGROUND", (0, row), (-1, row), colors.HexColor("#f4f5f7"))
        for row in range(2, len(rows) + 1, 2)
    ]
    grid.setStyle(TableStyle(commands))
    caption_style = ParagraphStyle("table_caption", parent=styles["caption"], keepWithNext=1)
    parts: list[Flowable] = [Paragraph(markup(table["caption"]), caption_style), grid]
    if len(rows) < 12:
        return [KeepTogether(parts), Spacer(1, 6)]
    # Long tables may split across pages; the header row repeats on each part.
    return [*parts, Spacer(1, 6)]


def _callout(kind: str, text: str, styles: dict[str, ParagraphStyle]) -> Flowable:
    label, accent, fill = CALLOUTS[kind]
    body = Paragraph(f'<font color="{accent}"><b>{label}</b></font> {markup(text)}', styles["cell"])
    box = Table([[body]], colWidths=[TEXT_WIDTH])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(fill)),
                ("LINEBEFORE", (0, 0), (0, -1), 2.5, colors.HexColor(accent)),
                ("LEFTPADDING", (0, 0), (-1, -1), 7),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return KeepTogether([box, Spacer(1, 6)])


def _list(items: list[str], numbered: bool, styles: dict[str, ParagraphStyle]) -> Flowable:
    entries = [ListItem(Paragraph(markup(item), styles["body"])) for item in items]
    if not numbered:
        # A drawn dingbat bullet: a text bullet in the standard fonts extracts as a control char.
        return ListFlowable(
            entries,
            bulletType="bullet",
            start="circle",
            leftIndent=12,
            bulletFontSize=5,
            bulletOffsetY=-2.5,
        )
    steps = ListFlowable(
        entries,
        bulletType="1",
        bulletFormat="%s.",
        bulletFontName="Helvetica-Bold",
        bulletFontSize=9,
        leftIndent=14,
    )
    # A procedure reads best on one page; KeepTogether still splits one taller than a page.
    return KeepTogether([steps])


def _block(
    block: dict[str, Any], styles: dict[str, ParagraphStyle], brand: colors.Color
) -> list[Flowable]:
    kind, value = next(iter(block.items()))
    if kind == "p":
        return [Paragraph(markup(value), styles["body"])]
    if kind in ("steps", "bullets"):
        return [_list(value, kind == "steps", styles), Spacer(1, 3)]
    if kind == "table":
        return _table(value, styles, brand)
    return [_callout(kind, value, styles)]


def _section(
    section: Section, styles: dict[str, ParagraphStyle], brand: colors.Color
) -> list[Flowable]:
    story: list[Flowable] = []
    if section.level == 0:
        story.append(PageBreak())
    else:
        story.append(CondPageBreak(30 * mm))
    story.append(SectionHeading(section, styles[f"h{min(section.level, 2)}"]))
    for block in section.blocks:
        story += _block(block, styles, brand)
    for child in section.children:
        story += _section(child, styles, brand)
    return story


def render_pdf(manual: Manual, path: Path) -> int:
    """Render ``manual`` to ``path`` byte-for-byte reproducibly.

    Returns:
        The number of pages written.
    """
    doc = ManualDocTemplate(path, manual)
    styles = _styles(doc.brand)
    story = [
        *_cover(manual, styles),
        NextPageTemplate("body"),
        PageBreak(),
        *_front_matter(manual, styles),
    ]
    for chapter in manual.sections:
        story += _section(chapter, styles, doc.brand)
    doc.multiBuild(story)
    return doc.page
