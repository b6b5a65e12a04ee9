"""The committed demo corpus: its PDFs, manifest and golden question set are consistent."""

from __future__ import annotations

import csv
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

from demo_corpus.build import MANIFEST_FIELDS, MANIFEST_NAME, build
from demo_corpus.corpus import Manual, load_manuals

REPO_ROOT = Path(__file__).resolve().parents[2]
MANUALS_DIR = REPO_ROOT / "demo_corpus" / "manuals"
GOLDEN_SET = REPO_ROOT / "evals" / "golden_set.yaml"
KEY_RE = re.compile(r"^[a-z0-9-]+__[a-z0-9-]+__[a-z0-9-]+$")
CONFUSABLE_PAIR = ("acme__ac-200__owners-manual", "acme__ac-300__owners-manual")


def normalize(text: str) -> str:
    """Lower-case and collapse whitespace, the way golden answers are compared."""
    return re.sub(r"\s+", " ", text).strip().lower()


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML page (no style or script content)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


@cache
def manuals() -> dict[str, Manual]:
    return {manual.key: manual for manual in load_manuals()}


@cache
def pdf_reader(key: str) -> PdfReader:
    return PdfReader(MANUALS_DIR / manuals()[key].filename)


@cache
def pdf_page_texts(key: str) -> tuple[str, ...]:
    return tuple(page.extract_text() for page in pdf_reader(key).pages)


@cache
def document_text(key: str) -> str:
    """Visible text of an HTML or Markdown manual."""
    raw = (MANUALS_DIR / manuals()[key].filename).read_text(encoding="utf-8")
    if manuals()[key].format == "html":
        extractor = _TextExtractor()
        extractor.feed(raw)
        return " ".join(extractor.parts)
    return raw.replace("*", "")


@cache
def outline(key: str) -> tuple[tuple[int, str, int], ...]:
    """(depth, title, 1-based page) for every outline entry, in document order."""
    reader = pdf_reader(key)
    entries: list[tuple[int, str, int]] = []

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                index = reader.get_destination_page_number(item)
                assert index is not None, f"outline entry {item.title!r} has no page"
                entries.append((depth, item.title, index + 1))

    walk(reader.outline, 0)
    return tuple(entries)


def section_pages(key: str, heading: str) -> range:
    """Pages from ``heading`` up to where the next heading at its level or above starts."""
    entries = outline(key)
    index = next(i for i, (_, title, _) in enumerate(entries) if title == heading)
    depth, _, first = entries[index]
    last = len(pdf_page_texts(key))
    for later_depth, _, page in entries[index + 1 :]:
        if later_depth <= depth:
            last = page
            break
    return range(first, last + 1)


def pdf_keys() -> list[str]:
    return [key for key, manual in manuals().items() if manual.format == "pdf"]


@cache
def golden_questions() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(GOLDEN_SET.read_text(encoding="utf-8"))["questions"])


def answerable_questions() -> list[dict[str, Any]]:
    return [question for question in golden_questions() if question["answerable"]]


def test_corpus_has_six_manuals_from_three_vendors_in_three_formats() -> None:
    corpus = manuals().values()
    assert len(corpus) == 6
    assert len({manual.vendor for manual in corpus}) == 3
    formats = sorted(manual.format for manual in corpus)
    assert formats == ["html", "markdown", "pdf", "pdf", "pdf", "pdf"]


def test_pdfs_have_at_least_64_pages_in_total() -> None:
    counts = {key: len(pdf_page_texts(key)) for key in pdf_keys()}
    assert sum(counts.values()) >= 64, counts
    assert min(counts.values()) >= 14, counts


@pytest.mark.parametrize("key", pdf_keys())
def test_pdf_outline_mirrors_the_numbered_section_tree(key: str) -> None:
    expected = [(section.level, section.heading) for section in manuals()[key].walk()]
    assert [(depth, title) for depth, title, _ in outline(key)] == expected
    assert max(depth for depth, _ in expected) >= 1, "outline should be nested"


@pytest.mark.parametrize("key", pdf_keys())
def test_pdf_outline_entries_point_at_their_headings(key: str) -> None:
    texts = pdf_page_texts(key)
    pages = [page for _, _, page in outline(key)]
    assert pages == sorted(pages)
    for _, title, page in outline(key):
        assert normalize(title) in normalize(texts[page - 1]), f"{title!r} not on page {page}"


@pytest.mark.parametrize("key", pdf_keys())
def test_pdf_pages_print_their_page_number(key: str) -> None:
    texts = pdf_page_texts(key)
    # The cover (page 1) is unnumbered, as in a printed booklet.
    missing = [
        number
        for number, text in enumerate(texts, start=1)
        if number > 1 and not re.search(rf"\bPage {number}\b", text)
    ]
    assert missing == []


@pytest.mark.parametrize("key", pdf_keys())
def test_pdf_has_running_header_steps_and_tables(key: str) -> None:
    manual = manuals()[key]
    texts = pdf_page_texts(key)
    assert all(manual.product in text for text in texts[1:])
    body = normalize(" ".join(texts))
    assert re.search(r"\b1\. \S+", body) and re.search(r"\b2\. \S+", body)
    assert re.search(r"table \d+\. ", body)


def test_manifest_lists_every_file_and_keys_match_file_stems() -> None:
    with (MANUALS_DIR / MANIFEST_NAME).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == MANIFEST_FIELDS
        rows = list(reader)
    on_disk = {path.name for path in MANUALS_DIR.iterdir() if path.name != MANIFEST_NAME}
    assert {row["file"] for row in rows} == on_disk
    for row in rows:
        assert KEY_RE.match(row["key"]), row["key"]
        assert Path(row["file"]).stem == row["key"]
        assert row["is_public"] in ("true", "false")
        assert row["license"] and row["source"]
        assert row["title"] == manuals()[row["key"]].title
    assert [row["is_public"] for row in rows].count("false") == 1


def test_corpus_stays_small_enough_to_commit() -> None:
    total = sum(path.stat().st_size for path in MANUALS_DIR.iterdir())
    assert total < 2_000_000


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    report = build(tmp_path)
    built = {path.name: path.read_bytes() for path in report.files}
    committed = {path.name: path.read_bytes() for path in MANUALS_DIR.iterdir()}
    assert built.keys() == committed.keys()
    changed = sorted(name for name in built if built[name] != committed[name])
    assert changed == [], "run `python -m demo_corpus.build` and commit the result"


def test_html_manual_is_a_full_web_page() -> None:
    (key,) = [key for key, manual in manuals().items() if manual.format == "html"]
    raw = (MANUALS_DIR / manuals()[key].filename).read_text(encoding="utf-8")
    for tag in ("<!DOCTYPE html>", "<nav", "<footer", "<h1>", "<h2>", "<h3>", "<ol>", "<table>"):
        assert tag in raw


def test_markdown_manual_has_headings_steps_and_a_pipe_table() -> None:
    (key,) = [key for key, manual in manuals().items() if manual.format == "markdown"]
    raw = (MANUALS_DIR / manuals()[key].filename).read_text(encoding="utf-8")
    for pattern in (r"^# \S", r"^## \d+ \S", r"^### \d+\.\d+ \S", r"^1\. \S", r"^\| --- \|"):
        assert re.search(pattern, raw, re.MULTILINE), pattern


def test_golden_set_shape() -> None:
    questions = golden_questions()
    ids = [question["id"] for question in questions]
    assert len(ids) == len(set(ids)), "ids must be unique"
    assert len(questions) >= 36
    unanswerable = [question for question in questions if not question["answerable"]]
    assert len(unanswerable) >= 6
    for question in unanswerable:
        assert question["manual_key"] is None
        assert question["pages"] == [] and question["answer_contains"] == []
    assert {question["manual_key"] for question in answerable_questions()} == set(manuals())


def test_golden_set_distinguishes_the_confusable_pair() -> None:
    """At least 8 pair questions have answers that the sibling manual does not contain."""
    sibling = dict(zip(CONFUSABLE_PAIR, reversed(CONFUSABLE_PAIR), strict=True))
    distinguishing = []
    for question in answerable_questions():
        other = sibling.get(question["manual_key"])
        if other is None:
            continue
        other_text = normalize(" ".join(pdf_page_texts(other)))
        if not any(normalize(answer) in other_text for answer in question["answer_contains"]):
            distinguishing.append(question["id"])
    assert len(distinguishing) >= 8, distinguishing


@pytest.mark.parametrize("question", answerable_questions(), ids=lambda question: question["id"])
def test_golden_answer_is_where_the_golden_set_says(question: dict[str, Any]) -> None:
    key = question["manual_key"]
    manual = manuals()[key]
    assert question["section"] in [section.heading for section in manual.walk()]
    assert question["answer_contains"], "an answerable question needs answer strings"
    if manual.format != "pdf":
        assert question["pages"] == []
        text = normalize(document_text(key))
    else:
        assert question["pages"], "a PDF answer needs its pages"
        in_section = section_pages(key, question["section"])
        texts = pdf_page_texts(key)
        for page in question["pages"]:  # the section's page, or another stating the answer
            states = any(
                normalize(a) in normalize(texts[page - 1]) for a in question["answer_contains"]
            )
            assert page in in_section or states, (page, in_section)
        text = normalize(" ".join(texts[page - 1] for page in question["pages"]))
    for answer in question["answer_contains"]:
        assert normalize(answer) in text, answer
