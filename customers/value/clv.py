"""Customer lifetime value: the model-based discounted forecast and the simple historic one.

Predicted CLV (the one to rank and budget by) is computed the way lifetimes'
``customer_lifetime_value`` does it: step through the horizon month by month, take the
expected purchases in each month from BG/NBD, multiply by the customer's expected order
value from Gamma-Gamma, discount each month back to the as-of date, and add up:

    CLV = sum_{m=1..M} E_order_value * (E[X(t_m)] - E[X(t_(m-1))]) / (1 + d)^m

with t_m = m months and d the monthly rate equivalent to the annual discount rate,
(1 + annual)^(1/12) - 1, so month 12 is discounted by exactly (1 + annual). Our month
is 365.25 / 12 days (12 months = one year, whatever the time unit); lifetimes uses
30 days (or 4.345 weeks) and a monthly rate: pass ``month_days=30`` to reproduce it.

Historic CLV (the back-of-the-envelope figure from the marketing literature) is
average order value x purchase frequency (orders per year) x retention length (years),
see ``historic_value``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from customers.value.bgnbd import BGNBDParams
from customers.value.predict import expected_purchases_at

FloatArray = NDArray[np.float64]

MONTH_DAYS = 365.25 / 12
YEAR_DAYS = 365.25


def month_horizons(
    months: int, *, unit_days: float = 1.0, month_days: float = MONTH_DAYS
) -> FloatArray:
    """End of each month 1..months, in model time units."""
    return np.arange(1, months + 1) * (month_days / unit_days)


def discount_factors(months: int, annual_discount_rate: float) -> FloatArray:
    """1 / (1 + d)^m for m = 1..months, d the monthly equivalent of the annual rate."""
    if annual_discount_rate <= -1:
        raise ValueError("the discount rate must be above -100%")
    return (1.0 + annual_discount_rate) ** (-np.arange(1, months + 1) / 12.0)


def discounted_purchases_from_curve(cumulative: FloatArray, factors: FloatArray) -> FloatArray:
    """Discounted expected purchases from cumulative expectations at each month end.

    ``cumulative`` has shape (months, customers): E[X(t_m)] for m = 1..months.
    """
    monthly = np.diff(cumulative, axis=0, prepend=0.0)
    return factors @ monthly


def discounted_purchases(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    unit_days: float = 1.0,
    month_days: float = MONTH_DAYS,
    batch_size: int = 500_000,
) -> FloatArray:
    """Expected purchases over the horizon, each discounted back to the as-of date.

    Customers are processed ``batch_size`` at a time, so memory stays at about
    ``months * batch_size`` floats however many customers there are.
    """
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    horizons = month_horizons(months, unit_days=unit_days, month_days=month_days)
    factors = discount_factors(months, annual_discount_rate)
    out = np.empty(len(x))
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        curve = expected_purchases_at(params, horizons, x[part], tx[part], T[part])
        out[part] = discounted_purchases_from_curve(curve, factors)
    return out


def predicted_clv(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    expected_order_value: ArrayLike,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    unit_days: float = 1.0,
    month_days: float = MONTH_DAYS,
    batch_size: int = 500_000,
) -> FloatArray:
    """Discounted predicted CLV over ``months`` (see the module docstring), per customer."""
    purchases = discounted_purchases(
        params,
        frequency,
        recency,
        age,
        months=months,
        annual_discount_rate=annual_discount_rate,
        unit_days=unit_days,
        month_days=month_days,
        batch_size=batch_size,
    )
    return purchases * np.asarray(expected_order_value, dtype=np.float64)


@dataclass(frozen=True)
class HistoricValue:
    avg_order_value: FloatArray  # net revenue / orders
    purchase_frequency: FloatArray  # orders per year of age, age counted as >= 1 year
    historic_clv: FloatArray  # avg_order_value * purchase_frequency * retention_years
    retention_years: float


def retention_years(
    first_to_as_of_days: ArrayLike, last_to_as_of_days: ArrayLike, *, max_years: float = 10.0
) -> float:
    """Expected relationship length in years, 1 / (1 - annual retention rate).

    The annual retention rate is the share of customers who had bought more than a year
    before the as-of date and bought again within the last year (365 days). A geometric
    lifetime with that yearly survival lasts 1 / (1 - rate) years on average; the result
    is kept within [1, max_years], and is 1 when nobody is older than a year yet.
    """
    first = np.asarray(first_to_as_of_days, dtype=np.float64)
    last = np.asarray(last_to_as_of_days, dtype=np.float64)
    cohort = first >= 365
    if not cohort.any():
        return 1.0
    rate = float((last[cohort] < 365).mean())
    years = max_years if rate >= 1.0 else 1.0 / (1.0 - rate)
    return float(min(max(years, 1.0), max_years))


def historic_value(
    net_revenue: ArrayLike,
    orders: ArrayLike,
    age_days: ArrayLike,
    *,
    retention_years: float,
) -> HistoricValue:
    """Historic CLV = average order value x purchase frequency x retention length.

    - average order value: the customer's net revenue / orders (0 without orders);
    - purchase frequency: orders per year over the customer's age (first order to the
      as-of date), the age counted as at least one year, so a customer of two weeks with
      one order makes 1 order a year, not 26;
    - retention length: one number for the whole base, in years (``retention_years()``).
    """
    revenue = np.asarray(net_revenue, dtype=np.float64)
    n_orders = np.asarray(orders, dtype=np.float64)
    years = np.maximum(np.asarray(age_days, dtype=np.float64) / YEAR_DAYS, 1.0)
    aov = np.divide(revenue, n_orders, out=np.zeros_like(revenue), where=n_orders > 0)
    frequency = n_orders / years
    return HistoricValue(
        avg_order_value=aov,
        purchase_frequency=frequency,
        historic_clv=aov * frequency * retention_years,
        retention_years=retention_years,
    )
