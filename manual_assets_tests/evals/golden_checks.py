"""Checks shared by the golden-set tests: text matching, Markdown/HTML sections, the split."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from html.parser import HTMLParser

from evals.golden import GoldenQuestion

_MD_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+)$", re.MULTILINE)
_HTML_HEADING_RE = re.compile(r"<h([1-6])\b[^>]*>", re.IGNORECASE)
_HTML_TAG_RE = re.compile(r"<[^>]*>")


def normalize(text: str) -> str:
    """Case-fold and collapse every whitespace run to one space."""
    return " ".join(text.split()).casefold()


def missing(needles: Iterable[str], haystacks: Iterable[str]) -> list[str]:
    """The needles found in none of the haystacks (normalized comparison)."""
    normalized = [normalize(h) for h in haystacks]
    return [n for n in needles if not any(normalize(n) in h for h in normalized)]


def markdown_sections(text: str) -> dict[str, str]:
    """Heading text -> text from that heading up to the next heading of the same or higher
    level. Inline HTML in headings (`<a name="x"></a>`) is dropped from the key."""
    headings = list(_MD_HEADING_RE.finditer(text))
    sections: dict[str, str] = {}
    for i, heading in enumerate(headings):
        level = len(heading.group(1))
        end = next(
            (h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level),
            len(text),
        )
        key = _HTML_TAG_RE.sub("", heading.group(2)).strip()
        sections[key] = sections.get(key, "") + text[heading.start() : end]
    return sections


class _VisibleText(HTMLParser):
    """The visible text of an HTML fragment (no style or script content)."""

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


def _visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def html_sections(html: str) -> dict[str, str]:
    """Heading text -> visible text from that `<hN>` up to the next heading of the same or
    higher level (or the end of the page)."""
    starts = list(_HTML_HEADING_RE.finditer(html))
    sections: dict[str, str] = {}
    for i, start in enumerate(starts):
        level = int(start.group(1))
        end = next(
            (s.start() for s in starts[i + 1 :] if int(s.group(1)) <= level),
            len(html),
        )
        close = html.index(f"</h{level}>", start.end())
        heading = " ".join(_visible_text(html[start.end() : close]).split())
        sections[heading] = _visible_text(html[start.start() : end])
    return sections


def leaked_answers(questions: Iterable[GoldenQuestion]) -> list[str]:
    """Dev questions that expect an answer string a test question of the same manual expects:
    most likely paraphrases of a frozen test question."""
    questions = list(questions)
    frozen = {
        (q.manual_key, normalize(answer))
        for q in questions
        if q.split == "test"
        for answer in q.answer_contains
    }
    return [
        q.id
        for q in questions
        if q.split == "dev"
        and any((q.manual_key, normalize(answer)) in frozen for answer in q.answer_contains)
    ]


def per_manual(questions: Iterable[GoldenQuestion]) -> Counter[str]:
    """Answerable questions per manual key."""
    return Counter(q.manual_key for q in questions if q.answerable and q.manual_key)
