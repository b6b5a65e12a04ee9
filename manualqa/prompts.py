"""Prompts: version-controlled files in `prompt_templates/`, read once, each with a hash.

Every prompt is a `<name>.system.md` and a `<name>.user.md` template (`string.Template`,
`$name` placeholders: substitution is not recursive, so text put in cannot expand further
placeholders). The hash of both files travels with every rendered prompt, so each model
call records exactly which prompt text it was given.

Untrusted text (questions, manual passages, catalog rows) goes only into the user
message, between tags the system message names; `fence` keeps that text from opening or
closing one of those tags.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).resolve().parent / "prompt_templates"
ABSTAIN_TEXT = "I could not find the answer in the available manuals."
CANNOT_ANSWER_SQL = "CANNOT_ANSWER"
DELIMITER_TAGS = (
    "question",
    "passages",
    "passage",
    "schema",
    "values",
    "rows",
    "manual_answer",
)
_TAG_RE = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(DELIMITER_TAGS) + r")\b)", re.IGNORECASE)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str
    hash: str  # first 16 hex digits of the SHA-256 of both files

    def render(self, **values: str) -> RenderedPrompt:
        """Chat messages with `values` substituted (a missing value raises KeyError)."""
        messages = [
            {"role": "system", "content": Template(self.system).substitute(values)},
            {"role": "user", "content": Template(self.user).substitute(values)},
        ]
        return RenderedPrompt(messages, template=self)


class RenderedPrompt(list[dict[str, str]]):
    """Chat messages that remember the prompt template they came from."""

    def __init__(self, messages: list[dict[str, str]], *, template: PromptTemplate) -> None:
        super().__init__(messages)
        self.template = template


@cache
def load_prompt(name: str) -> PromptTemplate:
    """The prompt `name` from `prompt_templates/` (read from disk once per process)."""
    system = (TEMPLATE_DIR / f"{name}.system.md").read_bytes()
    user = (TEMPLATE_DIR / f"{name}.user.md").read_bytes()
    digest = hashlib.sha256(system + b"\0" + user).hexdigest()[:16]
    return PromptTemplate(name, system.decode().strip(), user.decode().strip(), digest)


def fence(text: str) -> str:
    """Untrusted text made unable to open or close a prompt delimiter tag.

    `<` before a delimiter tag name becomes `‹`, which no tag starts with; the words stay
    readable to a model and every other `<` is left alone.
    """
    return _TAG_RE.sub("‹", text)


@dataclass(frozen=True)
class PromptPassage:
    """One retrieved passage as the answer prompt shows it."""

    number: int
    manual: str
    product: str
    page: str
    section: str
    text: str


def _attribute(value: str) -> str:
    return fence(value).replace('"', "'").replace("\n", " ")


def _passage_block(p: PromptPassage) -> str:
    return (
        f'<passage n="{p.number}" manual="{_attribute(p.manual)}" '
        f'product="{_attribute(p.product)}" page="{_attribute(p.page)}" '
        f'section="{_attribute(p.section)}">\n{fence(p.text.strip())}\n</passage>'
    )


def render_answer_prompt(question: str, passages: list[PromptPassage]) -> RenderedPrompt:
    """Chat messages for the `answer` role."""
    return load_prompt("answer").render(
        abstain_text=ABSTAIN_TEXT,
        question=fence(question.strip()),
        passages="\n\n".join(_passage_block(p) for p in passages),
    )
