"""Fit the answer engine's weights and thresholds on the development questions only.

The procedure (`manualqa evals calibrate`), re-runnable whenever the manuals, the model or
the golden sets change:

1. Each dev question is retrieved and its units scored as the API would.
   A unit is *right* when its passage is on the expected manual and page and it holds
   one of the expected answer strings (or, without those, when the passage is right).
2. The unit ranker is a conditional logit over the evidence features
   (`evidence.FEATURES`): per question, a softmax over its units that puts the right
   ones first.
3. With that ranker, each question's best unit is scored; the confidence model is a
   logistic regression of "the best unit's passage is on the expected manual and page"
   (never, for an unanswerable question) over `evidence.CONFIDENCE_FEATURES`. Questions
   the engine refuses at any confidence (`Evidence.cannot_answer`: a figure, model number
   or name the passages lack) are left out of the fit and counted as abstained.
4. `min_confidence` is the threshold with the best expected accuracy on the dev questions
   over a question mix in which a share `UNANSWERABLE_SHARE` is unanswerable: that share
   times the share of unanswerable ones abstained, plus the rest times the share of
   answerable ones answered from the right page. (Weighing both kinds equally, whatever
   their number, let a few confidently worded unanswerable questions push the threshold
   up until a third of the answerable ones were refused.)
5. `companion_margin` is the smallest score gap (`MARGIN_GRID`) at which quoting the best
   unit's companion (`evidence.companion`: the next unit from the same place) makes the
   most dev answers hold their expected answer string.
6. The verifier's thresholds separate supported from unsupported sentences: a sentence
   made of the question and its expected answer, against the right passage (supported)
   and against retrieved passages off the expected pages that do not hold the answer
   (unsupported).

The result is the `answer:` block of config.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from evals.golden import GoldenQuestion
from evals.metrics import Located, is_match, normalise
from evals.runner import view_for
from manualqa.answer import AnswerEngine
from manualqa.answer.engine import Weighed, passage_infos
from manualqa.answer.evidence import CONFIDENCE_FEATURES, FEATURES, LinearModel, companion
from manualqa.answer.verify import Support, measure

REGULARISATION = 1.0  # sklearn's C, for the confidence model
UNANSWERABLE_SHARE = 0.15  # of the questions owners ask, the share no manual answers
L2_PENALTY = 0.1  # for the ranker
WEIGHT_SCALE = 4.0  # ranker weights are scaled to this L1 norm (the margin is in these units)
MARGIN_GRID = tuple(round(0.05 * i, 2) for i in range(21))  # 0.00 .. 1.00
TERM_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))  # 0.30 .. 0.90
COSINE_GRID = tuple(round(0.2 + 0.05 * i, 2) for i in range(14))  # 0.20 .. 0.85


@dataclass
class Collected:
    """What the dev questions of one golden set showed the engine."""

    questions: list[GoldenQuestion] = field(default_factory=list)
    weighed: list[Weighed] = field(default_factory=list)
    labels: list[list[bool]] = field(default_factory=list)  # per question, per unit


@dataclass(frozen=True)
class Calibration:
    ranker_weights: dict[str, float]
    confidence_weights: dict[str, float]
    min_confidence: float
    companion_margin: float
    min_term_support: float
    min_cosine: float
    report: dict[str, Any]

    def config_block(self) -> str:
        """The `answer:` block of config.yaml these values make."""
        lines = [
            "answer:                  # fitted by `manualqa evals calibrate` on the dev questions",
            f"  min_confidence: {self.min_confidence}",
            f"  companion_margin: {self.companion_margin}",
            "  ranker_weights:",
            *(f"    {k}: {v}" for k, v in self.ranker_weights.items()),
            "  confidence_weights:",
            *(f"    {k}: {v}" for k, v in self.confidence_weights.items()),
            "  verify:",
            f"    min_term_support: {self.min_term_support}",
            f"    min_cosine: {self.min_cosine}",
        ]
        return "\n".join(lines) + "\n"


def _right_unit(q: GoldenQuestion, weighed: Weighed, index: int) -> bool:
    unit = weighed.units[index]
    hit = weighed.retrieved.hits[unit.passage]
    if not q.answerable or not is_match(q, Located(hit.manual_key, hit.page, hit.page_end)):
        return False
    if not q.answer_contains:
        return True
    shown = normalise(unit.shown)
    return any(normalise(s) in shown for s in q.answer_contains)


def _right_page(q: GoldenQuestion, weighed: Weighed, index: int) -> bool:
    """Citing this unit's passage would answer correctly (right manual and page)."""
    hit = weighed.retrieved.hits[weighed.units[index].passage]
    return q.answerable and is_match(q, Located(hit.manual_key, hit.page, hit.page_end))


def collect(engine: AnswerEngine, questions: Sequence[GoldenQuestion]) -> Collected:
    """Retrieve and weigh every dev question once."""
    out = Collected()
    for q in questions:
        if q.split != "dev":
            continue
        weighed = engine.weigh(engine.retrieve(q.question, view_for(q)))
        out.questions.append(q)
        out.weighed.append(weighed)
        out.labels.append([_right_unit(q, weighed, i) for i in range(len(weighed.units))])
    return out


def _unit_features(weighed: Weighed) -> list[dict[str, float]]:
    """Each unit's features, in unit order (the candidates are sorted by score)."""
    by_unit = {id(c.unit): c.features for c in weighed.evidence.candidates}
    return [by_unit[id(u)] for u in weighed.units]


def fit_ranker(collected: Sequence[Collected]) -> dict[str, float]:
    """Conditional logit: per question, a softmax over its units, fitted to put the right
    units first (maximum likelihood with an L2 penalty)."""
    groups = []
    for part in collected:
        for weighed, unit_labels in zip(part.weighed, part.labels, strict=True):
            if any(unit_labels) and not all(unit_labels):
                x = np.asarray([[f[n] for n in FEATURES] for f in _unit_features(weighed)])
                groups.append((x, np.asarray(unit_labels, dtype=bool)))
    if not groups:
        raise ValueError("the dev questions give no right units to fit the ranker on")

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, right in groups:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            q = p * right / p[right].sum()  # the posterior over the right units
            total -= math.log(p[right].sum())
            grad -= x.T @ (q - p)
        total += 0.5 * L2_PENALTY * float(w @ w)
        return total, grad + L2_PENALTY * w

    fitted = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B")
    scale = WEIGHT_SCALE / max(float(np.abs(fitted.x).sum()), 1e-9)
    return {name: round(float(w) * scale, 4) for name, w in zip(FEATURES, fitted.x, strict=True)}


def rescore(
    engine: AnswerEngine, collected: Sequence[Collected], ranker_weights: dict[str, float]
) -> list[Collected]:
    """The dev questions with their units scored again by the fitted ranker."""
    ranker = LinearModel(ranker_weights, FEATURES)
    return [
        Collected(part.questions, [engine.reweigh(w, ranker) for w in part.weighed], part.labels)
        for part in collected
    ]


def fit_confidence(
    rescored: Sequence[Collected],
) -> tuple[dict[str, float], float, dict[str, Any]]:
    """Step 3, over the questions as `rescore` scored them."""
    rows, labels, answerable = [], [], []
    refused = {"answerable": 0, "unanswerable": 0}
    for part in rescored:
        for q, weighed in zip(part.questions, part.weighed, strict=True):
            if weighed.evidence.cannot_answer:
                # Abstained at any threshold (no unit, or a figure, model or name the
                # passages lack): the confidence only decides the others.
                refused["answerable" if q.answerable else "unanswerable"] += 1
                continue
            best = weighed.evidence.candidates[0]
            index = next(i for i, u in enumerate(weighed.units) if u is best.unit)
            summary = weighed.evidence.confidence_features
            rows.append([summary[name] for name in CONFIDENCE_FEATURES])
            labels.append(_right_page(q, weighed, index))
            answerable.append(q.answerable)
    x, y = np.asarray(rows), np.asarray(labels)
    if len(set(labels)) < 2:
        raise ValueError("the dev questions give one outcome only: cannot fit a confidence")
    model = LogisticRegression(C=REGULARISATION, max_iter=2000)
    model.fit(x, y)
    weights = {"bias": round(float(model.intercept_[0]), 4)}
    weights |= {
        n: round(float(w), 4) for n, w in zip(CONFIDENCE_FEATURES, model.coef_[0], strict=True)
    }
    confidence = LinearModel(weights, CONFIDENCE_FEATURES)
    probabilities = [
        confidence.logistic(dict(zip(CONFIDENCE_FEATURES, row, strict=True))) for row in rows
    ]
    threshold, handled = _best_threshold(probabilities, labels, answerable, refused)
    report = {
        "dev_questions": len(rows) + sum(refused.values()),
        "dev_refused_by_rule": refused,
        "dev_best_unit_on_right_page": int(sum(labels)),
        "dev_expected_accuracy": handled,
    }
    return weights, threshold, report


def _best_threshold(
    probabilities: Sequence[float],
    right: Sequence[bool],
    answerable: Sequence[bool],
    refused: Mapping[str, int],
) -> tuple[float, float]:
    """The threshold with the best expected accuracy (see step 4), and that accuracy: the
    middle of the best plateau. `refused` counts the questions abstained at any threshold."""
    n_answerable = max(sum(answerable) + refused["answerable"], 1)
    n_unanswerable = max(len(answerable) - sum(answerable) + refused["unanswerable"], 1)
    candidates = sorted({round(p, 4) for p in probabilities} | {0.0, 1.0})
    scored = []
    for tau in candidates:
        answered_right = sum(p >= tau and r for p, r in zip(probabilities, right, strict=True))
        abstained = refused["unanswerable"]
        abstained += sum(p < tau and not a for p, a in zip(probabilities, answerable, strict=True))
        accuracy = (1 - UNANSWERABLE_SHARE) * answered_right / n_answerable
        accuracy += UNANSWERABLE_SHARE * abstained / n_unanswerable
        scored.append((accuracy, tau))
    best = max(h for h, _ in scored)
    plateau = [tau for h, tau in scored if h >= best - 1e-9]
    middle = (plateau[0] + plateau[-1]) / 2 if len(plateau) > 1 else plateau[0]
    return round(middle, 4), round(best, 4)


def fit_companion_margin(rescored: Sequence[Collected]) -> tuple[float, dict[str, float]]:
    """The smallest margin at which the best unit and its companion hold the expected
    answer string for the most dev questions (step 5), as `rescore` scored them."""
    cases = []
    for part in rescored:
        for q, weighed in zip(part.questions, part.weighed, strict=True):
            candidates = weighed.evidence.candidates
            if q.answerable and q.answer_contains and candidates:
                cases.append((q, candidates, passage_infos(weighed.retrieved.hits)))
    if not cases:
        raise ValueError("no dev question with an expected answer string to fit on")

    def holds(margin: float) -> int:
        held = 0
        for q, candidates, infos in cases:
            best = candidates[0]
            beside = companion(q.question, candidates, best, infos, margin)
            shown = normalise(" ".join(c.unit.shown for c in (best, beside) if c is not None))
            held += any(normalise(s) in shown for s in q.answer_contains)
        return held

    counts = {margin: holds(margin) for margin in MARGIN_GRID}
    margin = min(m for m, n in counts.items() if n == max(counts.values()))
    return margin, {
        "dev_answers_holding_the_expected_string_alone": round(counts[0.0] / len(cases), 4),
        "dev_answers_holding_it_with_companions": round(counts[margin] / len(cases), 4),
    }


def verifier_samples(
    engine: AnswerEngine, collected: Sequence[Collected]
) -> tuple[list[Support], list[Support]]:
    """Supported and unsupported (sentence, passage) pairs from the dev questions."""
    supported: list[Support] = []
    unsupported: list[Support] = []
    for part in collected:
        for q, weighed in zip(part.questions, part.weighed, strict=True):
            if not q.answerable or not q.answer_contains:
                continue
            sentence = f"{q.question.rstrip('?')}: {', '.join(q.answer_contains)}."
            vector = engine.llm.embed([sentence])[0]
            for p, hit in enumerate(weighed.retrieved.hits):
                passage = weighed.support_passage(p)
                located = Located(hit.manual_key, hit.page, hit.page_end)
                holds = any(normalise(s) in normalise(hit.text) for s in q.answer_contains)
                if is_match(q, located) and holds:
                    supported.append(measure(sentence, [passage], vector))
                elif not holds and not is_match(q, located):
                    unsupported.append(measure(sentence, [passage], vector))
    return supported, unsupported


def fit_verifier(
    supported: Sequence[Support], unsupported: Sequence[Support]
) -> tuple[float, float, dict[str, float]]:
    """Thresholds maximising balanced accuracy (ties: the laxer pair)."""
    if not supported or not unsupported:
        raise ValueError("no verifier samples: the dev questions need expected answer strings")

    def passes(s: Support, term: float, cosine: float) -> bool:
        return (
            s.numbers_found and s.negation_agrees and s.term_support >= term and s.cosine >= cosine
        )

    best: tuple[float, float, float] | None = None
    for term in TERM_GRID:
        for cosine in COSINE_GRID:
            kept = sum(passes(s, term, cosine) for s in supported) / len(supported)
            rejected = sum(not passes(s, term, cosine) for s in unsupported) / len(unsupported)
            accuracy = (kept + rejected) / 2
            if best is None or accuracy > best[0] + 1e-9:
                best = (accuracy, term, cosine)
    assert best is not None
    accuracy, term, cosine = best
    kept = sum(passes(s, term, cosine) for s in supported) / len(supported)
    rejected = sum(not passes(s, term, cosine) for s in unsupported) / len(unsupported)
    return (
        term,
        cosine,
        {
            "verifier_supported_kept": round(kept, 4),
            "verifier_unsupported_rejected": round(rejected, 4),
            "verifier_pairs": float(len(supported) + len(unsupported)),
        },
    )


def calibrate(
    engines_and_sets: Sequence[tuple[AnswerEngine, Sequence[GoldenQuestion]]],
) -> Calibration:
    """Fit everything on the dev questions of each (engine, golden set) pair."""
    collected = [collect(engine, questions) for engine, questions in engines_and_sets]
    engine = engines_and_sets[0][0]
    ranker_weights = fit_ranker(collected)
    rescored = rescore(engine, collected, ranker_weights)
    confidence_weights, threshold, report = fit_confidence(rescored)
    margin, companion_report = fit_companion_margin(rescored)
    report |= companion_report
    supported, unsupported = [], []
    for (each, _), part in zip(engines_and_sets, collected, strict=True):
        s, u = verifier_samples(each, [part])
        supported += s
        unsupported += u
    term, cosine, verifier_report = fit_verifier(supported, unsupported)
    report |= verifier_report
    if not math.isfinite(threshold):
        raise ValueError("calibration produced no finite confidence threshold")
    return Calibration(ranker_weights, confidence_weights, threshold, margin, term, cosine, report)
