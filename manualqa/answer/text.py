"""Words, numbers and what a question asks for: the text features answers are scored on."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

_WORD_RE = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
_CODE_RE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
)
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|cannot|can't|don't|doesn't|isn't|aren't|won't|mustn't|without)\b",
    re.IGNORECASE,
)
# Function words: they carry no topic, whatever the question.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    do does did doing have has had i you your my me we our us it its this that these those there
    what which who whom whose how when where why can could should would will shall may might must
    not no yes so than then too very just about into over under after before again any all each
    few more most other some such only own same both up down out off once here s t am
    get gets got use using used need needs tell please know want he him his himself she her
    hers herself they them their theirs themselves yours yourself yourselves ours ourselves
    myself itself""".split()
)
QUANTITY_WORDS = frozenset(
    """much many long often far big large small high low hot cold heavy fast slow wide deep tall
    old loud bright strong thick warm cool quickly frequently""".split()
)
# Physical quantities a question may name, and the units that measure them.
MEASURES: dict[str, tuple[str, ...]] = {
    "time": (
        "s",
        "sec",
        "second",
        "min",
        "minute",
        "h",
        "hr",
        "hour",
        "day",
        "week",
        "month",
        "year",
        "ms",
        "us",
    ),
    "voltage": ("v", "vdc", "vac", "kv", "mv", "volt"),
    "current": ("a", "ma", "amp", "ampere"),
    "power": ("w", "kw", "mw", "watt", "va"),
    "temperature": ("c", "f", "degree", "°c", "°f"),
    "length": ("mm", "cm", "m", "km", "in", "inch", "ft", "foot", "feet"),
    "area": ("mm²", "cm²", "m²", "ft²", "mm2", "cm2", "m2", "ft2", "sqm", "sqft"),
    "mass": ("g", "kg", "lb", "lbs", "oz", "gram", "kilogram", "pound", "ounce"),
    "volume": ("l", "ml", "liter", "litre", "gallon", "m³", "m3"),
    "flow": ("ml/min", "l/min", "ml/h", "l/h", "m³/h", "m3/h", "cfm", "gpm", "lpm"),
    "pressure": ("pa", "kpa", "mpa", "hpa", "bar", "mbar", "psi"),
    "frequency": ("hz", "khz", "mhz", "ghz"),
    "speed": ("mm/s", "cm/s", "m/s", "km/h", "kph", "mph", "ft/s"),
    "rotation": ("rpm",),
    "data": ("b", "kb", "mb", "gb", "tb", "byte", "bit", "kbps", "mbps", "baud"),
    "sound": ("db", "dba"),
    "charge": ("mah", "ah", "wh"),
    "ratio": ("%", "percent"),
}
_KINDS_OF_UNIT: dict[str, frozenset[str]] = {
    unit: frozenset(kind for kind, units in MEASURES.items() if unit in units)
    for unit in {u for units in MEASURES.values() for u in units}
}
MEASURE_CUES: dict[str, tuple[str, ...]] = {
    "time": (
        "often",
        "long",
        "time",
        "interval",
        "duration",
        "minutes",
        "hours",
        "days",
        "months",
        "years",
        "frequency of",
    ),
    "voltage": ("voltage", "volts", "volt"),
    "current": ("current", "amps", "amperage"),
    "power": ("power", "watts", "wattage", "consumption"),
    "temperature": ("temperature", "hot", "cold", "warm", "degrees"),
    "length": (
        "length",
        "long",
        "wide",
        "width",
        "height",
        "tall",
        "deep",
        "depth",
        "far",
        "distance",
        "size",
        "big",
        "how large",
        "how small",
        "dimensions",
        "thick",
        "diameter",
    ),
    "area": ("area", "square", "big", "how large", "size", "coverage"),
    "mass": ("weight", "weigh", "heavy", "mass"),
    "volume": (
        "volume",
        "capacity",
        "litres",
        "liters",
        "how much water",
        "how much liquid",
        "how much fluid",
        "how much oil",
        "how much fuel",
    ),
    "flow": ("flow", "airflow", "cadr", "throughput"),
    "pressure": ("pressure", "suction", "psi"),
    "frequency": ("frequency", "clock", "hz", "mhz"),
    "data": ("memory", "storage", "ram", "flash", "baud", "speed"),
    "speed": ("speed", "fast", "velocity"),
    "rotation": ("rpm", "revolutions", "speed", "spin", "spins", "rotate", "rotates"),
    "sound": ("loud", "quiet", "noise", "noisy", "db"),
    "charge": ("battery", "capacity", "mah"),
    "ratio": ("percent", "percentage", "humidity"),
}
# "(50 x 62)mm": a unit may follow the bracket closing a group of figures. A unit may be
# squared or cubed ("m²", "m3/h") and per a unit of time ("ml/min").
_UNIT = r"[a-zµ]+(?:[²³]|(?<![a-z]{3})[23](?!\w|[.,]\d))?(?:/[a-z]+)?"
_ANY_UNIT = rf"(°[cf]|%|{_UNIT})"  # a unit word, degrees or a percent sign, captured
_UNIT_AFTER_NUMBER_RE = re.compile(rf"\d(?:[.,]\d+)?\)?\s?{_ANY_UNIT}", re.IGNORECASE)
# A table cell read with its column's name, the unit in the name: "Noise (dB(A)): 41",
# "Airflow (m³/h): 140".
_UNIT_IN_LABEL_RE = re.compile(rf"\({_ANY_UNIT}(?:\([a-z]\))?\):\s?[-+]?\d", re.IGNORECASE)
_PROCEDURE_RE = re.compile(
    r"^(?:how (?:do|can|should|would|must) (?:i|you|we|one)\b|how to\b|what (?:are the )?steps\b"
    r"|what should i do\b|what do i do\b|steps to\b)",
    re.IGNORECASE,
)
_YES_NO_RE = re.compile(
    r"^(?:is|are|can|could|does|do|did|should|will|may|must|has|have)\b", re.IGNORECASE
)


def fold(word: str) -> str:
    """A light plural fold (filters -> filter), enough to match a question to a manual."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# Small counts an owner writes out ("blinks three times") where a manual prints the figure.
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "two three four five six seven eight nine ten eleven twelve".split(), start=2
    )
}


def _term(word: str) -> str:
    """A lower-cased word as it is compared: plural-folded, a count written out as its
    figure ("three" -> "3")."""
    return _NUMBER_WORDS.get(word) or fold(word)


def content_terms(text: str) -> list[str]:
    """Lower-cased content words (function words dropped), read by `_term`."""
    return [_term(w) for w in _WORD_RE.findall(text.lower()) if w not in STOPWORDS]


def repeats(text: str, context: str) -> bool:
    """Whether `text` says nothing its context (section title, product, manual title) does
    not: a heading or caption repeated in the body ("Halo HS-5 Wireless Speaker User
    Guide"), which answers no question."""
    return set(content_terms(text)) <= set(content_terms(context))


# A word capitalised inside a sentence, with at least one lower-case letter: a name
# (Dolby, HomeKit, Spotify). All-capital words are left out: they are as often plain
# abbreviations (PC, OK, SSD) as names.
_NAME_RE = re.compile(r"(?<![\w'’-])([A-Z][a-z]*[A-Z]?[a-z]+[A-Za-z]*)(?![\w-])")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")


def names(question: str) -> set[str]:
    """The names a question uses inside its sentences ("Does it support Dolby Atmos?"):
    a sentence's first word is capitalised whatever it is, so it is not counted, and a
    question in title case ("How Do I Reset It?") names nothing by its capitals."""
    inside = [
        match.group(1)
        for match in _NAME_RE.finditer(question)
        if not _SENTENCE_START_RE.search(question[: match.start()])
    ]
    if any(word.lower() in STOPWORDS for word in inside):
        return set()  # "The", "My" capitalised inside a sentence: title case
    # An abbreviation's plural ("AAs", "LEDs") is no name: `acronyms` reads it.
    return {fold(word) for word in inside if len(word) >= 3 and not _PLURAL_ACRONYM_RE.match(word)}


_ACRONYM_RE = re.compile(r"(?<![\w-])([A-Z]{2,}s?)(?![\w-])")
_PLURAL_ACRONYM_RE = re.compile(r"^[A-Z]{2,}s$")


def acronyms(text: str) -> set[str]:
    """All-capital words (VOC, HDMI, LEDs), lower-cased and plural-folded as `words` reads
    them: abbreviations that name a feature or a part. Codes mixing letters and digits
    are `codes`."""
    return {
        fold(a.lower()) if a[-1].isupper() else a[:-1].lower() for a in _ACRONYM_RE.findall(text)
    }


def words(text: str) -> set[str]:
    """Every lower-cased word of `text`, plural-folded."""
    return {fold(w) for w in _WORD_RE.findall(text.lower())}


# A name and a number written apart: "Ender 5", "Raspberry Pi 5", "Forerunner 255".
_SPACED_MODEL_RE = re.compile(
    r"(?<![\w'’-])([A-Z][A-Za-z]*[a-z][A-Za-z]*) (\d{1,4}[A-Za-z]?)(?![\w-]|[.,]\d)"
)


def spaced_models(question: str) -> set[tuple[str, str]]:
    """Model numbers written as a name, a space and a number ("the Creality Ender 5"), as
    (name, model) pairs; the model is compared compacted, so `Ender 5` matches `Ender-5`."""
    return {(m.group(1), f"{m.group(1)} {m.group(2)}") for m in _SPACED_MODEL_RE.finditer(question)}


def numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER_RE.findall(text)}


# A count or a length joined to its word ("10-second", "3-pin", "2-year"): no code.
_COUNTED_RE = re.compile(r"\d+(?:[.,]\d+)?-[a-z]{3,}")


def codes(text: str) -> set[str]:
    """Tokens mixing letters and digits (E21, TP2, AC-200): each names exactly one thing."""
    found = {c.lower() for c in _CODE_RE.findall(text)}
    return {c for c in found if not _COUNTED_RE.fullmatch(c)}


# A code the product shows or reports: an error, a status, a message on its display.
_REPORTED_RE = re.compile(
    r"\b(?:shows?|showing|displays?|displaying|flash(?:es|ing)?|blink(?:s|ing)?|error|fault"
    r"|alarm|warning|mean|means|meaning|appears?|says)\b",
    re.IGNORECASE,
)


def reports_code(question: str) -> bool:
    """Whether the question presents its codes as something the product shows or reports
    ("the display shows A3", "what does error E2 mean")."""
    return _REPORTED_RE.search(question) is not None


def negated(text: str) -> bool:
    return _NEGATION_RE.search(text) is not None


# A sum of money: a currency sign or code before or after the number.
_MONEY_RE = re.compile(
    r"[$€£¥]\s?\d|\d(?:[.,]\d+)?\s?(?:usd|eur|gbp|dollars?|euros?|pounds sterling)\b",
    re.IGNORECASE,
)


# Written after a number, these are no units: "5G" and "4G" are network generations
# (a gram is a lower-case g).
_NOT_UNITS = frozenset({"G"})


def measures_in(text: str) -> set[str]:
    """The kinds of quantity a text states with a number and a unit."""
    found: set[str] = {"money"} if _MONEY_RE.search(text) else set()
    matches = [*_UNIT_AFTER_NUMBER_RE.finditer(text), *_UNIT_IN_LABEL_RE.finditer(text)]
    for match in matches:
        if match.group(1) in _NOT_UNITS:
            continue
        unit = match.group(1).lower()
        if len(unit) > 2 and "/" not in unit:
            unit = _singular(unit)  # hours -> hour
        found |= _KINDS_OF_UNIT.get(unit, frozenset())
    return found


def _singular(unit: str) -> str:
    """A unit word without its plural s: hours -> hour, but pass stays pass (not "pa")."""
    return unit[:-1] if unit.endswith("s") and not unit.endswith("ss") else unit


# Unit words too common in plain questions ("in", "us"), often met without a number
# ("once a month") or naming a thing as often as a unit ("a drill bit", "the status bar")
# to show that a figure in that unit is asked for. Compared after plurals are folded
# (hours -> hour).
_UNNAMED_UNITS = frozenset(
    "in us day week month year hour minute second foot feet degree percent bit bar".split()
)
# ... and compared as written: "amp" is an amplifier as often as an ampere, "amps" a current.
_UNNAMED_UNIT_FORMS = frozenset({"amp"})
_UNIT_WORD_RE = re.compile(r"(?<![\w.,])(?<!\d\s)([a-zµ°%]+[²³]?(?:/[a-z]+)?)(?![\w/])")


def units_named(question: str) -> set[str]:
    """The kinds of quantity whose unit the question names on its own, with no number
    ("the top speed in km/h", "how many watts"): a figure in that unit is asked for."""
    found: set[str] = set()
    for word in _UNIT_WORD_RE.findall(question.lower()):
        unit = _singular(word) if len(word) > 3 and "/" not in word else word
        if len(unit) < 2 or unit in _UNNAMED_UNITS or word in _UNNAMED_UNIT_FORMS:
            continue
        found |= _KINDS_OF_UNIT.get(unit, frozenset())
    return found


# Questions that can only be answered with a figure of one kind of quantity: how heavy,
# how hot, how loud, what it costs. Cues like "power" or "how long" also lead to answers
# in words, and sizes come in units of every trade (HP, U, inches), so they are not here.
_FIGURE_ASKED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:weigh|weighs|weight|heavy)\b"), "mass"),
    (re.compile(r"\bhow (?:hot|cold)\b"), "temperature"),
    (re.compile(r"\bhow (?:loud|noisy|quiet)\b"), "sound"),
    (re.compile(r"\b(?:cost|costs|price|prices|priced)\b"), "money"),
)


# "What is the battery capacity?", "What's the maximum print speed?", "What print speed
# does it support?": the value of a figure is asked for, in any of the kinds that measure
# it (a print head's speed in mm/s, a motor's in rpm, a bus's in MHz or Mbps).
_FIGURE_NOUNS: dict[str, frozenset[str]] = {
    "speed": frozenset({"speed", "rotation", "data", "frequency"}),
    "capacity": frozenset({"volume", "charge", "mass", "data"}),
    "voltage": frozenset({"voltage"}),
    "temperature": frozenset({"temperature"}),
    "frequency": frozenset({"frequency"}),
    "pressure": frozenset({"pressure"}),
    "wattage": frozenset({"power"}),
}
_FIGURE_NOUN_RE = re.compile(
    r"what(?:'s|’s| is| are)? (?:the |its )?(?:[a-z0-9-]+ ){0,3}"
    rf"({'|'.join(_FIGURE_NOUNS)})\b(?! (?:setting|mode|button|dial|knob)s?\b)"
)


def figures_named(question: str) -> set[str]:
    """The kinds of quantity the question names a unit of ("the top speed in km/h", "how
    many watts") or can only be answered in ("how heavy"): the answer is that figure."""
    lowered = question.lower()
    return units_named(question) | {kind for cue, kind in _FIGURE_ASKED if cue.search(lowered)}


def figures_asked(question: str) -> list[frozenset[str]]:
    """The figures the question asks for, each as the kinds of quantity any one of which
    answers it: those of `figures_named`, and the value of a figure noun ("what is the
    battery capacity": litres, mAh or Wh)."""
    groups = [frozenset({kind}) for kind in sorted(figures_named(question))]
    noun = _FIGURE_NOUN_RE.match(question.lower().strip())
    if noun:
        groups.append(_FIGURE_NOUNS[noun.group(1)])
    return groups


def measures_asked(question: str) -> set[str]:
    words = set(_WORD_RE.findall(question.lower()))
    lowered = f" {question.lower()} "
    return {
        kind
        for kind, cues in MEASURE_CUES.items()
        if any((cue in words) if " " not in cue else (f" {cue} " in lowered) for cue in cues)
    }


# "how many watering programs can it store": the words after "how many", up to a function
# word; the last is what is counted.
_HOW_MANY_RE = re.compile(r"\bhow many ((?:[a-z0-9]+[ -]?){1,3})", re.IGNORECASE)
NEAR_WORDS = 3  # a count and what it counts stand at most this many words apart


def counted(question: str) -> str | None:
    """What a "how many" question counts ("programs" in "How many watering programs can
    the IC-6 store?"), folded; None for other questions."""
    match = _HOW_MANY_RE.search(question)
    if match is None:
        return None
    head = None
    for word in _WORD_RE.findall(match.group(1).lower()):
        if word in STOPWORDS:
            break
        head = word
    return fold(head) if head else None


def counts(text: str, thing: str) -> bool:
    """Whether `text` gives a count within `NEAR_WORDS` words of `thing` ("6 zones",
    "Zones: 6", "up to six irrigation zones"): a number with no unit of measure after it
    ("0.56 A per zone" measures a current)."""
    tokens = [_term(w) for w in _WORD_RE.findall(text.lower())]
    places = [i for i, w in enumerate(tokens) if w == thing]
    numbers_at = [
        i
        for i, w in enumerate(tokens)
        if _NUMBER_RE.fullmatch(w)
        and (i + 1 == len(tokens) or tokens[i + 1] == thing or tokens[i + 1] not in _KINDS_OF_UNIT)
    ]
    return any(abs(i - j) <= NEAR_WORDS for i in places for j in numbers_at)


def asks_quantity(question: str) -> bool:
    words = question.lower().split()
    return any(
        w == "how" and i + 1 < len(words) and words[i + 1] in QUANTITY_WORDS
        for i, w in enumerate(words)
    ) or bool(measures_asked(question))


def asks_procedure(question: str) -> bool:
    return _PROCEDURE_RE.match(question.strip()) is not None


def asks_yes_no(question: str) -> bool:
    return _YES_NO_RE.match(question.strip()) is not None


class TermWeights:
    """Inverse document frequency of words over a pool of texts (the candidate units)."""

    def __init__(self, texts: Iterable[Iterable[str]]) -> None:
        pool = [set(t) for t in texts]
        self.size = len(pool)
        self.df = Counter(term for terms in pool for term in terms)

    def weight(self, term: str) -> float:
        boost = 2.0 if any(c.isdigit() for c in term) and any(c.isalpha() for c in term) else 1.0
        return boost * math.log(1 + (self.size + 1) / (1 + self.df[term]))

    def coverage(self, asked: Iterable[str], present: set[str]) -> float:
        """The weighted share of `asked` terms that are `present`."""
        asked = set(asked)
        total = sum(self.weight(t) for t in asked)
        return sum(self.weight(t) for t in asked & present) / total if total else 0.0
