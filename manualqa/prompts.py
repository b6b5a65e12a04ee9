"""Version-controlled prompt templates (rendered with str.format, never per-request I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROMPT_VERSION = "answer-v1"
ABSTAIN_TEXT = "I could not find the answer in the available manuals."

ANSWER_SYSTEM = (
    "You answer questions about product manuals using only the numbered passages you are given. "
    "Cite every claim with the number of the passage it comes from in square brackets, e.g. [2]. "
    "Prefer the passage whose product matches the question. If the passages do not contain the "
    f"answer, reply exactly: {ABSTAIN_TEXT}"
)

_PASSAGE_HEADER = "[{n}] manual={manual} | product={product} | page={page} | section={section}"
_PASSAGE_RE = re.compile(
    r"^\[(?P<n>\d+)\] manual=(?P<manual>[^|]*) \| product=(?P<product>[^|]*) \| "
    r"page=(?P<page>[^|]*) \| section=(?P<section>.*)$",
    re.MULTILINE,
)
_QUESTION_RE = re.compile(r"^Question: (?P<q>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class PromptPassage:
    """One retrieved passage as the answer prompt shows it."""

    number: int
    manual: str
    product: str
    page: str
    section: str
    text: str


def render_answer_prompt(question: str, passages: list[PromptPassage]) -> list[dict[str, str]]:
    """Chat messages for the `answer` role."""
    blocks = []
    for p in passages:
        header = _PASSAGE_HEADER.format(
            n=p.number,
            manual=p.manual,
            product=p.product,
            page=p.page,
            section=p.section,
        )
        blocks.append(f"{header}\n{p.text.strip()}")
    user = f"Question: {question.strip()}\n\nPassages:\n\n" + "\n\n".join(blocks)
    return [
        {"role": "system", "content": ANSWER_SYSTEM},
        {"role": "user", "content": user},
    ]


def parse_answer_prompt(user_message: str) -> tuple[str, list[PromptPassage]]:
    """Inverse of `render_answer_prompt` for the user message (used by the offline model)."""
    match = _QUESTION_RE.search(user_message)
    if match is None:
        raise ValueError("the prompt has no 'Question:' line")
    headers = list(_PASSAGE_RE.finditer(user_message))
    passages = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(user_message)
        passages.append(
            PromptPassage(
                number=int(header["n"]),
                manual=header["manual"].strip(),
                product=header["product"].strip(),
                page=header["page"].strip(),
                section=header["section"].strip(),
                text=user_message[header.end() : end].strip(),
            )
        )
    return match["q"].strip(), passages
