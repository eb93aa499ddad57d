"""Small random-draw helpers the simulation shares: shopping times of day, instants
between two others, and categories from tables of cumulative probabilities. Pure numpy.
"""

from __future__ import annotations

import numpy as np


def _shopping_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    # Late morning, lunch and evening peaks, the evening the biggest.
    part = rng.choice(3, n, p=[0.22, 0.33, 0.45])
    hours = rng.normal(np.array([10.5, 13.5, 20.5])[part], np.array([1.6, 1.8, 1.7])[part])
    return (np.mod(hours, 24.0) * 3600).astype(np.int64)


def _between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return low + (rng.random(len(low)) * (high - low)).astype(np.int64)


def _pick(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """One category per row of a (rows, k) matrix of cumulative probabilities."""
    return (
        (cumulative < rng.random(len(cumulative))[:, None])
        .sum(axis=1)
        .clip(0, cumulative.shape[1] - 1)
    )


def _cum(rows: list[list[float]] | np.ndarray) -> np.ndarray:
    table = np.asarray(rows, dtype=float)
    return np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
