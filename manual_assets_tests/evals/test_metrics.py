from evals.golden import GoldenQuestion
from evals.metrics import (
    Located,
    answer_contains,
    citation_precision,
    citation_recall,
    first_match_rank,
)
from evals.runner import QuestionResult, aggregate

Q = GoldenQuestion("q", "?", "m1", (5,), "", ("every 6 months",), True, "test")


def test_rank_needs_the_right_manual_and_a_page_range_covering_the_answer():
    ranked = [Located("m2", 5, 5), Located("m1", 3, 4), Located("m1", 4, 5)]
    assert first_match_rank(Q, ranked) == 3
    assert first_match_rank(Q, ranked, page_level=False) == 2
    assert first_match_rank(Q, ranked[:2]) is None


def test_citation_precision_and_containment():
    assert citation_precision(Q, [Located("m1", 5, 5), Located("m2", 5, 5)]) == 0.5
    assert citation_precision(Q, []) is None
    assert answer_contains(Q, "Replace it  EVERY 6\nmonths [1]")
    assert not answer_contains(Q, "every six months")


def _result(answerable, rank, abstained, contains=True, right=True, lookalike=False):
    return QuestionResult(
        id="x",
        split="test",
        answerable=answerable,
        lookalike=lookalike,
        rank=rank,
        manual_rank=rank,
        abstained=abstained,
        answered_correctly=answerable and right and not abstained,
        citation_precision=(1.0 if right else 0.0) if answerable and not abstained else None,
        citation_recall=(1.0 if right else 0.0) if answerable else None,
        only_right_manual=right if answerable else None,
        contains_answer=contains if answerable else None,
        confidence=0.5,
        answer="",
        cited=[],
        top_manuals=[],
        latency_ms=1.0,
    )


def test_citation_recall_counts_the_expected_pages_cited():
    two_pages = GoldenQuestion("q", "?", "m1", (5, 7), "", (), True, "test")
    assert citation_recall(two_pages, [Located("m1", 4, 5)]) == 0.5
    assert citation_recall(two_pages, [Located("m1", 5, 5), Located("m1", 7, 7)]) == 1.0
    assert citation_recall(two_pages, [Located("m2", 5, 7)]) == 0.0


def test_aggregate_scores():
    scores = aggregate(
        [
            _result(True, 1, False, lookalike=True),
            _result(True, 4, False, False, right=False, lookalike=True),
            _result(True, 2, True),
            _result(False, None, True),
            _result(False, None, False),
        ]
    )
    assert scores["hit_at_1"] == round(1 / 3, 4)
    assert scores["hit_at_5"] == 1.0
    assert scores["mrr"] == round((1 + 1 / 4 + 1 / 2) / 3, 4)
    assert scores["answered_correctly"] == round(1 / 3, 4)
    assert scores["false_abstention_rate"] == round(1 / 3, 4)
    assert scores["citation_precision"] == 0.5  # over the two answers that cite
    assert scores["answer_containment"] == round(2 / 3, 4)
    assert scores["lookalike_accuracy"] == 0.5
    assert scores["abstention_accuracy"] == 0.5
