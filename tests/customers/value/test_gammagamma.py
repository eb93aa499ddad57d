import json
from pathlib import Path

import numpy as np
import pytest

from customers.value import (
    BGNBDParams,
    GammaGammaParams,
    ModelFitError,
    expected_order_value,
    fit_gamma_gamma,
)
from customers.value.gammagamma import gamma_gamma_log_likelihood, negative_log_likelihood
from customers.value.simulate import simulate_bgnbd, simulate_spend

REFERENCE = json.loads(Path(__file__).with_name("reference.json").read_text())
TRUE = GammaGammaParams(p=6.0, q=4.0, gamma=60.0)


@pytest.fixture(scope="module")
def spenders():
    rng = np.random.default_rng(2013)
    x, _, _ = simulate_bgnbd(300_000, BGNBDParams(0.25, 4.0, 0.8, 2.5), max_age=104, rng=rng)
    return x, simulate_spend(x, TRUE, rng=rng)


def test_it_recovers_the_spend_parameters_of_simulated_customers(spenders):
    x, m = spenders
    fit = fit_gamma_gamma(x, m)

    assert fit.converged, fit.message
    assert fit.customers == int((x > 0).sum()) > 50_000
    assert fit.excluded == int((x == 0).sum())
    for name in ("p", "q", "gamma"):
        assert getattr(fit.params, name) == pytest.approx(getattr(TRUE, name), rel=0.05), name
    assert abs(fit.spend_frequency_correlation) < 0.05  # independent by construction


def test_it_fits_lifetimes_parameters_on_the_same_customers():
    x = np.asarray(REFERENCE["bgnbd"]["frequency"])
    m = np.asarray(REFERENCE["gamma_gamma"]["monetary"])
    fit = fit_gamma_gamma(x, m)
    theirs = REFERENCE["gamma_gamma"]["params"]

    assert fit.converged, fit.message
    assert fit.params.p == pytest.approx(theirs["p"], rel=1e-4)
    assert fit.params.q == pytest.approx(theirs["q"], rel=1e-4)
    assert fit.params.gamma == pytest.approx(theirs["v"], rel=1e-4)  # lifetimes calls it v


def test_expected_order_values_match_lifetimes():
    pred = REFERENCE["predictions"]
    x = np.asarray(REFERENCE["bgnbd"]["frequency"])[pred["index"]]
    m = np.asarray(REFERENCE["gamma_gamma"]["monetary"])[pred["index"]]
    theirs = REFERENCE["gamma_gamma"]["params"]
    params = GammaGammaParams(p=theirs["p"], q=theirs["q"], gamma=theirs["v"])
    np.testing.assert_allclose(
        expected_order_value(params, x, m), pred["expected_order_value"], rtol=1e-12
    )


@pytest.mark.parametrize("log_params", [np.log([6.0, 4.0, 60.0]), np.log([0.5, 12.0, 3.0])])
def test_its_analytic_gradient_matches_finite_differences(spenders, log_params):
    x, m = spenders
    keep = x > 0
    x, m = x[keep][:5000], m[keep][:5000]
    _, grad = negative_log_likelihood(log_params, x, m)
    step = 1e-5  # the log-likelihood sums terms of ~100: smaller steps drown in rounding
    numeric = []
    for i in range(3):
        e = np.zeros(3)
        e[i] = step
        up, _ = negative_log_likelihood(log_params + e, x, m)
        down, _ = negative_log_likelihood(log_params - e, x, m)
        numeric.append((up - down) / (2 * step))
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_the_summed_likelihood_equals_the_per_customer_one(spenders):
    x, m = spenders
    keep = x > 0
    x, m = x[keep][:1000], m[keep][:1000]
    value, _ = negative_log_likelihood(np.log([6.0, 4.0, 60.0]), x, m)
    per_customer = gamma_gamma_log_likelihood(TRUE, x, m)
    assert -value * len(x) == pytest.approx(per_customer.sum(), rel=1e-12)


def test_it_leaves_out_one_time_buyers_and_non_positive_spend():
    x = np.array([0, 1, 2, 3, 4, 5, 1, 2])
    m = np.array([50.0, 40.0, 55.0, 0.0, -10.0, 61.0, 38.0, 45.0])
    fit = fit_gamma_gamma(x, m)
    kept = np.array([False, True, True, False, False, True, True, True])
    same = fit_gamma_gamma(x[kept], m[kept])

    assert (fit.customers, fit.excluded) == (5, 3)
    assert fit.params == same.params


def test_one_time_buyers_get_the_population_mean_and_history_pulls_toward_own_mean():
    params = GammaGammaParams(p=6.0, q=4.0, gamma=60.0)  # population mean 6 * 60 / 3 = 120
    value = expected_order_value(params, [0, 1, 10, 100, 3], [999.0, 40.0, 40.0, 40.0, -5.0])

    assert value[0] == pytest.approx(120.0)
    assert 40.0 < value[3] < value[2] < value[1] < 120.0
    assert value[4] == pytest.approx(6 * 60 / (6 * 3 + 3))  # net negative spend counts as 0


def test_it_refuses_to_fit_fewer_than_two_qualifying_customers():
    with pytest.raises(ModelFitError, match="1 repeat buyers with a positive mean spend"):
        fit_gamma_gamma([0, 1, 2], [10.0, 20.0, 0.0])


def test_an_infinite_expected_order_value_raises_instead_of_returning_inf():
    heavy_tailed = GammaGammaParams(p=2.0, q=0.8, gamma=10.0)
    assert heavy_tailed.mean_spend == float("inf")
    with pytest.raises(ModelFitError, match=r"q = 0\.8"):
        expected_order_value(heavy_tailed, [0, 3], [0.0, 20.0])
