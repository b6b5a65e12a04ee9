"""load_golden_set: the split filter and the validation of the question schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.golden import load_golden_set

ANSWERABLE = """
  - id: {id}
    question: How often do I replace the filter?
    manual_key: acme__ac-200__owners-manual
    pages: [16]
    section: 6.3 Replacing the main filter
    answer_contains: ["every 6 months"]
    answerable: true
"""
UNANSWERABLE = """
  - id: {id}
    question: What is the capital of Norway?
    manual_key: null
    pages: []
    section: null
    answer_contains: []
    answerable: false
"""


def _write(tmp_path: Path, *items: str) -> Path:
    path = tmp_path / "golden.yaml"
    path.write_text("questions:" + "".join(items), encoding="utf-8")
    return path


def test_split_selects_one_part_and_new_fields_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        ANSWERABLE.format(id="a") + "    split: test\n",
        ANSWERABLE.format(id="b")
        + "    split: dev\n    confusable_with: acme__ac-300__owners-manual\n",
        UNANSWERABLE.format(id="c") + "    split: dev\n",
        ANSWERABLE.format(id="d") + "    split: dev\n    audience: internal\n",
    )
    assert [q.id for q in load_golden_set(path)] == ["a", "b", "c", "d"]
    dev = load_golden_set(path, split="dev")
    assert [q.id for q in dev] == ["b", "c", "d"]
    assert [q.id for q in load_golden_set(path, split="test")] == ["a"]
    assert [(q.confusable_with, q.audience) for q in dev] == [
        ("acme__ac-300__owners-manual", "public"),
        (None, "public"),
        (None, "internal"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "missing fields \\['split'\\]"),
        ("    split: train\n", "split must be one of"),
        ("    split: dev\n    audience: staff\n", "audience must be one of"),
        ("    split: dev\n    confusable_with: acme__ac-200__owners-manual\n", "sibling"),
        ("    split: dev\n    confusable: acme__ac-300__owners-manual\n", "unknown fields"),
    ],
)
def test_malformed_question_is_rejected_with_its_id(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = _write(tmp_path, ANSWERABLE.format(id="broken") + extra)
    with pytest.raises(ValueError, match=message) as error:
        load_golden_set(path)
    assert "broken" in str(error.value)


def test_unanswerable_question_cannot_name_a_manual(tmp_path: Path) -> None:
    item = UNANSWERABLE.format(id="u").replace(
        "manual_key: null", "manual_key: acme__ac-200__owners-manual"
    )
    with pytest.raises(ValueError, match="unanswerable question cannot name a manual_key"):
        load_golden_set(_write(tmp_path, item + "    split: dev\n"))


def test_unknown_split_argument_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, ANSWERABLE.format(id="a") + "    split: test\n")
    with pytest.raises(ValueError, match="split must be one of"):
        load_golden_set(path, split="validation")
