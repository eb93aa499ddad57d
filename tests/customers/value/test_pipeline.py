import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from customers.value import BGNBDParams, GammaGammaParams, ModelFitError, segment_codes
from customers.value.pipeline import (
    FittedModel,
    backtest_metrics,
    fit_model,
    model_stage,
    predict_batch,
    summary_slice,
)
from customers.value.simulate import simulate_bgnbd, simulate_spend

AS_OF = dt.date(2026, 3, 31)


@dataclass(frozen=True)
class Summary:
    purchase_days: np.ndarray
    first_to_last_days: np.ndarray
    first_to_as_of_days: np.ndarray
    last_to_as_of_days: np.ndarray
    orders: np.ndarray
    net_revenue: np.ndarray
    repeat_net_revenue: np.ndarray

    def __len__(self) -> int:
        return len(self.purchase_days)


def summary(n: int = 20_000, seed: int = 1) -> Summary:
    """Customers simulated in days and rounded to whole purchase days, as SQL gives them."""
    rng = np.random.default_rng(seed)
    x, tx, T = simulate_bgnbd(n, BGNBDParams(0.25, 28.0, 0.8, 2.5), max_age=730, rng=rng)
    age = np.floor(T).astype(np.int64)
    recency = np.where(x > 0, np.clip(np.rint(tx), 1, np.maximum(age, 1)), 0).astype(np.int64)
    age = np.maximum(age, recency)
    repeat = simulate_spend(x, GammaGammaParams(6.0, 4.0, 60.0), rng=rng) * x
    return Summary(
        purchase_days=x.astype(np.int64) + 1,
        first_to_last_days=recency,
        first_to_as_of_days=age,
        last_to_as_of_days=age - recency,
        orders=x.astype(np.int64) + 1,
        net_revenue=rng.gamma(6.0, 10.0, n) + repeat,
        repeat_net_revenue=repeat,
    )


@pytest.fixture(scope="module")
def base():
    return summary()


@pytest.fixture(scope="module")
def result(base):
    return model_stage(base, time_unit="day", as_of=AS_OF)


def test_it_gives_every_customer_finite_figures_in_range(base, result):
    n = len(base)
    floats = [
        "recency", "age", "p_alive", "churn_risk", "expected_30", "expected_90",
        "expected_365", "expected_order_value", "predicted_clv", "avg_order_value",
        "purchase_frequency", "historic_clv",
    ]  # fmt: skip
    for name in floats:
        values = getattr(result, name)
        assert values.shape == (n,), name
        assert np.isfinite(values).all(), name
        assert (values >= 0).all(), name
    assert ((result.p_alive >= 0) & (result.p_alive <= 1)).all()
    # no purchase within a year: at least as likely as having dropped out
    assert (result.churn_risk >= 1 - result.p_alive - 1e-12).all()
    assert (result.churn_risk <= 1).all()
    assert result.churn_risk[result.frequency == 0].min() > 0
    assert (result.expected_30 <= result.expected_90).all()
    assert (result.expected_90 <= result.expected_365).all()
    np.testing.assert_array_equal(result.frequency, base.purchase_days - 1)


def test_it_names_the_parameters_as_the_papers_do(result):
    assert set(result.params) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert result.params["alpha"] == pytest.approx(28.0, rel=0.1)
    assert result.bgnbd.converged
    assert result.gamma_gamma.converged
    assert 0 < result.distinct_rows < 20_000
    assert result.gg_customers == int((result.frequency > 0).sum())
    json.dumps(result.diagnostics, allow_nan=False)


def test_segments_come_from_the_r_and_f_scores(result):
    np.testing.assert_array_equal(
        result.segment_codes, segment_codes(result.r_score, result.f_score)
    )
    assert set(result.segment_codes.tolist()) <= set(range(1, 12))
    for scores in (result.r_score, result.f_score, result.m_score):
        assert set(scores.tolist()) <= {1, 2, 3, 4, 5}


def test_a_next_order_date_is_given_only_to_customers_more_likely_alive_than_not(result):
    dates = result.expected_next_order
    has_date = ~np.isnat(dates)

    assert has_date.any()
    assert (result.p_alive[has_date] > 0.5).all()
    assert (dates[has_date] >= np.datetime64(AS_OF)).all()
    assert (dates[has_date] <= np.datetime64(AS_OF) + 365).all()


def test_expected_purchases_for_any_horizon_agree_with_the_stored_ones(result):
    np.testing.assert_allclose(result.expected_purchases(365), result.expected_365, rtol=1e-12)
    assert (result.expected_purchases(730) >= result.expected_365).all()


def test_weeks_and_days_give_the_same_forecast(base, result):
    weeks = model_stage(base, time_unit="week", as_of=AS_OF)

    assert weeks.params["alpha"] == pytest.approx(result.params["alpha"] / 7, rel=1e-4)
    np.testing.assert_allclose(weeks.age, result.age / 7)
    np.testing.assert_allclose(weeks.p_alive, result.p_alive, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(weeks.expected_90, result.expected_90, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(weeks.predicted_clv, result.predicted_clv, rtol=1e-4, atol=1e-6)


def test_small_batches_give_the_same_values(base, result):
    batched = model_stage(base, as_of=AS_OF, batch_size=1000)
    np.testing.assert_allclose(batched.predicted_clv, result.predicted_clv, rtol=1e-12)
    np.testing.assert_allclose(batched.expected_30, result.expected_30, rtol=1e-12)


def test_an_empty_base_fails_with_a_reason():
    empty = Summary(*(np.zeros(0, dtype=np.int64) for _ in range(5)), np.zeros(0), np.zeros(0))
    with pytest.raises(ModelFitError, match="no customers with a paid order up to 2026-03-31"):
        model_stage(empty, as_of=AS_OF)


def test_a_base_of_one_time_buyers_fails_with_a_reason():
    once = summary(500)
    once = Summary(
        purchase_days=np.ones(500, dtype=np.int64),
        first_to_last_days=np.zeros(500, dtype=np.int64),
        first_to_as_of_days=once.first_to_as_of_days,
        last_to_as_of_days=once.first_to_as_of_days,
        orders=np.ones(500, dtype=np.int64),
        net_revenue=once.net_revenue,
        repeat_net_revenue=np.zeros(500),
    )
    with pytest.raises(ModelFitError, match="no repeat buyers"):
        model_stage(once, as_of=AS_OF)


def test_a_fit_drifting_to_a_limit_is_accepted_and_flagged_unless_refused():
    age = np.arange(100, 1100, dtype=np.int64)
    bought_today = Summary(  # everyone bought again today: nothing shows dropout
        purchase_days=np.r_[np.full(1000, 4), np.ones(1000, dtype=np.int64)],
        first_to_last_days=np.r_[age, np.zeros(1000, dtype=np.int64)],
        first_to_as_of_days=np.r_[age, age],
        last_to_as_of_days=np.r_[np.zeros(1000, dtype=np.int64), age],
        orders=np.r_[np.full(1000, 4), np.ones(1000, dtype=np.int64)],
        net_revenue=np.full(2000, 100.0),
        repeat_net_revenue=np.r_[np.linspace(60, 120, 1000), np.zeros(1000)],
    )
    result = model_stage(bought_today, as_of=AS_OF)

    assert not result.bgnbd.converged
    assert result.diagnostics["bgnbd"]["at_limit"] is True
    assert "degenerate fit" in result.diagnostics["bgnbd"]["message"]
    assert np.isfinite(result.predicted_clv).all()
    assert result.p_alive.min() > 0.99  # the limiting model: nobody drops out
    with pytest.raises(ModelFitError, match=r"BG/NBD fit did not converge: .*degenerate"):
        model_stage(bought_today, as_of=AS_OF, accept_limit_fits=False)


def test_a_fit_that_runs_out_of_iterations_fails_the_run_unless_told_otherwise(base):
    with pytest.raises(ModelFitError, match=r"BG/NBD fit did not converge: .*ITERATIONS"):
        model_stage(base, as_of=AS_OF, max_iterations=2)
    lenient = model_stage(base, as_of=AS_OF, max_iterations=2, require_convergence=False)
    assert not lenient.bgnbd.converged
    assert np.isfinite(lenient.predicted_clv).all()


def test_backtest_metrics_compare_totals_and_frequency_bands_as_json():
    predicted = np.array([0.5, 1.0, 2.0, 0.1, 8.0])
    actual = np.array([0.0, 1.0, 3.0, 0.0, 9.0])
    metrics = backtest_metrics(
        predicted=predicted, actual=actual, frequency=np.array([0, 1, 2, 0, 12]), holdout_days=90
    )

    json.dumps(metrics, allow_nan=False)
    assert metrics["predicted_purchases"] == pytest.approx(11.6)
    assert metrics["actual_purchases"] == 13.0
    assert metrics["mae"] == pytest.approx(np.abs(predicted - actual).mean())
    bands = {band["frequency"]: band for band in metrics["by_frequency"]}
    assert bands["0"]["customers"] == 2
    assert bands["7+"]["actual_mean"] == 9.0
    assert (
        backtest_metrics(
            predicted=np.zeros(2),
            actual=np.zeros(2),
            frequency=np.zeros(2, dtype=int),
            holdout_days=9,
        )["total_error_pct"]
        is None
    )


def test_the_maths_package_imports_no_django():
    code = (
        "import sys, customers.value.pipeline, customers.value.simulate;"
        "print(any(m.startswith('django') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_batches_give_every_customer_the_same_figures_as_one_pass(base, result):
    fit = fit_model(base, as_of=AS_OF)
    rng = np.random.default_rng(3)
    order = rng.permutation(len(base))
    # uneven, shuffled batches: a customer's figures must not depend on its batch-mates
    for part in np.array_split(order, 7):
        batch = predict_batch(fit.model, summary_slice(base, part))
        for name in ("p_alive", "churn_risk", "expected_365", "predicted_clv", "historic_clv"):
            np.testing.assert_allclose(getattr(batch, name), getattr(result, name)[part])
        for name in ("r_score", "f_score", "m_score", "segment_codes"):
            np.testing.assert_array_equal(getattr(batch, name), getattr(result, name)[part])
        np.testing.assert_array_equal(batch.expected_next_order, result.expected_next_order[part])


def test_the_fitted_model_survives_a_json_round_trip_as_a_distributed_run_stores_it(base):
    fit = fit_model(base, as_of=AS_OF, time_unit="week", churn_window_days=180)
    stored = json.loads(json.dumps(fit.model.as_json(), allow_nan=False))
    model = FittedModel.from_json(stored)

    assert model == fit.model
    some = summary_slice(base, slice(0, 500))
    np.testing.assert_array_equal(
        predict_batch(model, some).predicted_clv, predict_batch(fit.model, some).predicted_clv
    )


def test_a_shorter_churn_window_means_a_higher_churn_risk(base):
    year = predict_batch(fit_model(base, as_of=AS_OF).model, summary_slice(base, slice(0, 2000)))
    quarter = predict_batch(
        fit_model(base, as_of=AS_OF, churn_window_days=90).model,
        summary_slice(base, slice(0, 2000)),
    )
    assert (quarter.churn_risk >= year.churn_risk).all()
    assert (quarter.churn_risk > year.churn_risk).mean() > 0.9
