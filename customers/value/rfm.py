"""RFM scores (1-5 by quintile) and the named retention segments of the R x F grid.

RFM recency is the time since the last purchase (smaller is better); it is NOT the
BG/NBD recency t_x (age at the last purchase, see ``bgnbd.py``).

Tie rule: a customer's score is 1 + floor(5 * share of customers strictly worse).
Equal values always get equal scores (a score never depends on customer ids or on the
order of the input), and a value shared by many customers gets the score of the bottom
of its block: when 70% of customers have one order, all of them score F = 1 and the
next score is F = 4. Average ranks would lift all one-time buyers to F = 2 and make
every recent one-time buyer a "potential loyalist" instead of "new"; breaking ties by
customer id would give two identical customers different scores.
docs/segments.md has the grid and what each segment means for the retention team.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Segment:
    code: int  # stored small integer, equal to customers.models.Segment
    slug: str  # stable, for URLs and the API
    label: str
    action: str  # what it means for the retention team


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        1,
        "champions",
        "Champions",
        "Bought recently and often: reward them, ask for reviews and referrals.",
    ),
    Segment(
        2,
        "loyal",
        "Loyal",
        "Buy often and fairly recently: upsell, invite to the loyalty programme.",
    ),
    Segment(
        3,
        "potential_loyalist",
        "Potential loyalist",
        "Recent, a few orders: a membership or second-category offer makes them loyal.",
    ),
    Segment(
        4,
        "new",
        "New",
        "First order just now: onboard them and earn the second order.",
    ),
    Segment(
        5,
        "promising",
        "Promising",
        "One fairly recent order: a timely, personal nudge toward the second.",
    ),
    Segment(
        6,
        "need_attention",
        "Need attention",
        "Middling recency and frequency: a limited-time offer before they slip.",
    ),
    Segment(
        7,
        "about_to_sleep",
        "About to sleep",
        "One or two orders, a while ago: reconnect with something relevant now.",
    ),
    Segment(
        8,
        "at_risk",
        "At risk",
        "Bought often, not lately: win them back before they lapse.",
    ),
    Segment(
        9,
        "cant_lose",
        "Can't lose them",
        "Were among the best, gone quiet: call them, find out what went wrong.",
    ),
    Segment(
        10,
        "hibernating",
        "Hibernating",
        "Few orders, long ago: low-cost reactivation only.",
    ),
    Segment(
        11,
        "lost",
        "Lost",
        "One order, long ago: leave them out of paid campaigns.",
    ),
)

BY_SLUG: dict[str, Segment] = {s.slug: s for s in SEGMENTS}
BY_CODE: dict[int, Segment] = {s.code: s for s in SEGMENTS}

# R x F -> segment, rows R = 5 (most recent) .. 1, columns F = 1 .. 5 (CLV_NOTES.md).
GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),
}

_CODE_TABLE = np.zeros((6, 6), dtype=np.int64)  # [r, f]; row/column 0 unused
for _r, _row in GRID.items():
    for _f, _slug in enumerate(_row, start=1):
        _CODE_TABLE[_r, _f] = BY_SLUG[_slug].code


@dataclass(frozen=True)
class RFMScores:
    r: IntArray
    f: IntArray
    m: IntArray


def quintile_scores(values: ArrayLike, *, higher_is_better: bool = True) -> IntArray:
    """Scores 1..5: 1 + floor(5 * share of customers strictly worse) (see the tie rule)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError("scores need a 1-D array")
    if np.isnan(v).any():
        raise ValueError("cannot score NaN")
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if (v == np.floor(v)).all() and v.max() - v.min() < 10 * n + 1000:
        # whole numbers (days, orders): counting beats sorting, 10x at 1M customers
        code = (v - v.min()).astype(np.intp)
        counts = np.bincount(code)
    else:
        _, code, counts = np.unique(v, return_inverse=True, return_counts=True)
        code = code.ravel()
    below = np.cumsum(counts) - counts  # customers with a strictly smaller value
    above = n - np.cumsum(counts)  # ... strictly larger
    worse = (below if higher_is_better else above)[code]
    return 1 + (5 * worse.astype(np.int64)) // n


def quintile_thresholds(values: ArrayLike, *, higher_is_better: bool = True) -> list[float]:
    """Four cut points that give every value its ``quintile_scores`` score, for batches.

    A run scores a million customers in batches (maybe on several workers) but the
    quintiles are those of the whole base: ``scores_from_thresholds(v, cuts)`` equals
    ``quintile_scores(all values)`` for every v of the base. With the tie rule, score >= k
    exactly when at least m = ceil((k-1) n / 5) customers are strictly worse, that is
    when v is better than the m-th worst value: that value is the k-th cut.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return [np.inf] * 4 if higher_is_better else [-np.inf] * 4
    worst_first = np.sort(v) if higher_is_better else np.sort(v)[::-1]
    return [float(worst_first[-(-(k - 1) * n // 5) - 1]) for k in range(2, 6)]


def scores_from_thresholds(
    values: ArrayLike, thresholds: list[float], *, higher_is_better: bool = True
) -> IntArray:
    """Scores 1..5 from the cut points of ``quintile_thresholds``."""
    v = np.asarray(values, dtype=np.float64)
    cuts = np.asarray(thresholds, dtype=np.float64)
    better = v[:, None] > cuts[None, :] if higher_is_better else v[:, None] < cuts[None, :]
    return 1 + better.sum(axis=1).astype(np.int64)


@dataclass(frozen=True)
class RFMThresholds:
    """The base's cut points for R (days since last order), F (orders), M (net revenue)."""

    r: list[float]
    f: list[float]
    m: list[float]

    @classmethod
    def of(
        cls, days_since_last: ArrayLike, orders: ArrayLike, monetary: ArrayLike
    ) -> RFMThresholds:
        return cls(
            r=quintile_thresholds(days_since_last, higher_is_better=False),
            f=quintile_thresholds(orders),
            m=quintile_thresholds(monetary),
        )

    def scores(
        self, days_since_last: ArrayLike, orders: ArrayLike, monetary: ArrayLike
    ) -> RFMScores:
        return RFMScores(
            r=scores_from_thresholds(days_since_last, self.r, higher_is_better=False),
            f=scores_from_thresholds(orders, self.f),
            m=scores_from_thresholds(monetary, self.m),
        )


def rfm_scores(days_since_last: ArrayLike, orders: ArrayLike, monetary: ArrayLike) -> RFMScores:
    """R from days since the last purchase (fewer = 5), F from orders, M from net revenue."""
    return RFMScores(
        r=quintile_scores(days_since_last, higher_is_better=False),
        f=quintile_scores(orders),
        m=quintile_scores(monetary),
    )


def segment_codes(r_score: ArrayLike, f_score: ArrayLike) -> IntArray:
    """Segment code of each (R, F) pair; M does not change the segment."""
    r = np.asarray(r_score, dtype=np.int64)
    f = np.asarray(f_score, dtype=np.int64)
    if ((r < 1) | (r > 5) | (f < 1) | (f > 5)).any():
        raise ValueError("R and F scores must be 1..5")
    return _CODE_TABLE[r, f]


def segment_for(r_score: int, f_score: int) -> Segment:
    """The segment of one (R, F) cell."""
    return BY_CODE[int(segment_codes([r_score], [f_score])[0])]
