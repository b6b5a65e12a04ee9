"""PDF extraction: pages, outline sections, heading heuristics, clean-up and clear errors."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from manual_assets_tests.manualqa.conftest import Line, PdfSpec, make_ref
from manualqa.documents import ExtractedManual, TextBlock
from manualqa.extraction import ExtractionError, extract_manual, pdf

Builder = Callable[[PdfSpec], bytes]

TITLE = "Acme AC-200 Owner's Manual"
HEADER = "ACME AC-200 | Owner's manual | Rev. 3"
FOOTER = "Page {n} of 5"
SAFETY = ("1 Safety",)
ELECTRICAL = ("1 Safety", "1.1 Electrical safety")
INSTALLATION = ("2 Installation",)
MOUNTING = ("2 Installation", "2.1 Mounting the bracket")
PLUGS = ("2 Installation", "2.1 Mounting the bracket", "2.1.1 Wall plugs")
MAINTENANCE = ("3 Maintenance and cleaning of the filters",)


def _manual_spec(**overrides: object) -> PdfSpec:
    """Five pages with a three-level outline and known text on known pages."""
    spec = PdfSpec(
        pages=[
            [Line(TITLE, 20), "Read all instructions before use and keep this manual."],
            [
                Line("1 Safety", 16, bold=True),
                "Keep the unit away from water and heat sources.",
                Line("1.1 Electrical safety", 13, bold=True),
                "Always connect the unit to an earthed socket.",
                "Never use an extension cord with this air conditioner.",
            ],
            [
                "Disconnect the power before cleaning the filters.",
                Line("2 Installation", 16, bold=True),
                "Choose a wall that can carry the weight of the unit.",
            ],
            [
                # No visible "2.1" heading: its bookmark still points at this page.
                "Mark the four holes with the paper template.",
                "Drill the holes with a 6 mm bit.",
                Line("2.1.1 Wall plugs", 12, bold=True),
                "Insert the supplied wall plugs and tighten the screws.",
            ],
            [
                Line("3 Maintenance and cleaning", 16, bold=True),
                Line("of the filters", 16, bold=True),
                "Clean the filters every two weeks. The connec-",
                "tion of the drain hose must stay tight.",
                "Replace a worn filter with part AC-",
                "F200 from your dealer.",
            ],
        ],
        outline=[
            ("1 Safety", 1, 0),
            ("1.1 Electrical safety", 1, 1),
            ("2 Installation", 2, 0),
            ("2.1 Mounting the bracket", 3, 1),
            ("2.1.1 Wall plugs", 3, 2),
            ("3 Maintenance and cleaning of the filters", 4, 0),
        ],
        header=HEADER,
        footer=FOOTER,
        title=TITLE,
    )
    for name, value in overrides.items():
        setattr(spec, name, value)
    return spec


def _extract(data: bytes, title: str = "Fallback title") -> ExtractedManual:
    return extract_manual(data, make_ref("acme_ac200.pdf", title=title))


def _layout(doc: ExtractedManual) -> list[tuple[int | None, tuple[str, ...]]]:
    return [(b.page, b.section_path) for b in doc.blocks]


def test_outline_maps_sections_to_pages_and_splits_pages_at_headings(
    pdf_builder: Builder,
) -> None:
    doc = _extract(pdf_builder(_manual_spec()))

    assert doc.page_count == 5
    assert doc.title == TITLE
    assert [(s.path, s.level, s.page) for s in doc.sections] == [
        ((TITLE,), 1, 1),
        (SAFETY, 1, 2),
        (ELECTRICAL, 2, 2),
        (INSTALLATION, 1, 3),
        (MOUNTING, 2, 4),
        (PLUGS, 3, 4),
        (MAINTENANCE, 1, 5),
    ]
    assert [s.ordinal for s in doc.sections] == list(range(7))
    assert _layout(doc) == [
        (1, (TITLE,)),
        (2, SAFETY),
        (2, ELECTRICAL),
        (3, ELECTRICAL),  # the start of page 3 still belongs to 1.1
        (3, INSTALLATION),
        (4, MOUNTING),  # heading not printed: the page goes to the bookmark's section
        (4, PLUGS),
        (5, MAINTENANCE),
    ]
    texts = [b.text for b in doc.blocks]
    assert "Read all instructions" in texts[0]
    assert texts[1] == "1 Safety\nKeep the unit away from water and heat sources."
    assert texts[2].startswith("1.1 Electrical safety\nAlways connect")
    assert "extension cord" in texts[2]
    assert texts[3] == "Disconnect the power before cleaning the filters."
    assert texts[4].startswith("2 Installation\nChoose a wall")
    assert "Mark the four holes" in texts[5] and "Wall plugs" not in texts[5]
    assert texts[6].startswith("2.1.1 Wall plugs\nInsert the supplied wall plugs")
    # A heading broken over two lines still matches its bookmark.
    assert texts[7].startswith("3 Maintenance and cleaning of the filters\n")
    assert all(b.page_label is None for b in doc.blocks)


def test_cleanup_drops_running_lines_and_joins_hyphenated_words(pdf_builder: Builder) -> None:
    doc = _extract(pdf_builder(_manual_spec()))
    text = "\n".join(b.text for b in doc.blocks)

    assert "Owner's manual | Rev. 3" not in text
    assert "Page " not in text and " of 5" not in text
    assert "The connection of the drain hose must stay tight." in text
    assert "part AC-F200 from your dealer." in text
    # Real content that merely starts or ends a page is kept.
    assert "Disconnect the power before cleaning the filters." in text
    assert "F200 from your dealer." in doc.blocks[-1].text


def test_page_labels_come_from_the_pdf_when_declared(pdf_builder: Builder) -> None:
    labelled = _manual_spec(page_labels=[(0, 0, "/r", 1), (1, 4, "/D", 1)])
    doc = _extract(pdf_builder(labelled))

    labels = {(b.page, b.page_label) for b in doc.blocks}
    assert labels == {(1, "i"), (2, "1"), (3, "2"), (4, "3"), (5, "4")}


def test_title_falls_back_to_the_ref_when_metadata_is_missing_or_a_file_name(
    pdf_builder: Builder,
) -> None:
    untitled = _extract(pdf_builder(_manual_spec(title=None)), title="AC-200 manual")
    file_named = _extract(pdf_builder(_manual_spec(title="ac200_v3.indd")), title="AC-200 manual")

    assert untitled.title == "AC-200 manual"
    assert file_named.title == "AC-200 manual"
    assert untitled.sections[0].path == ("AC-200 manual",)


def _body(n: int, topic: str) -> list[Line | str]:
    return [f"Line {i} about {topic} explains how the dehumidifier works." for i in range(n)]


def test_without_outline_larger_type_gives_the_sections(pdf_builder: Builder) -> None:
    spec = PdfSpec(
        pages=[
            [Line("Acme Dehumidifier D-10", 22), *_body(3, "the product")],
            [
                Line("Getting started", 16, bold=True),
                *_body(6, "setup"),
                Line("Note: keep the unit upright", 10, bold=True),
                Line("Emptying the tank", 16, bold=True),
                *_body(4, "the tank"),
            ],
            [
                "The tank holds two litres of water.",
                Line("Do not tilt the unit while it runs.", 16),
                Line("Troubleshooting", 16, bold=True),
                "If the unit does not start, check the fuse.",
                *_body(4, "faults"),
            ],
        ],
    )
    doc = _extract(pdf_builder(spec))

    assert [(s.path, s.level, s.page) for s in doc.sections] == [
        (("Acme Dehumidifier D-10",), 1, 1),
        (("Getting started",), 1, 2),
        (("Emptying the tank",), 1, 2),
        (("Troubleshooting",), 1, 3),
    ]
    layout = _layout(doc)
    assert layout == [
        (1, ("Acme Dehumidifier D-10",)),
        (2, ("Getting started",)),
        (2, ("Emptying the tank",)),
        (3, ("Emptying the tank",)),
        (3, ("Troubleshooting",)),
    ]
    assert doc.blocks[3].text.startswith("The tank holds two litres")
    assert "Do not tilt the unit while it runs." in doc.blocks[3].text
    assert "Note: keep the unit upright" in doc.blocks[1].text


def test_without_outline_or_headings_one_section_named_after_the_title(
    pdf_builder: Builder,
) -> None:
    spec = PdfSpec(pages=[_body(5, "page one"), _body(5, "page two")])
    doc = _extract(pdf_builder(spec), title="D-10 leaflet")

    assert [(s.path, s.page) for s in doc.sections] == [(("D-10 leaflet",), 1)]
    assert _layout(doc) == [(1, ("D-10 leaflet",)), (2, ("D-10 leaflet",))]


def test_truncated_pdf_is_refused_with_a_clear_message(pdf_builder: Builder) -> None:
    data = pdf_builder(_manual_spec())
    with pytest.raises(ExtractionError, match="truncated or corrupt PDF"):
        _extract(data[: len(data) // 2])


def test_corrupt_pdf_body_is_refused_with_a_clear_message() -> None:
    garbage = b"%PDF-1.7\n" + os.urandom(2048) + b"\nstartxref\n12345\n%%EOF\n"
    with pytest.raises(ExtractionError, match="PDF"):
        _extract(garbage)


def test_non_pdf_bytes_and_empty_files_are_refused() -> None:
    with pytest.raises(ExtractionError, match="not a PDF"):
        _extract(b"<html><body>This is not a PDF</body></html>")
    with pytest.raises(ExtractionError, match="empty"):
        _extract(b"")


def test_password_protected_pdf_is_refused(pdf_builder: Builder) -> None:
    data = pdf_builder(_manual_spec(user_password="s3cret"))
    with pytest.raises(ExtractionError, match="password"):
        _extract(data)


def test_pdf_encrypted_without_user_password_is_read(pdf_builder: Builder) -> None:
    data = pdf_builder(_manual_spec(user_password=""))
    assert PdfReader(io.BytesIO(data)).is_encrypted
    doc = _extract(data)
    assert any("earthed socket" in b.text for b in doc.blocks)


def test_pdf_without_a_text_layer_is_refused() -> None:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for _ in range(2):
        pdf.rect(100, 100, 300, 400, fill=1)  # a "scanned" page: graphics only
        pdf.showPage()
    pdf.save()
    with pytest.raises(ExtractionError, match="no extractable text on any of the 2 pages"):
        _extract(buffer.getvalue())


def test_unsupported_media_type_is_refused() -> None:
    with pytest.raises(ExtractionError, match="unsupported media type 'application/msword'"):
        extract_manual(b"...", make_ref("manual.doc", media_type="application/msword"))


# --- the shared corpus ------------------------------------------------------------


def _corpus_doc(corpus_dir: Path, name: str) -> ExtractedManual:
    path = corpus_dir / name
    return extract_manual(path.read_bytes(), make_ref(name, title=path.stem))


def _blocks_on(doc: ExtractedManual, page: int) -> list[TextBlock]:
    return [b for b in doc.blocks if b.page == page]


def test_corpus_pdf_with_outline_gets_every_bookmark_as_a_section(corpus_dir: Path) -> None:
    name = "olimex_esp32-poe_user_manual.pdf"
    outline = PdfReader(corpus_dir / name).outline
    assert outline, "this manual is the corpus's example of a PDF with bookmarks"
    doc = _corpus_doc(corpus_dir, name)

    assert doc.page_count == 25
    assert doc.title == "olimex_esp32-poe_user_manual"  # no /Title metadata
    assert doc.sections[0].path == (doc.title,)  # cover and table of contents
    assert len(doc.sections) == 1 + 23
    hardware = "2. HARDWARE"
    power = "2.5. ESP32-POE(-ISO) power supply"
    sense = (hardware, power, "2.5.1. External power sense feature")
    battery = (hardware, power, "2.5.2. Battery measurement feature")
    by_path = {s.path: s for s in doc.sections}
    assert (by_path[sense].level, by_path[sense].page) == (3, 16)
    assert (by_path[battery].level, by_path[battery].page) == (3, 16)

    page16 = _blocks_on(doc, 16)
    assert [b.section_path for b in page16] == [sense, battery]
    assert page16[0].text.startswith("2.5.1. External power sense feature")
    assert page16[1].text.startswith("2.5.2. Battery measurement feature")
    page6 = [b.section_path[-1] for b in _blocks_on(doc, 6)]
    assert page6 == [
        "1.3. PoE standard",
        "1.4. The difference between ESP32-POE and ESP32-POE-ISO",
        "1.5. The differences between different variants of ESP32-POE and ESP32-POE-ISO",
    ]
    # Running page numbers are gone from the page ends.
    for page in range(3, 26):
        blocks = _blocks_on(doc, page)
        if blocks:
            assert blocks[-1].text.rsplit("\n", 1)[-1].strip() != str(page)


def test_corpus_pdf_without_outline_gets_sections_from_heading_type(corpus_dir: Path) -> None:
    name = "mchf_transceiver_operators_manual.pdf"
    assert not PdfReader(corpus_dir / name).outline
    doc = _corpus_doc(corpus_dir, name)

    assert doc.page_count == 86
    by_title = {s.title: s for s in doc.sections}
    assert by_title["Main display:"].page == 4
    assert by_title["Connectors:"].page == 7
    connectors = [b for b in doc.blocks if b.section == "Connectors:"]
    assert connectors and connectors[0].page == 7
    assert "Line Out (J1)" in connectors[0].text
    assert all(b.page is not None and 1 <= b.page <= 86 for b in doc.blocks)
    pages = [b.page or 0 for b in doc.blocks]
    assert pages == sorted(pages)


def _long_manual(pdf_builder: Builder, pages: int) -> bytes:
    """`pages` pages, each with a heading in a larger font and words of its own (a line
    that recurs on most pages, digits aside, would be dropped as a running header)."""

    def word(n: int, i: int) -> str:
        return "".join(chr(97 + (n * 7 + i * 3 + k) % 26) for k in range(5))

    return pdf_builder(
        PdfSpec(
            pages=[
                [
                    Line(f"{n} The {word(n, 0)} dial", 16, bold=True),
                    f"Turn the {word(n, 1)} dial to the {word(n, 2)} mark.",
                ]
                for n in range(1, pages + 1)
            ],
            title=TITLE,
        )
    )


def test_worker_extracts_every_page_from_the_end_as_this_process_would(pdf_builder):
    data = _long_manual(pdf_builder, 12)
    reader = pdf.open_pdf(data)
    here = [pdf.extract_page(reader, n, with_fonts=True) for n in range(1, 13)]
    with pdf._worker_from_the_end(data, 12, with_fonts=True) as from_end:
        deadline = time.monotonic() + 60
        while len(from_end) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(from_end) == list(range(1, 13))
        assert [from_end[n] for n in range(1, 13)] == here


def test_long_pdf_is_extracted_from_both_ends_like_one_process(pdf_builder):
    data = _long_manual(pdf_builder, pdf.PARALLEL_MIN_PAGES + 6)
    ref = make_ref("long.pdf")
    one_process = pdf.extract_pdf(data, ref, two_ends=False)
    assert pdf.extract_pdf(data, ref) == one_process
    assert {b.page for b in one_process.blocks} == set(range(1, pdf.PARALLEL_MIN_PAGES + 7))


def test_a_worker_that_fails_leaves_the_pages_to_this_process(pdf_builder, monkeypatch, caplog):
    data = _long_manual(pdf_builder, pdf.PARALLEL_MIN_PAGES)
    ref = make_ref("long.pdf")
    monkeypatch.setattr(pdf.sys, "executable", "/bin/false")  # the worker exits 1 at once
    with caplog.at_level("WARNING", logger=pdf.__name__):
        extracted = pdf.extract_pdf(data, ref)
    assert "the PDF page worker exited with 1" in caplog.text
    assert extracted == pdf.extract_pdf(data, ref, two_ends=False)


def test_real_long_manual_extracts_from_both_ends_like_one_process(corpus_dir):
    name = "mchf_transceiver_operators_manual.pdf"  # 86 pages, headings from font sizes
    data, ref = (corpus_dir / name).read_bytes(), make_ref(name)
    assert pdf.extract_pdf(data, ref) == pdf.extract_pdf(data, ref, two_ends=False)


def _table_pdf() -> bytes:
    """A page with a troubleshooting table whose cells wrap in their columns, a list set
    with wide gaps after its bullets, and two columns of prose side by side."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    body = getSampleStyleSheet()["BodyText"]
    rows = [
        ("Problem", "Cause", "Solution"),
        ("No mist comes out", "Water tank is empty or not seated correctly",
         "Refill the tank and make sure it sits flat on the base."),
        ("White dust on furniture near the unit", "Minerals in hard tap water",
         "Use distilled water and replace the filter cartridge."),
        ("Gurgling noise", "Unit is not standing level", "Place it on a flat surface."),
    ]  # fmt: skip
    table = Table(
        [[Paragraph(cell, body) for cell in row] for row in rows], colWidths=[120, 150, 190]
    )
    bullets = Table([["-", "Keep the tank clean."], ["-", "Empty it every day."]] * 2)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(
        [Paragraph("Troubleshooting", body), table, Spacer(1, 20), bullets],
        onFirstPage=_two_columns_of_prose,
    )
    return out.getvalue()


def _two_columns_of_prose(page: canvas.Canvas, _doc: object) -> None:
    """Two columns side by side at the foot of the page, drawn one after the other."""
    left = ["The left column tells one story", "in its own words, line by line,", "until it ends."]
    right = ["while the right column tells", "another one, which has nothing", "to do with it."]
    for x, lines in ((72, left), (320, right)):
        for i, line in enumerate(lines):
            page.drawString(x, 200 - 14 * i, line)


def test_a_table_whose_cells_wrap_comes_out_one_row_a_line() -> None:
    text = "\n".join(b.text for b in _extract(_table_pdf()).blocks)

    assert "| Problem | Cause | Solution |\n|---|---|---|\n" in text
    assert (
        "| White dust on furniture near the unit | Minerals in hard tap water "
        "| Use distilled water and replace the filter cartridge. |"
    ) in text
    assert "| Gurgling noise | Unit is not standing level | Place it on a flat surface. |" in text
    # A bulleted list and two columns of prose are no tables.
    assert "Keep the tank clean." in text and "| - |" not in text
    assert "| The left column" not in text
    assert "The left column tells one story in its own words" in text


def _two_column_page_with_a_table() -> bytes:
    """A page set in two columns: a specification table without rules in the left one,
    drawn first, and prose in the right one on the same lines."""
    specs = [
        ("Brightness", "3,200 ANSI lumens"),
        ("Contrast ratio", "15,000:1 (dynamic)"),
        ("Standby power", "0.5 W"),
        ("Weight", "2.9 kg"),
        ("Remote control range", "8 m"),
    ]
    prose = [
        "Take the projector to a collection",
        "point for waste electrical equipment.",
        "The lamp contains mercury and must",
        "be disposed of separately at a point",
        "for hazardous waste, like batteries.",
    ]
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.drawString(72, 760, "11 Specifications")
    for i, (name, value) in enumerate(specs):
        page.drawString(72, 740 - 14 * i, name)
        page.drawString(190, 740 - 14 * i, value)
    page.drawString(72, 660, "Specifications are subject to change without notice.")
    for i, line in enumerate(prose):
        page.drawString(340, 740 - 14 * i, line)
    page.showPage()
    page.save()
    return out.getvalue()


def test_a_table_in_one_of_two_columns_comes_out_one_row_a_line() -> None:
    text = "\n".join(b.text for b in _extract(_two_column_page_with_a_table()).blocks)

    assert "| Brightness | 3,200 ANSI lumens |" in text
    assert "| Standby power | 0.5 W |\n| Weight | 2.9 kg |" in text
    assert "The lamp contains mercury and must" in text  # the prose beside it is kept
