"""Fixtures for the extraction and chunking tests: the shared corpus and PDF building."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from manualqa.documents import ManualRef
from manualqa.tokens import TokenCounter, default_token_counter

CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MEDIA_TYPES = {".pdf": "application/pdf", ".md": "text/markdown", ".html": "text/html"}


def make_ref(name: str, media_type: str | None = None, title: str = "Fallback title") -> ManualRef:
    """A ManualRef for a file name, the media type taken from its extension by default."""
    suffix = Path(name).suffix
    return ManualRef(
        key=Path(name).stem.replace("_", "-"),
        uri=f"file:///{name}",
        file_name=name,
        media_type=media_type or MEDIA_TYPES.get(suffix, "application/octet-stream"),
        vendor="Acme",
        product="AC-200",
        title=title,
        license="CC-BY-4.0",
        source="folder",
    )


@dataclass
class Line:
    """One line of text drawn on a test PDF page."""

    text: str
    size: float = 10.0
    bold: bool = False


@dataclass
class PdfSpec:
    """A PDF to build: pages of lines, optional outline, header/footer, title, labels."""

    pages: Sequence[Sequence[Line | str]]
    outline: Sequence[tuple[str, int, int]] = ()  # (title, 0-based page, level 0 = top)
    header: str | None = None
    footer: str | None = None  # may hold "{n}" for the page number
    title: str | None = None
    user_password: str | None = None
    page_labels: Sequence[tuple[int, int, str, int]] = field(default=())  # from, to, style, start


def build_pdf(spec: PdfSpec) -> bytes:
    """Render `spec` with reportlab (outline as bookmarks), then add page labels with pypdf."""
    buffer = io.BytesIO()
    encrypt = (
        StandardEncryption(spec.user_password, "owner") if spec.user_password is not None else None
    )
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt, invariant=1)
    if spec.title:
        pdf.setTitle(spec.title)
    height = A4[1]
    bookmarks: dict[int, list[tuple[str, int, int]]] = {}
    for index, (title, page, level) in enumerate(spec.outline):
        bookmarks.setdefault(page, []).append((title, level, index))
    for number, lines in enumerate(spec.pages):
        for title, level, index in bookmarks.get(number, []):
            key = f"bm{index}"
            pdf.bookmarkPage(key)
            pdf.addOutlineEntry(title, key, level=level)
        if spec.header:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(72, height - 40, spec.header)
        y = height - 72
        for item in lines:
            line = Line(item) if isinstance(item, str) else item
            pdf.setFont("Helvetica-Bold" if line.bold else "Helvetica", line.size)
            pdf.drawString(72, y, line.text)
            y -= line.size * 1.6
        if spec.footer:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(72, 30, spec.footer.format(n=number + 1))
        pdf.showPage()
    pdf.save()
    data = buffer.getvalue()
    if spec.page_labels:
        from pypdf import PdfReader, PdfWriter
        from pypdf.constants import PageLabelStyle

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        for first, last, style, start in spec.page_labels:
            writer.set_page_label(first, last, style=PageLabelStyle(style), start=start)
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    return data


def image_only_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages hold a picture and no text (a scan)."""
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (200, 120), (90, 140, 200)).save(picture, format="PNG")
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for _ in range(pages):
        picture.seek(0)
        pdf.drawImage(ImageReader(picture), 72, 400, width=400, height=240)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


GOOD_LINES = [
    f"{i}. Turn the dial to position {i} and wait for the green light." for i in range(12)
]
GOOD_PDF = build_pdf(PdfSpec(pages=[GOOD_LINES, GOOD_LINES[::-1]]))
# Files offered as PDFs that validation must refuse, and the reason code it must give.
BAD_PDFS = {
    "corrupt": (GOOD_PDF[:400] + b"\x00garbage" * 50, "unreadable"),
    "html_named_pdf": (
        b"<!DOCTYPE html><html><body>" + b"<p>hello</p>" * 20 + b"</html>",
        "type_mismatch",
    ),
    "encrypted": (
        build_pdf(PdfSpec(pages=[GOOD_LINES], user_password="s3cret")),
        "encrypted",
    ),
    "image_only": (image_only_pdf(), "image_only"),
    "empty": (b"", "empty"),
}


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus of real manuals; the test is skipped where it is absent."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def token_counter() -> TokenCounter:
    return default_token_counter()


@pytest.fixture
def pdf_builder() -> Callable[[PdfSpec], bytes]:
    return build_pdf
