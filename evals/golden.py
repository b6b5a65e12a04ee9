"""Golden question sets: what a correct answer must cite and contain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    question: str
    manual_key: str | None
    pages: tuple[int, ...]
    section: str
    answer_contains: tuple[str, ...]
    answerable: bool


def load_golden_set(path: Path) -> list[GoldenQuestion]:
    """Read and validate a golden set YAML file (`questions:` list)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("questions") if isinstance(data, dict) else None
    if not items:
        raise ValueError(f"{path} has no 'questions:' list")
    questions = []
    for item in items:
        q = GoldenQuestion(
            id=str(item["id"]),
            question=str(item["question"]),
            manual_key=item.get("manual_key"),
            pages=tuple(int(p) for p in item.get("pages") or ()),
            section=str(item.get("section") or ""),
            answer_contains=tuple(str(s) for s in item.get("answer_contains") or ()),
            answerable=bool(item.get("answerable", True)),
        )
        if q.answerable and not q.manual_key:
            raise ValueError(f"{path}: answerable question {q.id} names no manual_key")
        questions.append(q)
    ids = [q.id for q in questions]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: question ids are not unique")
    return questions
