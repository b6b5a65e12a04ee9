"""An extractive answerer: picks the passage sentences that best cover the question.

It is the offline default for the `answer` role: no network, deterministic, and
it abstains when no sentence covers enough of the question's content words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from manualqa.prompts import ABSTAIN_TEXT, PromptPassage

_WORD_RE = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])|\n+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "i",
        "you",
        "your",
        "my",
        "me",
        "we",
        "our",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "then",
        "too",
        "very",
        "just",
        "about",
        "into",
        "over",
        "under",
        "after",
        "before",
        "again",
        "any",
        "all",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "both",
        "up",
        "down",
        "out",
        "off",
        "once",
        "here",
        "s",
        "t",
        "get",
        "gets",
        "got",
        "use",
        "using",
        "used",
        "need",
        "needs",
        "tell",
        "please",
        "know",
        "want",
        "way",
    ]
)


@dataclass(frozen=True)
class ExtractiveAnswer:
    text: str
    coverage: float
    abstained: bool


def content_terms(text: str) -> list[str]:
    """Lower-cased content words with a light plural fold (filters -> filter)."""
    terms = []
    for word in _WORD_RE.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        terms.append(word)
    return terms


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if len(s.strip()) > 2]


def answer_extractively(
    question: str,
    passages: list[PromptPassage],
    min_coverage: float = 0.5,
    max_sentences: int = 3,
) -> ExtractiveAnswer:
    """Compose an answer from the best-matching sentences, each cited as [n].

    Coverage is the IDF-weighted share of the question's content words found in a
    sentence, its section title or its product name; passages earlier in the list
    (better retrieved) win ties.
    """
    q_terms = set(content_terms(question))
    if not q_terms or not passages:
        return ExtractiveAnswer(ABSTAIN_TEXT, 0.0, True)
    candidates: list[tuple[float, int, int, str]] = []
    doc_freq: Counter[str] = Counter()
    sentence_terms: list[tuple[PromptPassage, str, set[str]]] = []
    for passage in passages:
        context = set(content_terms(f"{passage.product} {passage.section}"))
        for sentence in split_sentences(passage.text):
            terms = set(content_terms(sentence))
            doc_freq.update(terms & q_terms)
            sentence_terms.append((passage, sentence, terms | context))
    total = len(sentence_terms) or 1
    weight = {t: math.log(1 + total / (1 + doc_freq[t])) for t in q_terms}
    q_weight = sum(weight.values())
    for order, (passage, sentence, terms) in enumerate(sentence_terms):
        coverage = sum(weight[t] for t in q_terms & terms) / q_weight
        candidates.append((coverage, -passage.number, -order, sentence))
    candidates.sort(reverse=True)
    best = candidates[0][0]
    if best < min_coverage:
        return ExtractiveAnswer(ABSTAIN_TEXT, best, True)
    chosen = [c for c in candidates[:max_sentences] if c[0] >= 0.8 * best]
    chosen.sort(key=lambda c: (-c[1], -c[2]))  # back to reading order
    text = " ".join(f"{_finish(c[3])} [{-c[1]}]" for c in chosen)
    return ExtractiveAnswer(text, best, False)


def _finish(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return sentence if sentence[-1:] in ".!?:" else sentence + "."
