"""An extractive answerer: quotes the passage span that best covers the question.

It is the offline default for the `answer` role: no network, deterministic. Text is
cut into units (sentences, steps, table cells); every run of up to `max_units`
consecutive units of a passage is a candidate, so a fact that sits next to the
sentence naming the topic (a numbered step, a table row) is quoted with it. It
abstains when no span covers enough of the question's content words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from manualqa.prompts import ABSTAIN_TEXT, PromptPassage

_WORD_RE = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")
_DIGIT_RE = re.compile(r"\d")
_PAGE_FOOTER_RE = re.compile(r"^page \d+$", re.IGNORECASE)
STOPWORDS = frozenset(
    (
        "a an the and or but if of to in on at by for with from as is are was were be been being "
        "do does did doing have has had i you your my me we our it its this that these those there "
        "what which who whom how when where why can could should would will shall may might must "
        "not no yes so than then too very just about into over under after before again any all "
        "each few more most other some such only own same both up down out off once here s t "
        "get gets got use using used need needs tell please know want way "
        # question filler that answers never repeat
        "mean means meaning wrong happen happens happened what's whats"
    ).split()
)
# Questions that ask for a quantity, a code or a setting are answered by a span with a digit.
_QUANTITY_CUES = (
    "how long",
    "how many",
    "how much",
    "how often",
    "how far",
    "how steep",
    "how big",
    "how high",
    "how hot",
    "how cold",
    "how heavy",
    "what temperature",
    "what voltage",
    "password",
    " pin",
    "part number",
    "torque",
    "range",
    "rating",
    "capacity",
    "default",
    "size",
    "weight",
    "when",
)
_PROCEDURE_RE = re.compile(r"^(how (do|can|should|would) (i|you|we)|how to|what should i do)\b")
_STEP_RE = re.compile(r"^\d+[.)]\s")
# Measured on both golden sets (see README): 0.5 answers a quarter more questions than 0.6
# for a few more answered unanswerables, each still carrying a checkable citation.
DEFAULT_MIN_COVERAGE = 0.5
FRAGMENT_WORDS = 3
LENGTH_PENALTY = 0.12
CUE_BONUS = 0.08


@dataclass(frozen=True)
class ExtractiveAnswer:
    text: str
    coverage: float
    abstained: bool


@dataclass(frozen=True)
class _Span:
    passage: PromptPassage
    first_unit: int
    units: tuple[str, ...]
    text_terms: frozenset[str]
    terms: frozenset[str]  # text terms plus the passage's product and section


def content_terms(text: str) -> list[str]:
    """Lower-cased content words with a light plural/verb fold (filters -> filter)."""
    terms = []
    for word in _WORD_RE.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        terms.append(word)
    return terms


def split_units(text: str) -> list[str]:
    """Sentences within lines; lines are steps, list items or table cells.

    A fragment of a few words that ends no sentence (a table key such as "E21", a
    heading) is joined to the unit after it, so it is never quoted alone.
    """
    pieces = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _PAGE_FOOTER_RE.match(line):
            continue
        step = _STEP_RE.match(line)
        prefix, rest = (line[: step.end()], line[step.end() :]) if step else ("", line)
        sentences = [s.strip() for s in _SENTENCE_RE.split(rest) if s.strip()]
        if sentences and prefix:
            sentences[0] = prefix + sentences[0]
        pieces += sentences
    units: list[str] = []
    pending = ""
    for piece in pieces:
        if pending:
            piece = f"{pending}: {piece}"
        if len(piece.split()) <= FRAGMENT_WORDS and piece[-1:] not in ".!?":
            pending = piece
            continue
        pending = ""
        units.append(piece)
    if pending:
        units.append(pending)
    return units


def _spans(passage: PromptPassage, max_units: int) -> list[_Span]:
    context = frozenset(content_terms(f"{passage.product} {passage.section}"))
    units = split_units(passage.text)
    unit_terms = [frozenset(content_terms(u)) for u in units]
    spans = []
    for start in range(len(units)):
        for end in range(start + 1, min(start + max_units, len(units)) + 1):
            text_terms = frozenset().union(*unit_terms[start:end])
            spans.append(
                _Span(passage, start, tuple(units[start:end]), text_terms, text_terms | context)
            )
    return spans


def answer_extractively(
    question: str,
    passages: list[PromptPassage],
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    max_units: int = 3,
) -> ExtractiveAnswer:
    """Quote the best span, cited as [n]; or abstain.

    A span's score is the IDF-weighted share of the question's content words found in
    it, its section title or its product name, less a penalty per extra unit, plus a
    bonus when the question asks for a quantity and the span holds a digit, or asks how
    to do something and the span holds a numbered step. Earlier (better retrieved)
    passages win ties.
    """
    q_terms = set(content_terms(question))
    if not q_terms or not passages:
        return ExtractiveAnswer(ABSTAIN_TEXT, 0.0, True)
    spans = [span for p in passages for span in _spans(p, max_units)]
    if not spans:
        return ExtractiveAnswer(ABSTAIN_TEXT, 0.0, True)
    single = [s for s in spans if len(s.units) == 1]
    doc_freq = Counter(t for s in single for t in s.text_terms & q_terms)
    weight = {t: _code_boost(t) * math.log(1 + len(single) / (1 + doc_freq[t])) for t in q_terms}
    total = sum(weight.values())
    lowered = question.lower().strip()
    wants_quantity = any(cue in f" {lowered}" for cue in _QUANTITY_CUES)
    wants_steps = _PROCEDURE_RE.match(lowered) is not None

    def coverage(span: _Span) -> float:
        return sum(weight[t] for t in q_terms & span.terms) / total

    def score(span: _Span) -> float:
        value = coverage(span) - LENGTH_PENALTY * (len(span.units) - 1)
        if wants_quantity and any(_DIGIT_RE.search(u) for u in span.units):
            value += CUE_BONUS
        if wants_steps and any(_STEP_RE.match(u) for u in span.units):
            value += CUE_BONUS
        return value

    order = {id(p): i for i, p in enumerate(passages)}
    best = max(spans, key=lambda s: (score(s), -order[id(s.passage)], -s.first_unit))
    best_coverage = coverage(best)
    if best_coverage < min_coverage:
        return ExtractiveAnswer(ABSTAIN_TEXT, best_coverage, True)
    units = list(best.units)
    if wants_steps:
        units = _procedure_around(best) or units
    text = " ".join(_finish(u) for u in units)
    return ExtractiveAnswer(f"{text} [{best.passage.number}]", best_coverage, False)


def _procedure_around(span: _Span, max_steps: int = 6) -> list[str]:
    """The numbered steps that the span is part of or that directly follow it."""
    units = split_units(span.passage.text)
    last = span.first_unit + len(span.units) - 1
    window = range(max(span.first_unit - 1, 0), min(last + 3, len(units)))
    start = next((i for i in window if _STEP_RE.match(units[i])), None)
    if start is None:
        return []
    while start > 0 and _STEP_RE.match(units[start - 1]):
        start -= 1
    end = start
    while end < len(units) and end - start < max_steps * 2:
        if not _STEP_RE.match(units[end]) and (
            end + 1 >= len(units) or not _STEP_RE.match(units[end + 1])
        ):
            break  # a step may carry one trailing sentence ("3. Release. The icon goes out.")
        end += 1
    lead = units[span.first_unit : start] if span.first_unit < start else []
    return [*lead[-1:], *units[start : end + 1]]


def _code_boost(term: str) -> float:
    """Codes such as E21, TP2 or AF-200H name exactly one thing: they count double."""
    return 2.0 if any(c.isdigit() for c in term) and any(c.isalpha() for c in term) else 1.0


def _finish(unit: str) -> str:
    unit = " ".join(unit.split())
    return unit if unit[-1:] in ".!?:" else unit + "."
