import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import hyp2f1

from customers.value import (
    BGNBDParams,
    alive_expected_purchases,
    churn_risk,
    expected_purchases,
    expected_purchases_at,
    next_purchase_wait,
    p_alive,
)
from customers.value.predict import _h_quadrature, expected_purchases_new_customer
from customers.value.simulate import simulate_bgnbd

REFERENCE = json.loads(Path(__file__).with_name("reference.json").read_text())
PARAMS = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)


def lifetimes_customers():
    data, pred = REFERENCE["bgnbd"], REFERENCE["predictions"]
    idx = pred["index"]
    columns = (np.asarray(data[k])[idx] for k in ("frequency", "recency", "age"))
    return BGNBDParams(**data["params"]), *columns


def test_p_alive_matches_lifetimes():
    params, x, tx, T = lifetimes_customers()
    expected = REFERENCE["predictions"]["p_alive"]
    np.testing.assert_allclose(p_alive(params, x, tx, T), expected, rtol=1e-10)


@pytest.mark.parametrize("t", [1, 10, 52])
def test_expected_purchases_match_lifetimes(t):
    params, x, tx, T = lifetimes_customers()
    expected = REFERENCE["predictions"]["expected"][str(t)]
    np.testing.assert_allclose(expected_purchases(params, t, x, tx, T), expected, rtol=1e-6)


def test_p_alive_is_a_probability_and_one_without_repeat_purchases():
    rng = np.random.default_rng(1)
    x, tx, T = simulate_bgnbd(50_000, PARAMS, max_age=104, rng=rng)
    alive = p_alive(PARAMS, x, tx, T)

    assert ((alive >= 0) & (alive <= 1)).all()
    assert (alive[x == 0] == 1).all()
    # heavy buyers silent for long are almost surely gone, without underflow trouble
    assert p_alive(PARAMS, [500], [1.0], [104.0])[0] == pytest.approx(0, abs=1e-100)


def test_p_alive_falls_the_longer_a_repeat_buyer_stays_silent():
    T = np.array([20.0, 30.0, 52.0, 104.0])
    alive = p_alive(PARAMS, np.full(4, 5.0), np.full(4, 20.0), T)
    assert (np.diff(alive) < 0).all()


def test_expected_purchases_grow_with_the_horizon_and_start_at_zero():
    rng = np.random.default_rng(2)
    x, tx, T = simulate_bgnbd(5_000, PARAMS, max_age=104, rng=rng)
    horizons = [0, 1, 4.3, 13, 52, 520]
    curve = expected_purchases_at(PARAMS, horizons, x, tx, T)

    assert curve.shape == (6, 5_000)
    assert (curve[0] == 0).all()
    assert (np.diff(curve, axis=0) > 0).all()
    for j, t in enumerate(horizons):
        np.testing.assert_allclose(curve[j], expected_purchases(PARAMS, t, x, tx, T), rtol=1e-12)


def test_alive_expectation_matches_60_digit_mpmath_in_every_corner():
    # corners: a + b < 1, a = 1 +- tiny, a + b + x - 1 ~ 0, x up to 1500, s from 1e-5 to 1e5
    cases = np.array(REFERENCE["alive_expected_mpmath"])
    a, b, r, x, s, expected = cases.T
    got = np.array(
        [
            alive_expected_purchases(BGNBDParams(ri, 1.0, ai, bi), si, xi, 0.0)
            for ai, bi, ri, xi, si in zip(a, b, r, x, s, strict=True)
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_the_quadrature_alone_matches_mpmath_where_hyp2f1_fails():
    cases = np.array(REFERENCE["alive_expected_mpmath"])
    a, b, r, x, s, expected = cases.T
    got = np.array(
        [
            _h_quadrature(ai, np.array([bi + xi]), np.array([ri + xi]), np.array([si]))[0]
            for ai, bi, ri, xi, si in zip(a, b, r, x, s, strict=True)
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    with np.errstate(all="ignore"):
        c, z = a + b + x - 1, s / (1 + s)
        textbook = c / (a - 1) * (1 - (1 + s) ** -(r + x) * hyp2f1(r + x, b + x, c, z))
    assert not np.isfinite(textbook).all()  # the reason for the fallback


@pytest.mark.parametrize(
    "params",
    [
        BGNBDParams(r=0.25, alpha=4.0, a=0.3, b=0.4),  # a + b < 1
        BGNBDParams(r=0.25, alpha=4.0, a=1.0, b=2.5),  # a = 1: the closed form is 0/0
        BGNBDParams(r=0.25, alpha=4.0, a=0.4, b=0.6),  # c = a + b - 1 = 0 for one-time buyers
        BGNBDParams(r=3.0, alpha=0.01, a=12.0, b=0.1),  # tiny alpha: s = t / (alpha+T) huge
        BGNBDParams(r=0.02, alpha=400.0, a=0.05, b=40.0),
    ],
)
def test_expected_purchases_are_never_nan_or_infinite_in_hyp2f1_corners(params):
    x = np.array([0, 0, 1, 3, 30, 200, 200, 1500, 5000], dtype=float)
    T = np.array([0, 5, 0.5, 10, 50, 52, 104, 104, 104], dtype=float)
    tx = np.where(x > 0, T * 0.9, 0)
    horizons = [0.01, 1, 52, 520, 5200, 1e6]
    curve = expected_purchases_at(params, horizons, x, tx, T)

    assert np.isfinite(curve).all()
    assert (curve >= 0).all()
    assert (np.diff(curve, axis=0) >= 0).all()
    upper = (params.r + x) * np.asarray(horizons)[:, None] / (params.alpha + T)
    assert (curve <= upper * (1 + 1e-9)).all()


def test_expected_purchases_are_continuous_across_a_equal_to_one():
    x, tx, T = np.array([0.0, 2.0, 40.0]), np.array([0.0, 20.0, 50.0]), np.array([10.0, 52, 52])
    at_one = expected_purchases(BGNBDParams(0.25, 4.0, 1.0, 2.5), 52, x, tx, T)
    near = expected_purchases(BGNBDParams(0.25, 4.0, 1.0 + 1e-6, 2.5), 52, x, tx, T)
    np.testing.assert_allclose(at_one, near, rtol=1e-5)


def test_weeks_and_days_give_the_same_forecast():
    # the model is scale-free: weeks = days / 7, alpha in weeks = alpha in days / 7
    days = BGNBDParams(r=0.25, alpha=28.0, a=0.8, b=2.5)
    weeks = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
    x, tx, T = np.array([0, 1, 5.0]), np.array([0, 30, 300.0]), np.array([60, 100, 400.0])
    np.testing.assert_allclose(
        expected_purchases(days, 90, x, tx, T),
        expected_purchases(weeks, 90 / 7, x, tx / 7, T / 7),
        rtol=1e-12,
    )


def test_a_new_customer_expects_the_unconditional_count():
    # E[X(t)] at t -> 0 grows like r t / alpha (nobody has had a chance to drop out)
    assert expected_purchases_new_customer(PARAMS, 1e-4) == pytest.approx(0.25e-4 / 4, rel=1e-3)
    assert expected_purchases_new_customer(PARAMS, 52) < 52 * 0.25 / 4


def test_the_next_purchase_wait_is_the_median_and_absent_for_likely_lost_customers():
    x = np.array([0.0, 3.0, 10.0, 10.0])
    tx = np.array([0.0, 20.0, 50.0, 5.0])
    T = np.array([10.0, 25.0, 52.0, 52.0])
    wait = next_purchase_wait(PARAMS, x, tx, T)
    alive = p_alive(PARAMS, x, tx, T)

    assert alive[3] < 0.5
    assert np.isinf(wait[3])
    ok = np.isfinite(wait)
    assert ok[:3].all()
    shape = PARAMS.r + x[ok]
    bought = alive[ok] * (1 - ((PARAMS.alpha + T[ok]) / (PARAMS.alpha + T[ok] + wait[ok])) ** shape)
    np.testing.assert_allclose(bought, 0.5, rtol=1e-12)
    assert wait[2] < wait[1] < wait[0]  # frequent recent buyers come back soonest


def _simulate_with_holdout(n, params, *, max_age, holdout, rng):
    """(x, t_x, T, purchases in (T, T + holdout]) drawn from the BG/NBD story."""
    T = rng.uniform(1.0, max_age, n)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    later = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / rate[i])
            if t > T[i] + holdout:
                break
            if t <= T[i]:
                x[i] += 1
                tx[i] = t
            else:
                later[i] += 1
            if rng.random() < dropout[i]:  # drops out right after this purchase
                break
    return x, tx, T, later


def test_churn_risk_matches_the_share_who_do_not_buy_in_the_window_on_simulated_data():
    rng = np.random.default_rng(11)
    window = 26.0
    x, tx, T, later = _simulate_with_holdout(40_000, PARAMS, max_age=104, holdout=window, rng=rng)
    risk = churn_risk(PARAMS, x, tx, T, window=window)

    assert ((risk >= 0) & (risk <= 1)).all()
    for members in (x == 0, (x >= 1) & (x <= 2), x >= 3, np.ones_like(x, dtype=bool)):
        observed = float((later[members] == 0).mean())
        assert risk[members].mean() == pytest.approx(observed, abs=0.015)


def test_churn_risk_of_one_time_buyers_grows_with_their_silence_and_is_not_zero():
    T = np.array([1.0, 10.0, 52.0, 150.0])
    risk = churn_risk(PARAMS, np.zeros(4), np.zeros(4), T, window=52.0)

    assert (risk > 0.3).all()
    assert (np.diff(risk) > 0).all()
    # x = 0: alive by the model, so only "no purchase while alive" remains
    np.testing.assert_allclose(risk, ((PARAMS.alpha + T) / (PARAMS.alpha + T + 52)) ** PARAMS.r)


def test_churn_risk_over_a_long_window_tends_to_one_minus_p_alive():
    x, tx, T = np.array([3.0, 8.0]), np.array([20.0, 30.0]), np.array([60.0, 60.0])
    alive = p_alive(PARAMS, x, tx, T)

    np.testing.assert_allclose(churn_risk(PARAMS, x, tx, T, window=1e9), 1 - alive, atol=1e-6)
    assert (churn_risk(PARAMS, x, tx, T, window=0.0) == 1).all()  # nobody buys in no time
    assert (churn_risk(PARAMS, x, tx, T, window=52.0) > 1 - alive).all()
