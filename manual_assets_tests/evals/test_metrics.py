from evals.golden import GoldenQuestion
from evals.metrics import Located, answer_contains, citation_precision, first_match_rank
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


def _result(answerable, rank, abstained, contains=True):
    return QuestionResult("x", answerable, rank, rank, abstained, 1.0, contains, "", [], 1.0)


def test_aggregate_scores():
    scores = aggregate(
        [_result(True, 1, False), _result(True, 4, False, False), _result(False, None, True)]
    )
    assert scores["hit_at_1"] == 0.5
    assert scores["hit_at_5"] == 1.0
    assert scores["mrr"] == round((1 + 1 / 4) / 2, 4)
    assert scores["answer_containment"] == 0.5
    assert scores["abstention_accuracy"] == 1.0
