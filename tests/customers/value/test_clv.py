import json
from pathlib import Path

import numpy as np
import pytest

from customers.value import (
    BGNBDParams,
    GammaGammaParams,
    discounted_purchases,
    expected_order_value,
    expected_purchases,
    historic_value,
    predicted_clv,
    retention_years,
)
from customers.value.clv import discount_factors
from customers.value.simulate import simulate_bgnbd

REFERENCE = json.loads(Path(__file__).with_name("reference.json").read_text())
PARAMS = BGNBDParams(r=0.25, alpha=28.0, a=0.8, b=2.5)  # days


def test_it_matches_lifetimes_customer_lifetime_value():
    data, pred = REFERENCE["bgnbd"], REFERENCE["predictions"]
    idx = pred["index"]
    x, tx, T = (np.asarray(data[k])[idx] for k in ("frequency", "recency", "age"))
    m = np.asarray(REFERENCE["gamma_gamma"]["monetary"])[idx]
    gg = REFERENCE["gamma_gamma"]["params"]
    order_value = expected_order_value(GammaGammaParams(gg["p"], gg["q"], gg["v"]), x, m)
    # lifetimes: weeks, a month of 4.345 weeks, 1% a month
    clv = predicted_clv(
        BGNBDParams(**data["params"]),
        x,
        tx,
        T,
        order_value,
        months=12,
        annual_discount_rate=1.01**12 - 1,
        unit_days=7.0,
        month_days=4.345 * 7,
    )
    np.testing.assert_allclose(clv, pred["clv_12_months_monthly_rate_1pct_freq_W"], rtol=1e-6)


def test_month_twelve_is_discounted_by_exactly_the_annual_rate():
    factors = discount_factors(24, 0.10)
    assert factors[11] == pytest.approx(1 / 1.10)
    assert factors[23] == pytest.approx(1 / 1.10**2)
    assert (np.diff(factors) < 0).all()


def test_without_discounting_clv_is_order_value_times_a_years_expected_purchases():
    x, tx, T = np.array([0.0, 2, 7]), np.array([0.0, 100, 300]), np.array([50.0, 200, 320])
    clv = predicted_clv(PARAMS, x, tx, T, [10.0, 20.0, 30.0], annual_discount_rate=0.0)
    year = expected_purchases(PARAMS, 365.25, x, tx, T)
    np.testing.assert_allclose(clv, year * [10.0, 20.0, 30.0], rtol=1e-12)


def test_discounting_lowers_clv_and_a_longer_horizon_raises_it():
    x, tx, T = np.array([3.0]), np.array([100.0]), np.array([120.0])
    base = predicted_clv(PARAMS, x, tx, T, [50.0])
    assert predicted_clv(PARAMS, x, tx, T, [50.0], annual_discount_rate=0.3) < base
    assert predicted_clv(PARAMS, x, tx, T, [50.0], months=24) > base


def test_batches_give_the_same_values_as_one_pass():
    rng = np.random.default_rng(5)
    x, tx, T = simulate_bgnbd(10_000, PARAMS, max_age=730, rng=rng)
    one = discounted_purchases(PARAMS, x, tx, T)
    batched = discounted_purchases(PARAMS, x, tx, T, batch_size=777)
    np.testing.assert_allclose(batched, one, rtol=1e-13)
    assert np.isfinite(one).all()


def test_historic_clv_is_order_value_times_yearly_frequency_times_retention_years():
    value = historic_value([300.0, 100.0, 0.0], [3, 1, 0], [730.5, 14, 0], retention_years=2.5)

    np.testing.assert_allclose(value.avg_order_value, [100.0, 100.0, 0.0])
    # 3 orders over 2 years; a 14-day-old customer counts as a year old
    np.testing.assert_allclose(value.purchase_frequency, [1.5, 1.0, 0.0])
    np.testing.assert_allclose(value.historic_clv, [375.0, 250.0, 0.0])


def test_retention_length_is_one_over_the_yearly_churn_of_customers_older_than_a_year():
    first = [400, 500, 800, 1000, 100]  # the last is too young to count
    last = [10, 100, 500, 600, 5]  # 2 of the 4 older customers bought within the year
    assert retention_years(first, last) == pytest.approx(2.0)
    assert retention_years([100, 200], [1, 2]) == 1.0  # nobody older than a year yet
    assert retention_years([400, 500], [1, 2], max_years=7) == 7.0  # nobody lapsed
