"""Net Promoter Score maths: plain numbers in, plain numbers out, no ORM.

Scores are 0-10. Promoters answer 9-10, passives 7-8, detractors 0-6; NPS is the share
of promoters minus the share of detractors, in points from -100 to +100.

The confidence interval is the normal approximation for the difference of two
proportions of one multinomial sample: with p and d the shares of promoters and
detractors among n answers, var(p - d) = (p + d - (p - d)^2) / n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

PROMOTER_MIN = 9
PASSIVE_MIN = 7
# Below this many answers the normal approximation is poor and the interval is wider
# than +/- 30 points for a typical mix: figures are shown, flagged as too few.
MIN_RESPONSES = 30

PROMOTER = "promoter"
PASSIVE = "passive"
DETRACTOR = "detractor"
GROUPS = (PROMOTER, PASSIVE, DETRACTOR)
GROUP_LABELS = {PROMOTER: "Promoters", PASSIVE: "Passives", DETRACTOR: "Detractors"}


def nps_group(score: int) -> str:
    if not 0 <= score <= 10:
        raise ValueError(f"an NPS score is 0-10, not {score}")
    if score >= PROMOTER_MIN:
        return PROMOTER
    if score >= PASSIVE_MIN:
        return PASSIVE
    return DETRACTOR


def is_detractor(score: int) -> bool:
    return nps_group(score) == DETRACTOR


@dataclass(frozen=True)
class NPS:
    promoters: int
    passives: int
    detractors: int
    confidence: float
    # None when there are no answers.
    score: float | None
    low: float | None
    high: float | None
    margin: float | None
    min_responses: int = MIN_RESPONSES

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def enough(self) -> bool:
        """Enough answers for the interval to mean something."""
        return self.n >= self.min_responses

    @property
    def note(self) -> str:
        if self.n == 0:
            return "No answers yet."
        if not self.enough:
            return (
                f"Only {self.n} answer{'s' if self.n != 1 else ''}: at least "
                f"{self.min_responses} are needed for a reliable figure."
            )
        return ""

    def share(self, group: str) -> float | None:
        if self.n == 0:
            return None
        return {PROMOTER: self.promoters, PASSIVE: self.passives, DETRACTOR: self.detractors}[
            group
        ] / self.n

    @property
    def promoter_share(self) -> float | None:
        return self.share(PROMOTER)

    @property
    def passive_share(self) -> float | None:
        return self.share(PASSIVE)

    @property
    def detractor_share(self) -> float | None:
        return self.share(DETRACTOR)


def nps_from_counts(
    promoters: int,
    passives: int,
    detractors: int,
    *,
    confidence: float = 0.95,
    min_responses: int = MIN_RESPONSES,
) -> NPS:
    if min(promoters, passives, detractors) < 0:
        raise ValueError("counts cannot be negative")
    if not 0 < confidence < 1:
        raise ValueError("confidence is between 0 and 1")
    n = promoters + passives + detractors
    if n == 0:
        return NPS(0, 0, 0, confidence, None, None, None, None, min_responses)
    p, d = promoters / n, detractors / n
    variance = max(p + d - (p - d) ** 2, 0.0) / n
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    margin = 100 * z * math.sqrt(variance)
    score = 100 * (p - d)
    return NPS(
        promoters,
        passives,
        detractors,
        confidence,
        score,
        max(-100.0, score - margin),
        min(100.0, score + margin),
        margin,
        min_responses,
    )


def nps_from_scores(scores: Iterable[int], **options: float | int) -> NPS:
    counts = dict.fromkeys(GROUPS, 0)
    for score in scores:
        counts[nps_group(int(score))] += 1
    return nps_from_counts(counts[PROMOTER], counts[PASSIVE], counts[DETRACTOR], **options)  # type: ignore[arg-type]


def relative_difference(value: float | None, baseline: float | None) -> float | None:
    """How much higher ``value`` is than ``baseline``, as a fraction (3.06 = 306% higher)."""
    if value is None or baseline is None or baseline <= 0:
        return None
    return value / baseline - 1
