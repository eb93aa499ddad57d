import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import beta as beta_fn
from scipy.special import gamma as gamma_fn

from customers.value import BGNBDParams, ModelFitError, compress_summary, fit_bgnbd
from customers.value.bgnbd import bgnbd_log_likelihood, negative_log_likelihood
from customers.value.simulate import simulate_bgnbd

REFERENCE = json.loads(Path(__file__).with_name("reference.json").read_text())
TRUE = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # weeks


def direct_likelihood(p: BGNBDParams, x: int, tx: float, T: float) -> float:
    """The likelihood exactly as printed in Fader, Hardie & Lee (2005), eq. (6)."""
    tx, T = np.float64(tx), np.float64(T)  # overflow to inf like numpy code, not raise
    common = gamma_fn(p.r + x) * p.alpha**p.r / gamma_fn(p.r)
    value = beta_fn(p.a, p.b + x) / beta_fn(p.a, p.b) * common / (p.alpha + T) ** (p.r + x)
    if x > 0:
        value += (
            beta_fn(p.a + 1, p.b + x - 1) / beta_fn(p.a, p.b) * common / (p.alpha + tx) ** (p.r + x)
        )
    return value


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20050101)
    return simulate_bgnbd(100_000, TRUE, max_age=104, min_age=26, rng=rng)


def test_it_matches_the_printed_likelihood_at_ordinary_values():
    params = BGNBDParams(r=0.3, alpha=5.0, a=0.9, b=3.1)
    cases = [(0, 0.0, 30.0), (1, 4.5, 30.0), (4, 20.0, 52.0), (12, 51.0, 52.0)]
    ours = bgnbd_log_likelihood(params, *np.array(cases).T)
    direct = [np.log(direct_likelihood(params, *case)) for case in cases]
    np.testing.assert_allclose(ours, direct, rtol=1e-12)


def test_it_stays_finite_for_heavy_buyers_where_the_printed_formula_does_not():
    params = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
    with np.errstate(all="ignore"):
        assert not np.isfinite(np.log(direct_likelihood(params, 200, 50.0, 52.0)))
    ours = bgnbd_log_likelihood(params, [200, 1000, 5000], [50.0, 100.0, 103.0], [52.0, 104, 104])
    assert np.isfinite(ours).all()


def test_it_matches_60_digit_mpmath_including_x_200_and_1000():
    for r, alpha, a, b, x, tx, T, expected in REFERENCE["log_likelihood_mpmath"]:
        ours = bgnbd_log_likelihood(BGNBDParams(r, alpha, a, b), [x], [tx], [T])[0]
        assert ours == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "log_params",
    [np.log([0.25, 4.0, 0.8, 2.5]), np.log([2.0, 0.5, 3.0, 0.3]), np.log([0.05, 40.0, 0.1, 20.0])],
)
def test_its_analytic_gradient_matches_finite_differences(simulated, log_params):
    x, tx, T = (v[:5000] for v in simulated)
    rows = compress_summary(x, tx, T)
    _, grad = negative_log_likelihood(log_params, rows)
    step = 1e-6
    numeric = []
    for i in range(4):
        e = np.zeros(4)
        e[i] = step
        up, _ = negative_log_likelihood(log_params + e, rows)
        down, _ = negative_log_likelihood(log_params - e, rows)
        numeric.append((up - down) / (2 * step))
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_it_recovers_the_parameters_of_100k_simulated_customers(simulated):
    fit = fit_bgnbd(*simulated)

    assert fit.converged, fit.message
    assert fit.customers == 100_000
    # sampling error at 100k: about 1% on r and alpha, 3% on a and b
    for name, tolerance in (("r", 0.02), ("alpha", 0.02), ("a", 0.05), ("b", 0.05)):
        assert getattr(fit.params, name) == pytest.approx(getattr(TRUE, name), rel=tolerance)


def test_it_fits_lifetimes_parameters_on_the_same_customers():
    data = REFERENCE["bgnbd"]
    fit = fit_bgnbd(data["frequency"], data["recency"], data["age"])

    assert fit.converged, fit.message
    for name, value in data["params"].items():
        assert getattr(fit.params, name) == pytest.approx(value, rel=1e-4), name
    assert fit.log_likelihood == pytest.approx(data["log_likelihood"], rel=1e-9)


def test_weighted_distinct_rows_fit_exactly_like_every_customer():
    rng = np.random.default_rng(3)
    x, tx, T = simulate_bgnbd(20_000, TRUE, max_age=52, rng=rng)
    x, tx, T = x, np.ceil(tx), np.ceil(T)  # whole weeks: many identical rows
    rows = compress_summary(x, tx, T)
    assert len(rows) < 20_000 / 5

    every = fit_bgnbd(x, tx, T)
    weighted = fit_bgnbd(rows.frequency, rows.recency, rows.age, weights=rows.weight)

    assert every.distinct_rows == len(rows)
    assert weighted.params == every.params
    assert weighted.log_likelihood == pytest.approx(every.log_likelihood, rel=1e-12)


def test_compression_maps_every_customer_to_its_row_and_ignores_unused_recency():
    rows = compress_summary([0, 2, 0, 2, 1], [3.0, 5.0, 0.0, 5.0, 1.0], [9.0, 8.0, 9.0, 8.0, 8.0])

    assert len(rows) == 3  # the two one-time buyers of age 9 are one row whatever t_x says
    assert rows.weight.sum() == 5
    back = np.stack([rows.frequency, rows.recency, rows.age])[:, rows.inverse]
    np.testing.assert_array_equal(back[0], [0, 2, 0, 2, 1])
    np.testing.assert_array_equal(back[1], [0.0, 5.0, 0.0, 5.0, 1.0])
    np.testing.assert_array_equal(back[2], [9, 8, 9, 8, 8])


def test_compression_handles_fractional_weeks():
    days = np.array([0, 3, 3, 10])
    rows = compress_summary([0, 1, 1, 2], days / 7, np.array([14, 14, 14, 20]) / 7)
    assert len(rows) == 3
    assert rows.weight.tolist() == [1.0, 2.0, 1.0]


def test_it_refuses_an_empty_base():
    with pytest.raises(ModelFitError, match="no customers"):
        fit_bgnbd([], [], [])


def test_it_refuses_a_base_without_repeat_buyers():
    with pytest.raises(ModelFitError, match="no repeat buyers: all 3 customers"):
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5.0, 10.0, 20.0])


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "reason"),
    [
        ([1, 2], [3.0, 9.0], [5.0, 8.0], "exceeds age"),
        ([1, -1], [3.0, 1.0], [5.0, 8.0], "whole number"),
        ([1.5, 1], [3.0, 1.0], [5.0, 8.0], "whole number"),
        ([1, 1], [np.nan, 1.0], [5.0, 8.0], "NaN"),
        ([1, 1], [-1.0, 1.0], [5.0, 8.0], ">= 0"),
        ([1, 1], [1.0], [5.0, 8.0], "one length"),
    ],
)
def test_it_refuses_invalid_summaries_with_a_reason(frequency, recency, age, reason):
    with pytest.raises(ModelFitError, match=reason):
        fit_bgnbd(frequency, recency, age)


def test_it_reports_a_fit_stopped_by_the_iteration_limit_instead_of_raising(simulated):
    fit = fit_bgnbd(*simulated, max_iterations=2)

    assert not fit.converged
    assert "ITERATIONS REACHED LIMIT" in fit.message
    assert fit.iterations == 2
    assert np.isfinite(fit.log_likelihood)


def test_it_reports_a_degenerate_fit_when_nobody_shows_signs_of_dropping_out():
    # everyone bought again on the as-of date: no evidence of dropout, a -> 0, b -> inf
    T = np.linspace(10, 50, 1000)
    x = np.r_[np.full(1000, 3.0), np.zeros(1000)]
    fit = fit_bgnbd(x, np.r_[T, np.zeros(1000)], np.r_[T, T])

    assert not fit.converged
    assert "degenerate fit" in fit.message
