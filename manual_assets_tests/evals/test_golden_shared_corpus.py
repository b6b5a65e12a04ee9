"""Mechanical checks of evals/golden_shared_corpus.yaml against the real manuals.

The corpus lives outside the repository (`../shared/corpus`); without it these tests skip.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from manualqa.documents import slugify

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"
GOLDEN_PATH = REPO_ROOT / "evals" / "golden_shared_corpus.yaml"

MIN_QUESTIONS = 30
MIN_PER_MANUAL = 2
MIN_UNANSWERABLE = 4
FIELDS = {"id", "question", "manual_key", "pages", "section", "answer_contains", "answerable"}

_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+)$", re.MULTILINE)
_HTML_TAG_RE = re.compile(r"<[^>]*>")


def _load_questions() -> list[dict[str, Any]]:
    return yaml.safe_load(GOLDEN_PATH.read_text(encoding="utf-8"))["questions"]


QUESTIONS = _load_questions()
ANSWERABLE = [q for q in QUESTIONS if q["answerable"]]


def _normalize(text: str) -> str:
    """Case-fold and collapse every whitespace run to one space."""
    return " ".join(text.split()).casefold()


def _heading_text(raw: str) -> str:
    """Heading text without inline HTML anchors such as `<a name="firmware"></a>`."""
    return _HTML_TAG_RE.sub("", raw).strip()


@cache
def _corpus_files() -> dict[str, Path]:
    """Partition key (slug of the file stem) -> manual file, for every file in MANIFEST.csv."""
    with (CORPUS_DIR / "MANIFEST.csv").open(newline="", encoding="utf-8") as manifest:
        paths = [CORPUS_DIR / row["file"] for row in csv.DictReader(manifest)]
    return {slugify(p.stem): p for p in paths}


@cache
def _pdf_pages(path: Path) -> tuple[str, ...]:
    from pypdf import PdfReader

    return tuple(page.extract_text() or "" for page in PdfReader(path).pages)


@cache
def _markdown_sections(path: Path) -> dict[str, str]:
    """Heading text -> text from that heading up to the next heading of the same or higher level."""
    text = path.read_text(encoding="utf-8")
    headings = list(_HEADING_RE.finditer(text))
    sections: dict[str, str] = {}
    for i, heading in enumerate(headings):
        level = len(heading.group(1))
        end = next(
            (h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level),
            len(text),
        )
        key = _heading_text(heading.group(2))
        sections[key] = sections.get(key, "") + text[heading.start() : end]
    return sections


def _missing(needles: list[str], haystacks: list[str]) -> list[str]:
    """The needles found in none of the haystacks (normalized comparison)."""
    normalized = [_normalize(h) for h in haystacks]
    return [n for n in needles if not any(_normalize(n) in h for h in normalized)]


@pytest.fixture(scope="module", autouse=True)
def _require_corpus() -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")


def test_question_set_shape() -> None:
    ids = [q["id"] for q in QUESTIONS]
    assert [i for i, n in Counter(ids).items() if n > 1] == [], "duplicate ids"
    assert len(QUESTIONS) >= MIN_QUESTIONS
    assert all(set(q) == FIELDS for q in QUESTIONS), (
        "every question needs exactly the schema fields"
    )

    per_manual = Counter(q["manual_key"] for q in ANSWERABLE)
    thin = {key: per_manual[key] for key in _corpus_files() if per_manual[key] < MIN_PER_MANUAL}
    assert thin == {}, f"manuals with fewer than {MIN_PER_MANUAL} questions"
    assert len(QUESTIONS) - len(ANSWERABLE) >= MIN_UNANSWERABLE


@pytest.mark.parametrize("q", [q for q in QUESTIONS if not q["answerable"]], ids=lambda q: q["id"])
def test_unanswerable_question_has_no_ground_truth(q: dict[str, Any]) -> None:
    assert (q["manual_key"], q["pages"], q["section"], q["answer_contains"]) == (None, [], "", [])


@pytest.mark.parametrize("q", ANSWERABLE, ids=lambda q: q["id"])
def test_answer_is_grounded_in_manual(q: dict[str, Any]) -> None:
    path = _corpus_files().get(q["manual_key"])
    assert path is not None, f"no corpus file has slug {q['manual_key']!r}"
    assert 1 <= len(q["answer_contains"]) <= 2

    if path.suffix == ".pdf":
        pages = _pdf_pages(path)
        assert q["pages"] and all(1 <= p <= len(pages) for p in q["pages"]), "bad page numbers"
        haystacks = [pages[p - 1] for p in q["pages"]]
    else:
        assert q["pages"] == [], "Markdown questions take no page numbers"
        sections = _markdown_sections(path)
        assert q["section"] in sections, f"no heading {q['section']!r} in {path.name}"
        haystacks = [sections[q["section"]]]

    assert _missing(q["answer_contains"], haystacks) == []
