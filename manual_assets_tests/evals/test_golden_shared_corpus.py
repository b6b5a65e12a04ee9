"""Mechanical checks of evals/golden_shared_corpus.yaml against the real manuals.

The corpus lives outside the repository (`../shared/corpus`); without it these tests skip.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.golden import load_golden_set
from manual_assets_tests.evals.golden_checks import (
    leaked_answers,
    markdown_sections,
    missing,
    per_manual,
)
from manualqa.documents import slugify

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"
GOLDEN_PATH = REPO_ROOT / "evals" / "golden_shared_corpus.yaml"

# The frozen test part, as it was before the split.
MIN_TEST_QUESTIONS = 30
MIN_TEST_PER_MANUAL = 2
MIN_TEST_UNANSWERABLE = 4
# The development part: tune and calibrate on it.
MIN_DEV_QUESTIONS = 110
MIN_DEV_PER_MANUAL = 6
MIN_DEV_UNANSWERABLE = 18
MIN_DEV_LOOKALIKE = 20
FIELDS = {
    "id",
    "question",
    "manual_key",
    "pages",
    "section",
    "answer_contains",
    "answerable",
    "split",
}
OPTIONAL_FIELDS = {"confusable_with"}

RAW = yaml.safe_load(GOLDEN_PATH.read_text(encoding="utf-8"))["questions"]
QUESTIONS = load_golden_set(GOLDEN_PATH)
ANSWERABLE = [q for q in RAW if q["answerable"]]


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
    return markdown_sections(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def _require_corpus() -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")


def test_every_question_has_the_schema_fields() -> None:
    odd = [q["id"] for q in RAW if not FIELDS <= set(q) <= FIELDS | OPTIONAL_FIELDS]
    assert odd == [], "every question needs the schema fields and nothing else"


@pytest.mark.parametrize(
    ("split", "min_questions", "min_per_manual", "min_unanswerable"),
    [
        ("test", MIN_TEST_QUESTIONS, MIN_TEST_PER_MANUAL, MIN_TEST_UNANSWERABLE),
        ("dev", MIN_DEV_QUESTIONS, MIN_DEV_PER_MANUAL, MIN_DEV_UNANSWERABLE),
    ],
)
def test_each_part_covers_every_manual(
    split: str, min_questions: int, min_per_manual: int, min_unanswerable: int
) -> None:
    part = [q for q in QUESTIONS if q.split == split]
    assert len(part) >= min_questions
    counts = per_manual(part)
    thin = {key: counts[key] for key in _corpus_files() if counts[key] < min_per_manual}
    assert thin == {}, f"manuals with fewer than {min_per_manual} {split} questions"
    assert sum(not q.answerable for q in part) >= min_unanswerable


def test_dev_part_has_lookalike_questions_and_does_not_leak_the_test_part() -> None:
    dev = [q for q in QUESTIONS if q.split == "dev"]
    assert sum(q.confusable_with is not None for q in dev) >= MIN_DEV_LOOKALIKE
    assert leaked_answers(QUESTIONS) == []
    wording = Counter(" ".join(q.question.casefold().split()) for q in QUESTIONS)
    assert [text for text, n in wording.items() if n > 1] == [], "repeated questions"


def test_lookalike_questions_name_a_sibling_manual() -> None:
    keys = _corpus_files().keys()
    odd = [
        q.id
        for q in QUESTIONS
        if q.confusable_with is not None
        and (q.confusable_with not in keys or q.confusable_with == q.manual_key)
    ]
    assert odd == []


@pytest.mark.parametrize("q", [q for q in RAW if not q["answerable"]], ids=lambda q: q["id"])
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

    assert missing(q["answer_contains"], haystacks) == []
