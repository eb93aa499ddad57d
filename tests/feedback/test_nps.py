"""NPS maths: pure, no database."""

import math

import pytest

from feedback.nps import (
    MIN_RESPONSES,
    is_detractor,
    nps_from_counts,
    nps_from_scores,
    nps_group,
    relative_difference,
)


@pytest.mark.parametrize(
    ("score", "group"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_it_puts_each_score_in_its_group(score, group):
    assert nps_group(score) == group
    assert is_detractor(score) is (group == "detractor")


@pytest.mark.parametrize("score", [-1, 11])
def test_it_refuses_scores_outside_0_to_10(score):
    with pytest.raises(ValueError, match="0-10"):
        nps_group(score)


def test_nps_is_the_share_of_promoters_minus_the_share_of_detractors():
    result = nps_from_counts(50, 30, 20)
    assert result.n == 100
    assert result.score == pytest.approx(30.0)
    assert result.promoter_share == 0.5 and result.detractor_share == 0.2


def test_the_interval_is_the_normal_approximation_of_the_multinomial_difference():
    result = nps_from_counts(50, 30, 20)
    p, d, n = 0.5, 0.2, 100
    se = math.sqrt((p + d - (p - d) ** 2) / n)
    assert result.margin == pytest.approx(100 * 1.959964 * se, rel=1e-5)
    assert result.low == pytest.approx(30 - result.margin)
    assert result.high == pytest.approx(30 + result.margin)
    wider = nps_from_counts(50, 30, 20, confidence=0.99)
    assert wider.margin > result.margin


def test_the_interval_shrinks_with_more_answers_and_stays_within_minus_100_to_100():
    small, large = nps_from_counts(5, 3, 2), nps_from_counts(500, 300, 200)
    assert small.score == pytest.approx(large.score)
    assert large.margin == pytest.approx(small.margin / 10)
    lopsided = nps_from_counts(28, 1, 1)
    assert lopsided.high <= 100 and lopsided.low >= -100


def test_it_says_when_there_are_too_few_answers():
    assert not nps_from_counts(10, 5, 5).enough
    assert "at least 30" in nps_from_counts(10, 5, 5).note
    assert nps_from_counts(MIN_RESPONSES, 0, 0).enough
    assert nps_from_counts(MIN_RESPONSES, 0, 0).note == ""
    empty = nps_from_counts(0, 0, 0)
    assert empty.score is None and empty.low is None and empty.promoter_share is None
    assert empty.note == "No answers yet."


def test_all_promoters_is_100_with_no_spread():
    result = nps_from_scores([10] * 40)
    assert result.score == 100 and result.margin == 0


def test_it_counts_scores_into_groups():
    result = nps_from_scores([0, 6, 7, 8, 9, 10, 10])
    assert (result.promoters, result.passives, result.detractors) == (3, 2, 2)
    assert result.score == pytest.approx(100 * (3 - 2) / 7)


def test_it_refuses_negative_counts_and_odd_confidence():
    with pytest.raises(ValueError, match="negative"):
        nps_from_counts(-1, 0, 0)
    with pytest.raises(ValueError, match="confidence"):
        nps_from_counts(1, 1, 1, confidence=1.5)


def test_relative_difference_reads_as_percent_higher():
    assert relative_difference(406.0, 100.0) == pytest.approx(3.06)
    assert relative_difference(None, 100.0) is None
    assert relative_difference(5.0, 0.0) is None
