"""The confidence threshold chosen by calibration."""

from evals.calibrate import UNANSWERABLE_SHARE, _best_threshold

NONE_REFUSED = {"answerable": 0, "unanswerable": 0}


def test_the_threshold_weighs_unanswerable_questions_by_their_share():
    # Nine answerable questions answered from the right page with confidence 0.6 to 0.9, and
    # one unanswerable question with confidence 0.7: abstaining on it would cost three
    # answerable ones, which a mix with few unanswerable questions does not repay.
    probabilities = [0.6, 0.62, 0.65, 0.75, 0.8, 0.82, 0.85, 0.88, 0.9, 0.7]
    right = [True] * 9 + [False]
    answerable = [True] * 9 + [False]
    threshold, accuracy = _best_threshold(probabilities, right, answerable, NONE_REFUSED)
    assert threshold <= 0.6
    assert accuracy == round(1 - UNANSWERABLE_SHARE, 4)


def test_a_clear_gap_puts_the_threshold_between_the_two_kinds():
    probabilities = [0.8, 0.85, 0.9, 0.3, 0.35]
    right = [True, True, True, False, False]
    answerable = [True, True, True, False, False]
    threshold, accuracy = _best_threshold(probabilities, right, answerable, NONE_REFUSED)
    assert 0.35 < threshold <= 0.8
    assert accuracy == 1.0


def test_questions_refused_by_rule_count_as_abstained_at_every_threshold():
    # Two unanswerable questions: one refused by rule, one at confidence 0.7 among nine
    # answerable ones. The refused one is handled whatever the threshold.
    probabilities = [0.6, 0.62, 0.65, 0.75, 0.8, 0.82, 0.85, 0.88, 0.9, 0.7]
    right = [True] * 9 + [False]
    answerable = [True] * 9 + [False]
    refused = {"answerable": 1, "unanswerable": 1}
    threshold, accuracy = _best_threshold(probabilities, right, answerable, refused)
    assert threshold <= 0.6
    # 9 of 10 answerable answered right; 1 of 2 unanswerable abstained.
    expected = (1 - UNANSWERABLE_SHARE) * 0.9 + UNANSWERABLE_SHARE * 0.5
    assert accuracy == round(expected, 4)
