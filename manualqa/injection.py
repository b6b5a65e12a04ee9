"""Prompt-injection scanning: text aimed at a model rather than a reader, or hidden text.

Manuals are scanned at ingest (flagged chunks are listed in the catalog) and retrieved
passages again before they enter a prompt (`keep_out_of_prompts`), with the same
rules, so a flagged chunk never reaches a model whatever index served it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

EXCERPT_CHARS = 200

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "override-instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,30}?"
            r"\b(?:previous|prior|above|earlier|preceding|original|system|developer)\b"
            r"[^.\n]{0,20}?\b(?:instructions?|prompts?|rules|directions|guidelines|messages?)\b"
            r"|\b(?:ignore|disregard|forget)\b (?:all |any )?your "
            r"(?:instructions|rules|guidelines|prompt)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "addresses-the-model",
        re.compile(
            r"\b(?:AI|LLM|large language model|language model|chat ?bot|ChatGPT|Claude)"
            r"(?: assistants?| models?| systems?| agents?)?\b"
            r"[^.\n]{0,20}?\b(?:must|should|shall|are now|you are|reading this|instructed)\b",
        ),
    ),
    (
        "role-play",
        re.compile(
            r"\byou are now (?:in )?(?:an? )?(?:developer|DAN|jailbr\w+|unrestricted)\b"
            r"|\bact as (?:an?|the) (?:unrestricted|jailbroken|different)\b"
            r"|\bnew (?:system )?instructions?:",
            re.IGNORECASE,
        ),
    ),
    (
        "reveal-prompt",
        re.compile(
            r"\b(?:reveal|print|show|repeat|output)\b[^.\n]{0,30}\b(?:system prompt|your "
            r"(?:instructions|prompt|rules))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "chat-markup",
        re.compile(
            r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<</?SYS>>",
            re.IGNORECASE,
        ),
    ),
)
# Characters that render as nothing or reorder text: a reader cannot see what they
# carry, a model reads it all.
_HIDDEN_CATEGORIES = {"Cf", "Co", "Cn"}
_ALLOWED_FORMAT_CHARS = {"\u00ad"}  # a soft hyphen is common in typeset PDFs
_TAG_CHARS = range(0xE0000, 0xE0080)


@dataclass(frozen=True)
class Finding:
    rule: str
    excerpt: str


def _hidden(text: str) -> Finding | None:
    for index, char in enumerate(text):
        if char in _ALLOWED_FORMAT_CHARS:
            continue
        if unicodedata.category(char) in _HIDDEN_CATEGORIES or ord(char) in _TAG_CHARS:
            start = max(0, index - EXCERPT_CHARS // 2)
            excerpt = text[start : start + EXCERPT_CHARS]
            return Finding("hidden-characters", f"U+{ord(char):04X} in: {excerpt!r}")
    return None


def scan_text(text: str) -> list[Finding]:
    """Every rule `text` breaks, each with an excerpt around the first match."""
    findings = []
    for rule, pattern in _RULES:
        match = pattern.search(text)
        if match:
            start = max(0, match.start() - 40)
            findings.append(Finding(rule, text[start : start + EXCERPT_CHARS].strip()))
    hidden = _hidden(text)
    if hidden is not None:
        findings.append(hidden)
    return findings


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


class _Chunk(_HasText, Protocol):
    @property
    def chunk_id(self) -> str: ...


T = TypeVar("T", bound=_HasText)


def scan_chunks(chunks: Iterable[_Chunk]) -> dict[str, list[Finding]]:
    """Findings per chunk id, for the chunks that break a rule."""
    flagged = {}
    for chunk in chunks:
        findings = scan_text(chunk.text)
        if findings:
            flagged[chunk.chunk_id] = findings
    return flagged


def keep_out_of_prompts(passages: Sequence[T]) -> list[T]:
    """The passages that break no rule: what may be put in front of a model."""
    return [p for p in passages if not scan_text(p.text)]
