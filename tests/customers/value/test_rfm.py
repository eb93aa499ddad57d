from pathlib import Path

import numpy as np
import pytest

from customers.value import (
    BY_SLUG,
    GRID,
    SEGMENTS,
    quintile_scores,
    rfm_scores,
    segment_codes,
    segment_for,
)
from customers.value.rfm import quintile_thresholds, scores_from_thresholds

SLUGS = {
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
}


def test_segments_have_stable_slugs_codes_labels_and_actions():
    assert {s.slug for s in SEGMENTS} == SLUGS
    assert sorted(s.code for s in SEGMENTS) == list(range(1, 12))
    assert BY_SLUG["cant_lose"].label == "Can't lose them"
    assert all(s.label and s.action for s in SEGMENTS)


def test_every_one_of_the_25_cells_has_a_segment_and_all_11_are_reachable():
    r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    codes = segment_codes(r.ravel(), f.ravel())

    assert (codes >= 1).all()
    assert {s.code for s in SEGMENTS} == set(codes.tolist())


def test_the_grid_is_the_one_in_the_clv_notes():
    assert [segment_for(5, f).slug for f in range(1, 6)] == [
        "new", "potential_loyalist", "potential_loyalist", "champions", "champions",
    ]  # fmt: skip
    assert segment_for(4, 1).slug == "promising"
    assert segment_for(4, 4).slug == "loyal"
    assert segment_for(3, 2).slug == "about_to_sleep"
    assert segment_for(3, 3).slug == "need_attention"
    assert segment_for(2, 2).slug == "hibernating"
    assert segment_for(2, 3).slug == "at_risk"
    assert segment_for(1, 1).slug == "lost"
    assert segment_for(1, 2).slug == "hibernating"
    assert segment_for(1, 5).slug == "cant_lose"
    assert set(GRID) == {1, 2, 3, 4, 5}


def test_scores_outside_one_to_five_are_refused():
    with pytest.raises(ValueError, match=r"1\.\.5"):
        segment_codes([0], [3])


def test_distinct_values_split_into_five_equal_quintiles():
    scores = quintile_scores(np.arange(100.0))
    assert np.bincount(scores).tolist() == [0, 20, 20, 20, 20, 20]
    assert scores[0] == 1
    assert scores[-1] == 5


def test_recency_scores_five_for_the_most_recent_buyers():
    scores = rfm_scores([0, 400, 30, 200, 90], [1, 1, 1, 1, 1], [1.0, 1, 1, 1, 1])
    assert scores.r.tolist() == [5, 1, 4, 2, 3]


def test_ties_share_the_score_of_the_bottom_of_their_block():
    orders = np.array([1] * 70 + [2] * 15 + [3] * 10 + [9] * 5)
    scores = quintile_scores(orders)

    assert set(scores[:70]) == {1}  # one-time buyers are all F = 1
    assert set(scores[70:85]) == {4}  # 70% of customers have fewer orders
    assert set(scores[85:95]) == {5}
    assert set(scores[95:]) == {5}


def test_scores_do_not_depend_on_the_order_customers_come_in():
    rng = np.random.default_rng(11)
    values = rng.integers(1, 6, 10_000).astype(float)  # heavily tied
    scores = quintile_scores(values)
    order = rng.permutation(10_000)
    np.testing.assert_array_equal(quintile_scores(values[order]), scores[order])
    for v in np.unique(values):
        assert len(set(scores[values == v])) == 1  # equal values, equal scores


def test_continuous_and_whole_number_values_score_alike():
    rng = np.random.default_rng(12)
    days = rng.integers(0, 700, 5_000).astype(float)
    np.testing.assert_array_equal(quintile_scores(days), quintile_scores(days + 0.5))


def test_it_refuses_nan_and_accepts_an_empty_base():
    with pytest.raises(ValueError, match="NaN"):
        quintile_scores([1.0, np.nan])
    assert quintile_scores([]).tolist() == []


def test_docs_describe_every_segment_as_the_code_does():
    docs = (Path(__file__).resolve().parents[3] / "docs" / "segments.md").read_text()
    for segment in SEGMENTS:
        assert f"| {segment.code} | `{segment.slug}` | {segment.label} |" in docs
        assert segment.action in docs


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("kind", ["few_values", "continuous", "mostly_one_order", "single"])
def test_cut_points_score_every_customer_as_the_whole_base_does(kind, higher_is_better):
    rng = np.random.default_rng(len(kind))
    n = 1 if kind == "single" else 997
    values = {
        "few_values": lambda: rng.integers(0, 4, n).astype(float),
        "continuous": lambda: rng.normal(size=n),
        "mostly_one_order": lambda: np.where(rng.random(n) < 0.7, 1.0, rng.integers(1, 60, n)),
        "single": lambda: np.array([3.0]),
    }[kind]()
    cuts = quintile_thresholds(values, higher_is_better=higher_is_better)

    np.testing.assert_array_equal(
        scores_from_thresholds(values, cuts, higher_is_better=higher_is_better),
        quintile_scores(values, higher_is_better=higher_is_better),
    )
