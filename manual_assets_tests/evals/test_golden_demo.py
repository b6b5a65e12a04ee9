"""Mechanical checks of the demo golden set (evals/golden_set.yaml): its split, look-alike and
audience markers, and that HTML/Markdown answers sit in the cited section.

PDF answers (on the cited pages, inside the cited section's page range) are checked by
manual_assets_tests/demo_corpus/test_demo_corpus.py, next to the PDFs they depend on.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

from evals.golden import GoldenQuestion, load_golden_set
from manual_assets_tests.evals.golden_checks import (
    html_sections,
    leaked_answers,
    markdown_sections,
    missing,
    per_manual,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MANUALS_DIR = REPO_ROOT / "demo_corpus" / "manuals"
GOLDEN_PATH = REPO_ROOT / "evals" / "golden_set.yaml"

MIN_TEST_QUESTIONS = 60
MIN_TEST_UNANSWERABLE = 8
MIN_DEV_QUESTIONS = 60
MIN_DEV_UNANSWERABLE = 10
MIN_DEV_LOOKALIKE = 10
MIN_DEV_PER_MANUAL = 6
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
OPTIONAL_FIELDS = {"confusable_with", "audience"}

RAW = yaml.safe_load(GOLDEN_PATH.read_text(encoding="utf-8"))["questions"]
QUESTIONS = load_golden_set(GOLDEN_PATH)


@cache
def _manifest() -> dict[str, dict[str, str]]:
    """Manual key -> its MANIFEST.csv row."""
    with (MANUALS_DIR / "MANIFEST.csv").open(newline="", encoding="utf-8") as manifest:
        return {row["key"]: row for row in csv.DictReader(manifest)}


@cache
def _sections(key: str) -> dict[str, str]:
    """Heading -> text of that section, for an HTML or Markdown manual. Markdown emphasis
    markers are dropped, as the demo corpus test compares Markdown text without them."""
    path = MANUALS_DIR / _manifest()[key]["file"]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return html_sections(text)
    return {heading: body.replace("*", "") for heading, body in markdown_sections(text).items()}


def _part(split: str) -> list[GoldenQuestion]:
    return [q for q in QUESTIONS if q.split == split]


def test_every_question_has_the_schema_fields() -> None:
    odd = [q["id"] for q in RAW if not FIELDS <= set(q) <= FIELDS | OPTIONAL_FIELDS]
    assert odd == [], "every question needs the schema fields and nothing else"


def test_test_part_keeps_its_size() -> None:
    test = _part("test")
    assert len(test) >= MIN_TEST_QUESTIONS
    assert sum(not q.answerable for q in test) >= MIN_TEST_UNANSWERABLE


def test_dev_part_covers_every_manual_with_lookalikes_and_unanswerables() -> None:
    dev = _part("dev")
    assert len(dev) >= MIN_DEV_QUESTIONS
    assert sum(not q.answerable for q in dev) >= MIN_DEV_UNANSWERABLE
    assert sum(q.confusable_with is not None for q in dev) >= MIN_DEV_LOOKALIKE
    counts = per_manual(dev)
    thin = {key: counts[key] for key in _manifest() if counts[key] < MIN_DEV_PER_MANUAL}
    assert thin == {}, f"manuals with fewer than {MIN_DEV_PER_MANUAL} dev questions"


def test_dev_part_does_not_leak_the_test_part() -> None:
    assert leaked_answers(QUESTIONS) == []
    wording = Counter(" ".join(q.question.casefold().split()) for q in QUESTIONS)
    assert [text for text, n in wording.items() if n > 1] == [], "repeated questions"


def test_lookalike_questions_name_a_sibling_manual() -> None:
    odd = [
        q.id
        for q in QUESTIONS
        if q.confusable_with is not None
        and (q.confusable_with not in _manifest() or q.confusable_with == q.manual_key)
    ]
    assert odd == []


def test_internal_audience_marks_exactly_the_non_public_manuals() -> None:
    """The API serves public manuals only; questions it cannot answer say so."""
    wrong = [
        q.id
        for q in QUESTIONS
        if q.audience
        != (
            "internal"
            if q.manual_key and _manifest()[q.manual_key]["is_public"] == "false"
            else "public"
        )
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "q",
    [q for q in QUESTIONS if q.answerable and not q.pages],
    ids=lambda q: q.id,
)
def test_web_and_markdown_answers_are_in_the_cited_section(q: GoldenQuestion) -> None:
    assert q.manual_key is not None
    sections = _sections(q.manual_key)
    assert q.section in sections, f"no heading {q.section!r} in {q.manual_key}"
    assert missing(q.answer_contains, [sections[q.section]]) == []
