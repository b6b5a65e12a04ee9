"""Golden question sets: what a correct answer must cite and contain.

Each set is split in two: `dev` questions are the ones to tune and calibrate on, `test`
questions are frozen and only reported. A question about one of two look-alike products names
the sibling manual in `confusable_with`; a question about a manual the API does not serve
(not public) has `audience: internal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SPLITS = ("dev", "test")
AUDIENCES = ("public", "internal")
_REQUIRED_FIELDS = frozenset(
    {"id", "question", "manual_key", "pages", "section", "answer_contains", "answerable", "split"}
)
_OPTIONAL_FIELDS = frozenset({"confusable_with", "audience"})


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    question: str
    manual_key: str | None
    pages: tuple[int, ...]
    section: str
    answer_contains: tuple[str, ...]
    answerable: bool
    split: str
    confusable_with: str | None = None
    audience: str = "public"


def load_golden_set(path: Path, split: str | None = None) -> list[GoldenQuestion]:
    """Read and validate a golden set YAML file (`questions:` list).

    With `split` ("dev" or "test"), only the questions of that part are returned; the whole
    file is validated either way.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("questions") if isinstance(data, dict) else None
    if not items:
        raise ValueError(f"{path} has no 'questions:' list")
    questions = [_parse_question(path, item) for item in items]
    ids = [q.id for q in questions]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: question ids are not unique")
    return [q for q in questions if split is None or q.split == split]


def _parse_question(path: Path, item: Any) -> GoldenQuestion:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: every question must be a mapping, got {item!r}")
    where = f"{path}: question {item.get('id', '?')}"
    missing = sorted(_REQUIRED_FIELDS - item.keys())
    unknown = sorted(item.keys() - _REQUIRED_FIELDS - _OPTIONAL_FIELDS)
    if missing or unknown:
        raise ValueError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    q = GoldenQuestion(
        id=str(item["id"]),
        question=str(item["question"]),
        manual_key=item["manual_key"],
        pages=tuple(int(p) for p in item["pages"] or ()),
        section=str(item["section"] or ""),
        answer_contains=tuple(str(s) for s in item["answer_contains"] or ()),
        answerable=bool(item["answerable"]),
        split=str(item["split"]),
        confusable_with=item.get("confusable_with"),
        audience=str(item.get("audience") or "public"),
    )
    if q.split not in SPLITS:
        raise ValueError(f"{where}: split must be one of {SPLITS}, not {q.split!r}")
    if q.audience not in AUDIENCES:
        raise ValueError(f"{where}: audience must be one of {AUDIENCES}, not {q.audience!r}")
    if q.answerable and not q.manual_key:
        raise ValueError(f"{where}: an answerable question needs a manual_key")
    if not q.answerable and q.manual_key:
        raise ValueError(f"{where}: an unanswerable question cannot name a manual_key")
    if q.confusable_with is not None and q.confusable_with == q.manual_key:
        raise ValueError(f"{where}: confusable_with must name the sibling manual, not its own")
    return q
