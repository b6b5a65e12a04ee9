"""Which manuals a question is about, from the product names and model numbers it uses.

Every manual has a profile (`manualqa.documents.ManualProfile`): vendor, product, title,
aliases from the manifest, and the model numbers its text mentions most. The directory
turns them into names, each naming a set of manuals: `ESP32-POE-ISO` (in the ESP32-POE
manual's text, rarely elsewhere) names that manual, `PiKVM V4` names the V4 guide, `PiKVM`
alone names both PiKVM guides, `Olimex` every Olimex manual.

A question is scoped to the manuals named by its most specific mentions: a mention inside
a longer one is ignored, and a mention naming a superset of what another mention names
adds nothing. Plain dictionary-like words (`Clouds`, `Plus`) count only when the
question capitalises them; names with digits or inner capitals (`AC-200`, `PineTime`)
count in any case.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from manualqa.documents import ManualProfile

MODEL_NUMBER_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*\d[A-Za-z0-9]*(?:[-/][A-Za-z0-9]+)*\b")
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*")
_PARENTHESES_RE = re.compile(r"\([^)]*\)")
MAX_NGRAM = 3
# Text mentions: a model number names a manual when it occurs there at least this often,
# and this many times more often than in any other manual.
MIN_MENTIONS = 2
MENTION_DOMINANCE = 3.0
MIN_STEM = 4  # a text mention must extend one of the manual's own names this long (ESP32-POE-ISO)
# Words in product names that describe a kind of thing rather than name one.
GENERIC_WORDS = frozenset(
    """a an and or the of for with by to in on over
    user users owner owners operator operators service quick start quickstart getting started
    guide manual manuals handbook reference instructions documentation edition version rev
    board development module kit device unit system product series model models
    pre assembled""".split()
)


def compact(text: str) -> str:
    """Lower-case letters and digits only: `ESP32-PoE ISO` -> `esp32poeiso`."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _is_case_free(word: str) -> bool:
    """Names with digits, inner capitals or all capitals match in any case."""
    return (
        any(ch.isdigit() for ch in word)
        or any(ch.isupper() for ch in word[1:])
        or (len(word) >= 2 and word.isupper())
    )


@dataclass(frozen=True)
class _Name:
    compacted: str
    case_free: bool  # False: the question must capitalise it as a name


@dataclass(frozen=True)
class Mention:
    text: str
    manuals: frozenset[str]


def _phrases(text: str) -> list[tuple[str, bool]]:
    """Names in a product name or title: its word n-grams without generic words at either
    end, the hyphen prefixes of model numbers (`ESP32` of `ESP32-POE`), and the model
    numbers in a parenthesis (a description: its other words, even `PoE`, name nothing)."""
    words = _WORD_RE.findall(_PARENTHESES_RE.sub(" ", text))
    out = []
    for n in range(1, MAX_NGRAM + 1):
        for start in range(len(words) - n + 1):
            gram = words[start : start + n]
            if gram[0].lower() in GENERIC_WORDS or gram[-1].lower() in GENERIC_WORDS:
                continue
            if n == 1 and len(gram[0]) < 2:
                continue
            out.append((" ".join(gram), any(_is_case_free(w) for w in gram)))
    described = _WORD_RE.findall(" ".join(_PARENTHESES_RE.findall(text)))
    out += [(w, True) for w in described if any(ch.isdigit() for ch in w)]
    for word in words + described:
        parts = word.split("-")
        for end in range(1, len(parts)):
            prefix = "-".join(parts[:end])
            if len(compact(prefix)) >= MIN_STEM and any(ch.isdigit() for ch in prefix):
                out.append((prefix, True))
    return out


class ProductDirectory:
    """Product names -> manuals, for scoping questions and naming products in answers."""

    def __init__(self, profiles: Iterable[ManualProfile]) -> None:
        self.profiles = {p.key: p for p in profiles}
        names: dict[_Name, set[str]] = defaultdict(set)
        for p in self.profiles.values():
            for text in (p.product, p.title, *p.aliases):
                for phrase, case_free in _phrases(text):
                    names[_Name(compact(phrase), case_free)].add(p.key)
            names[_Name(compact(p.vendor), _is_case_free(p.vendor))].add(p.key)
        stems: dict[str, set[str]] = defaultdict(set)  # manual -> its case-free name stems
        for name, keys in names.items():
            if name.case_free and len(name.compacted) >= MIN_STEM:
                for key in keys:
                    stems[key].add(name.compacted)
        for key, token in self._dominant_mentions():
            token = compact(token)
            if any(token.startswith(stem) for stem in stems[key]):
                names[_Name(token, True)].add(key)
        names.pop(_Name("", True), None)
        names.pop(_Name("", False), None)
        self._names = {name: frozenset(keys) for name, keys in names.items()}
        self._by_compact: dict[str, list[_Name]] = defaultdict(list)
        for name in self._names:
            self._by_compact[name.compacted].append(name)

    def _dominant_mentions(self) -> list[tuple[str, str]]:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        spelling: dict[str, str] = {}
        for p in self.profiles.values():
            for token, count in p.model_mentions.items():
                counts[compact(token)][p.key] = count
                spelling.setdefault(compact(token), token)
        out = []
        for token, per_manual in counts.items():
            ranked = sorted(per_manual.items(), key=lambda kv: -kv[1])
            key, top = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0
            if top >= MIN_MENTIONS and top >= MENTION_DOMINANCE * runner_up:
                out.append((key, spelling[token]))
        return out

    def mentions(self, question: str) -> list[Mention]:
        """The product names in `question`, longest first where they overlap."""
        words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(question)]
        found: list[tuple[int, int, str, frozenset[str]]] = []
        for n in range(MAX_NGRAM, 0, -1):
            for start in range(len(words) - n + 1):
                gram = words[start : start + n]
                text = " ".join(w for w, _, _ in gram)
                lo, hi = gram[0][1], gram[-1][2]
                if any(lo < f_hi and f_lo < hi for f_lo, f_hi, _, _ in found):
                    continue
                manuals = self._lookup(text, [w for w, _, _ in gram])
                if manuals:
                    found.append((lo, hi, question[lo:hi], manuals))
        for word, start, _ in words:  # a name inside a compound: ACME-AC300, PoE-ESP32-ISO
            if "-" not in word or any(lo <= start < hi for lo, hi, _, _ in found):
                continue
            segments = word.split("-")
            for first in range(len(segments)):
                for last in range(len(segments), first, -1):
                    part = "-".join(segments[first:last])
                    manuals = self._lookup(part, [part])
                    if part != word and manuals and _is_case_free(part):
                        offset = start + len("-".join(segments[:first])) + (1 if first else 0)
                        found.append((offset, offset + len(part), part, manuals))
                        break
        return [Mention(text, manuals) for _, _, text, manuals in sorted(found)]

    def _lookup(self, text: str, words: Sequence[str]) -> frozenset[str]:
        keys: set[str] = set()
        capitalised = all(w[:1].isupper() or w[:1].isdigit() for w in words)
        for name in self._by_compact.get(compact(text), ()):
            if name.case_free or capitalised:
                keys |= self._names[name]
        return frozenset(keys)

    def scope(self, question: str) -> tuple[str, ...]:
        """The manuals the question names (sorted); empty when it names no product."""
        sets = {m.manuals for m in self.mentions(question)}
        specific = [s for s in sets if not any(other < s for other in sets)]
        return tuple(sorted(frozenset().union(*specific))) if specific else ()

    def display_name(self, key: str) -> str:
        """A short product name for answers: the product before any parenthesis or comma."""
        profile = self.profiles.get(key)
        if profile is None:
            return key
        name = re.split(r"[(,]", profile.product, maxsplit=1)[0].strip() or profile.title
        vendor = profile.vendor.split()[0] if profile.vendor else ""
        if vendor and compact(vendor) not in compact(name) and vendor.lower() != "unknown":
            name = f"{vendor} {name}"
        return name


def model_mentions(text: str, limit: int = 20) -> dict[str, int]:
    """The model numbers a manual's text mentions most, with their counts."""
    counts: dict[str, int] = defaultdict(int)
    spelling: dict[str, str] = {}
    for match in MODEL_NUMBER_RE.finditer(text):
        token = match.group()
        if not any(ch.isalpha() for ch in token) or len(compact(token)) < 3:
            continue
        counts[compact(token)] += 1
        spelling.setdefault(compact(token), token)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {spelling[token]: count for token, count in ranked}
