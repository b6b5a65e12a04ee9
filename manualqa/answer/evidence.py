"""Evidence: every unit of every retrieved passage, scored as an answer to the question.

A unit's score is a linear model over features that hold for any question and manual:
how close its embedding is to the question's, how much of the question's rarer words it
holds, how well its passage was retrieved (and how many times its page was), and whether
it is the kind of text the question asks for (a number with the asked-for unit, a
procedure, the code the question names). The answer's confidence is a logistic model
over the best unit's features, its lead over the runner-up and what the passages lack.
Both models' weights are fitted on the development questions by `python -m evals
calibrate` and live in the configuration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from manualqa.answer import text as t
from manualqa.answer.products import compact
from manualqa.answer.units import AnswerUnit

FEATURES = (
    "cosine",  # question vs. unit embedding
    "passage_cosine",  # question vs. the unit's passage (the retrieval score)
    "passage_rank",  # 1 for the best retrieved passage, falling as 1/rank
    "term_coverage",  # IDF-weighted share of the question's words in the unit (of a step, in
    #                   its whole procedure)
    "context_coverage",  # ... in the unit's section title and product name
    "measure_match",  # the unit states a number in a unit the question asks about
    "number",  # a quantity is asked and the unit holds a number
    "count_match",  # "how many zones" is asked and the unit gives a number beside "zones"
    "procedure",  # a procedure is asked and the unit is part of one
    "code_match",  # the unit holds a code (E21, AC-200) the question names
    "short",  # the unit has fewer than five words
    "place_hits",  # log of how many retrieved passages point at the unit's place
)
CONFIDENCE_FEATURES = (
    "score",  # the best unit's score
    "cosine",
    "passage_cosine",
    "term_coverage",
    "context_coverage",
    "lead",  # best score minus the best unit cited elsewhere (PassageInfo.same_place)
    "missing_code",  # the question names a code no retrieved passage holds
    "coverage_all",  # IDF-weighted share of the question's words found in any passage
    "missing_number",  # the question states a number no retrieved passage holds
    "missing_acronym",  # the question uses an all-capital word (VOC, HDMI) no passage holds
    "topic_coverage",  # coverage_all of the question's words that name no retrieved manual
)
SHORT_WORDS = 5
LABEL_WORDS = 12  # the longest term of a definition-list item read as a label
_DIGITS_RE = re.compile(r"\d+")


@dataclass(frozen=True)
class Candidate:
    unit: AnswerUnit
    features: dict[str, float]
    score: float


@dataclass(frozen=True)
class Evidence:
    """Candidates best first, and the confidence that the best one answers the question."""

    candidates: list[Candidate]
    confidence: float
    confidence_features: dict[str, float]
    # Kinds of quantity the question asks a figure of but no passage states a figure in
    # ("the top speed in km/h", "how heavy" over passages with no speed or weight), and
    # model numbers and names it uses that no passage holds ("the AC-500" over AC-200
    # manuals, "Dolby Atmos" over a speaker guide that never says it): nothing here can
    # answer it.
    unstated: frozenset[str] = frozenset()
    unknown_names: frozenset[str] = frozenset()
    # Codes the question asks a figure of ("how heavy is the PB-1000") that the passages
    # name, but state that kind of figure only beside other things.
    figure_elsewhere: frozenset[str] = frozenset()

    @property
    def cannot_answer(self) -> bool:
        return not self.candidates or bool(
            self.unstated or self.unknown_names or self.figure_elsewhere
        )


class LinearModel:
    """score = bias + sum(weight * feature); `logistic` maps it to (0, 1)."""

    def __init__(self, weights: Mapping[str, float], names: Sequence[str]) -> None:
        unknown = set(weights) - set(names) - {"bias"}
        if unknown:
            raise ValueError(f"unknown feature weights: {', '.join(sorted(unknown))}")
        self.weights = dict(weights)
        self.names = tuple(names)

    def score(self, features: Mapping[str, float]) -> float:
        return self.weights.get("bias", 0.0) + sum(
            self.weights.get(name, 0.0) * features[name] for name in self.names
        )

    def logistic(self, features: Mapping[str, float]) -> float:
        value = self.score(features)
        return 1.0 / (1.0 + math.exp(-max(min(value, 50.0), -50.0)))


@dataclass(frozen=True)
class PassageInfo:
    """What evidence scoring needs to know about one retrieved passage."""

    score: float  # retrieval cosine
    context: str  # section title and product name
    manual_key: str
    pages: tuple[int, int] | None  # first and last page, None when unpaged
    section: str
    label: str = ""  # the manual's vendor and title

    def same_place(self, other: PassageInfo) -> bool:
        """Whether citing either passage points the reader at the same place: the same
        manual and overlapping pages (the same section when unpaged). Overlapping chunks
        repeat text, and a unit repeated there is no rival answer."""
        if self.manual_key != other.manual_key:
            return False
        if self.pages is None or other.pages is None:
            return self.section == other.section
        return self.pages[0] <= other.pages[1] and other.pages[0] <= self.pages[1]


@dataclass(frozen=True)
class _Words:
    """The content words of every unit and passage context, the kinds of quantity each
    unit states a figure in and the codes each shows, read once per question."""

    units: list[set[str]]
    contexts: list[set[str]]
    weights: t.TermWeights  # IDF over the units
    measures: list[set[str]]  # per unit (`text.measures_in`)
    codes: list[set[str]]  # per unit, of what it shows (`text.codes`)

    @classmethod
    def of(cls, units: Sequence[AnswerUnit], passages: Sequence[PassageInfo]) -> _Words:
        unit_terms = [set(t.content_terms(u.shown if u.kind == "step" else u.text)) for u in units]
        contexts = [set(t.content_terms(p.context)) for p in passages]
        measures = [t.measures_in(u.text) for u in units]
        codes = [t.codes(u.shown) for u in units]
        return cls(unit_terms, contexts, t.TermWeights(unit_terms), measures, codes)


def unit_features(
    question: str,
    units: Sequence[AnswerUnit],
    unit_vectors: np.ndarray,
    question_vector: np.ndarray,
    passages: Sequence[PassageInfo],
    words: _Words,
) -> list[dict[str, float]]:
    """The features of each unit (see FEATURES)."""
    asked = t.content_terms(question)
    asked_codes = t.codes(question)
    asked_measures = t.measures_asked(question)
    wants_number = t.asks_quantity(question)
    wants_steps = t.asks_procedure(question)
    thing = t.counted(question)
    unit_terms, context_terms, weights = words.units, words.contexts, words.weights
    cosines = unit_vectors @ question_vector if len(units) else np.zeros(0)
    # A page the search returns several times (overlapping chunks, or the same page found
    # by both its text and its section) is more likely the one that answers.
    place_hits = [math.log(sum(p.same_place(o) for o in passages)) for p in passages]
    out = []
    for unit, terms, measures, codes, cosine in zip(
        units, unit_terms, words.measures, words.codes, cosines, strict=True
    ):
        passage = passages[unit.passage]
        shown = unit.shown
        out.append(
            {
                "cosine": float(cosine),
                "passage_cosine": passage.score,
                "passage_rank": 1.0 / (1 + unit.passage),
                "term_coverage": weights.coverage(asked, terms),
                "context_coverage": weights.coverage(asked, context_terms[unit.passage] - terms),
                "measure_match": float(bool(asked_measures & measures)),
                "number": float(wants_number and bool(t.numbers(unit.text))),
                "count_match": float(thing is not None and t.counts(unit.text, thing)),
                "procedure": float(wants_steps and (unit.kind == "step" or shown != unit.text)),
                "code_match": float(bool(asked_codes & codes)),
                "short": float(len(unit.text.split()) < SHORT_WORDS),
                "place_hits": place_hits[unit.passage],
            }
        )
    return out


def gather(
    question: str,
    units: Sequence[AnswerUnit],
    unit_vectors: np.ndarray,
    question_vector: np.ndarray,
    passages: Sequence[PassageInfo],
    ranker: LinearModel,
    confidence: LinearModel,
) -> Evidence:
    """Score every unit and the confidence in the best one."""
    words = _Words.of(units, passages)
    features = unit_features(question, units, unit_vectors, question_vector, passages, words)
    asked_codes = t.codes(question)
    codes_of = {id(u): codes for u, codes in zip(units, words.codes, strict=True)}
    candidates = _siblings_last(
        asked_codes,
        sorted(
            (Candidate(u, f, ranker.score(f)) for u, f in zip(units, features, strict=True)),
            key=lambda c: (-c.score, c.unit.passage, c.unit.ordinal),
        ),
        codes_of,
    )
    # A question about a code that names no retrieved manual ("the display shows E3", "the
    # LAN8720A chip") is answered by the units that show it whenever there are such units,
    # however the others score; only they are rivals. So is a question only a figure can
    # answer ("how heavy"), by the units that state one of that kind.
    sought = _sought_codes(question, passages)
    candidates, showing = _first(candidates, lambda c: bool(sought & codes_of[id(c.unit)]))
    # Of those, asked about a code the product shows ("the display shows A3"), a table row
    # or a definition the code labels ("Code: A3; Meaning: ...; Remedy: ...") says what it
    # means, where a sentence only mentions it ("the counter for A3 is reset"). A pin or a terminal
    # (GPIO17, S1) is asked about for a procedure as often, and keeps its place.
    labelled: list[Candidate] = []
    if t.reports_code(question):
        candidates, labelled = _first(candidates, lambda c: bool(sought & _label_codes(c.unit)))
    asked = t.figures_asked(question)
    wanted = set().union(*asked)
    stating: list[Candidate] = []
    if wanted:
        measures_of = {id(u): m for u, m in zip(units, words.measures, strict=True)}
        candidates, stating = _first(candidates, lambda c: bool(wanted & measures_of[id(c.unit)]))
    # "How much does the PB-1000 battery weigh?" over a manual that names the PB-1000 but
    # states only the power station's weight: every figure of that kind is of something else.
    elsewhere = (
        sought
        if stating and showing and not any(sought & codes_of[id(c.unit)] for c in stating)
        else set()
    )
    rivals = stating or labelled or showing or candidates
    if not candidates:
        return Evidence([], 0.0, {})
    best = candidates[0]
    place = passages[best.unit.passage]
    other = next((c for c in rivals if not passages[c.unit.passage].same_place(place)), None)
    held = set().union(*(t.codes(u.text) for u in units), *(t.codes(p.context) for p in passages))
    everywhere = set().union(*words.units, *words.contexts)
    stated = set().union(
        *(t.numbers(u.text) for u in units), *(t.numbers(p.context) for p in passages)
    )
    # Everything the retrieved text holds, read once for the words and the names asked.
    held_source = " ".join(
        [*(u.text for u in units), *(f"{p.context} {p.label}" for p in passages)]
    )
    held_words = t.words(held_source)
    asked_terms = t.content_terms(question)
    summary = {
        "score": best.score,
        "cosine": best.features["cosine"],
        "passage_cosine": best.features["passage_cosine"],
        "term_coverage": best.features["term_coverage"],
        "context_coverage": best.features["context_coverage"],
        "lead": best.score - other.score if other else 1.0,
        "missing_code": float(bool(asked_codes - held)),
        "coverage_all": words.weights.coverage(asked_terms, everywhere),
        "missing_number": float(bool(t.numbers(question) - stated)),
        "missing_acronym": float(bool(t.acronyms(question) - held_words)),
        "topic_coverage": words.weights.coverage(_topic(asked_terms, passages), everywhere),
    }
    unstated: set[str] = set()
    if asked:  # most questions ask for no figure: the passages are read for measures only then
        stated = set().union(*words.measures, *(t.measures_in(p.context) for p in passages))
        unstated = set().union(*(kinds for kinds in asked if not kinds & stated))
    held_text = compact(held_source)
    used = {c for c in asked_codes if c[0].isalpha()} | t.names(question)
    unknown = {name for name in used if compact(name) not in held_text}
    # "The Ender 5" over the Ender-3 guide: a name from the manuals' titles, with a number
    # none of the passages gives it, is a sibling model the manuals do not cover.
    titled = set().union(*(t.words(p.label) for p in passages))
    unknown |= {
        model
        for name, model in t.spaced_models(question)
        if t.fold(name.lower()) in titled and compact(model) not in held_text
    }
    return Evidence(
        candidates,
        confidence.logistic(summary),
        summary,
        frozenset(unstated),
        frozenset(unknown),
        frozenset(elsewhere),
    )


def _sought_codes(question: str, passages: Sequence[PassageInfo]) -> set[str]:
    """The codes the question asks about that name no retrieved manual ("E3", "LAN8720A";
    not "AC-200" over the AC-200's manual)."""
    named = set().union(*(t.codes(f"{p.context} {p.label}") for p in passages))
    return {c for c in t.codes(question) - named if c[0].isalpha()}


def _label_codes(unit: AnswerUnit) -> set[str]:
    """The codes labelling a unit: those in the first cell of a table row read with its
    header ("Code: A3; ...") or labelled by it ("A3: Descaling due; ..."; none in a row of
    cells read as one line, "Mount hole CON1 header"), and those in the term of a
    definition-list item ("E4 - Tank missing: Push the tank back in")."""
    if unit.kind == "row":
        first = unit.text.split(";", 1)[0]
        return t.codes(first) if ":" in first else set()
    if unit.kind == "item":
        term, colon, _ = unit.text.partition(":")
        return t.codes(term) if colon and len(term.split()) <= LABEL_WORDS else set()
    return set()


def _first(
    candidates: list[Candidate], answers: Callable[[Candidate], bool]
) -> tuple[list[Candidate], list[Candidate]]:
    """The candidates with those that `answers` holds for moved to the front (in their
    order), and those."""
    chosen = [c for c in candidates if answers(c)]
    kept = {id(c) for c in chosen}
    return chosen + [c for c in candidates if id(c) not in kept], chosen


def _siblings_last(
    asked: set[str], candidates: list[Candidate], codes_of: Mapping[int, set[str]]
) -> list[Candidate]:
    """The candidates with those naming a sibling of a code the question asks about
    (`asked`), and not that code, moved to the end: asked about "E2", a row about "E1" is
    another fault, however alike the two read ("AC-300" is another model for an "AC-200"
    question). `codes_of` maps id(unit) to the codes it shows."""
    if not asked:
        return candidates
    shapes = {_DIGITS_RE.sub("#", code) for code in asked}

    def sibling(candidate: Candidate) -> bool:
        held = codes_of[id(candidate.unit)]
        return not held & asked and any(_DIGITS_RE.sub("#", c) in shapes for c in held)

    return [c for c in candidates if not sibling(c)] + [c for c in candidates if sibling(c)]


def _topic(asked_terms: Sequence[str], passages: Sequence[PassageInfo]) -> set[str]:
    """The question's content words (`asked_terms`) less those naming a retrieved manual
    (its vendor and title): a name scopes the search but says nothing about what is asked."""
    asked = set(asked_terms)
    named = set().union(*(t.content_terms(p.label) for p in passages))
    return asked - named or asked


def companion(
    question: str,
    candidates: Sequence[Candidate],
    chosen: Candidate,
    passages: Sequence[PassageInfo],
    margin: float,
) -> Candidate | None:
    """The unit an answer quotes beside `chosen` (one of `candidates`, best first): the best
    unit ranked below it from the same place, within `margin` of its score, that shows
    something `chosen` does not (a symptom's remedy, the sentence after a lead-in). None
    when `chosen` already states a figure of a kind the question names a unit of or can
    only be answered in (`text.figures_named`: the figure is the answer), and never a
    table row, beside or as one: a row's neighbours are other items, other codes. Asked
    about a code `chosen` shows (E2), only a unit showing it too."""
    named = t.figures_named(question)
    if chosen.unit.kind == "row" or named & t.measures_in(chosen.unit.text):
        return None
    # Asked about a code the chosen unit shows, a unit quoted beside it shows it too.
    sought = _sought_codes(question, passages) & t.codes(chosen.unit.shown)
    place = passages[chosen.unit.passage]
    shown = _plain(chosen.unit.shown)
    below = candidates[next(i for i, c in enumerate(candidates) if c is chosen) + 1 :]
    for candidate in below:
        if chosen.score - candidate.score > margin:
            return None
        if candidate.unit.kind == "row":
            continue
        if not passages[candidate.unit.passage].same_place(place):
            continue
        if sought and not sought & t.codes(candidate.unit.shown):
            continue
        other = _plain(candidate.unit.shown)
        if other not in shown and shown not in other:
            return candidate
    return None


def _plain(text: str) -> str:
    return " ".join(text.lower().split())
