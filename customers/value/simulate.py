"""Synthetic customers drawn from the models themselves, for tests and benchmarks.

Drawing from the model is the only data whose true parameters are known, so a fit
can be checked to recover them; the numbers it makes are not a forecast of anything.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from customers.value.bgnbd import BGNBDParams
from customers.value.gammagamma import GammaGammaParams

FloatArray = NDArray[np.float64]


def simulate_bgnbd(
    n: int,
    params: BGNBDParams,
    *,
    max_age: float,
    min_age: float = 0.0,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(frequency, recency, age) of ``n`` customers with ages uniform in [min_age, max_age].

    Each customer buys at a Poisson rate lambda ~ Gamma(r, rate alpha) from the first
    purchase at time 0 and, after each repeat purchase, drops out with probability
    p ~ Beta(a, b). Times are continuous; round them yourself to mimic whole days.
    """
    age = rng.uniform(min_age, max_age, n)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    arrivals = rng.poisson(rate * age)  # purchases the customer would make if never leaving
    lifetime_purchases = rng.geometric(dropout)  # drops out right after this repeat purchase
    frequency = np.minimum(arrivals, lifetime_purchases)
    # Given M arrivals in (0, T] their times are M sorted uniforms: the x-th is T * Beta(x, M-x+1).
    recency = np.zeros(n)
    buyers = frequency > 0
    recency[buyers] = age[buyers] * rng.beta(
        frequency[buyers], arrivals[buyers] - frequency[buyers] + 1
    )
    return frequency.astype(np.float64), recency, age


def simulate_spend(
    frequency: ArrayLike, params: GammaGammaParams, *, rng: np.random.Generator
) -> FloatArray:
    """Mean spend per repeat purchase; 0 for customers without repeat purchases.

    Each customer's orders are Gamma(p, rate nu) with nu ~ Gamma(q, rate gamma), so the
    mean of x orders is Gamma(p x, rate nu x).
    """
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(params.q, 1.0 / params.gamma, len(x))
    spend = np.zeros(len(x))
    buyers = x > 0
    spend[buyers] = rng.gamma(params.p * x[buyers], 1.0 / (nu[buyers] * x[buyers]))
    return spend
