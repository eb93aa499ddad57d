"""Writes reference.json: lifetimes 0.11.3 and 60-digit mpmath values the tests compare against.

Not a test and not needed to run the tests. To regenerate (lifetimes does not install
next to the project's numpy/pandas, so it runs in a scratch virtualenv):

    python3 -m venv /tmp/lt && /tmp/lt/bin/pip install lifetimes==0.11.3 numpy scipy pandas mpmath
    /tmp/lt/bin/python tests/customers/value/make_reference.py

Inputs are customers simulated from BG/NBD and Gamma-Gamma (weeks), rounded so the JSON
holds exactly what lifetimes saw.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import lifetimes
import mpmath as mp
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from customers.value.bgnbd import BGNBDParams  # noqa: E402
from customers.value.gammagamma import GammaGammaParams  # noqa: E402
from customers.value.simulate import simulate_bgnbd, simulate_spend  # noqa: E402

mp.mp.dps = 60


def simulated(n: int = 3000) -> tuple[pd.Series, ...]:
    rng = np.random.default_rng(2005)
    x, tx, T = simulate_bgnbd(n, BGNBDParams(0.25, 4.0, 0.8, 2.5), max_age=104, rng=rng)
    T = np.round(T, 3)
    tx = np.minimum(np.round(tx, 3), T)
    m = np.round(simulate_spend(x, GammaGammaParams(6.0, 4.0, 60.0), rng=rng), 2)
    return pd.Series(x), pd.Series(tx), pd.Series(T), pd.Series(m)


def h_mpmath(a: float, b: float, r: float, x: int, s: float) -> float:
    """E[purchases in t | alive] = (a+b+x-1)/(a-1) [1 - 2F1(r+x, a-1; a+b+x-1; -s)]."""
    a_, b_, r_, s_ = (mp.mpf(v) for v in (a, b, r, s))
    c = a_ + b_ + x - 1
    return float(c / (a_ - 1) * (1 - mp.hyp2f1(r_ + x, a_ - 1, c, -s_)))


def ll_mpmath(r: float, alpha: float, a: float, b: float, x: int, tx: float, T: float) -> float:
    r_, al, a_, b_, tx_, T_ = (mp.mpf(v) for v in (r, alpha, a, b, tx, T))
    head = mp.gamma(r_ + x) * al**r_ / (mp.gamma(r_) * mp.beta(a_, b_))
    like = mp.beta(a_, b_ + x) / (al + T_) ** (r_ + x)
    if x > 0:
        like += mp.beta(a_ + 1, b_ + x - 1) / (al + tx_) ** (r_ + x)
    return float(mp.log(head * like))


def main() -> None:
    x, tx, T, m = simulated()
    bg = BetaGeoFitter().fit(x, tx, T)
    repeat = (x > 0) & (m > 0)
    gg = GammaGammaFitter().fit(x[repeat], m[repeat])
    # customers for the prediction comparisons: the heaviest buyers, one-time buyers, others
    pick = sorted(set(np.argsort(-x.values)[:10]) | set(np.flatnonzero(x.values == 0)[:10]))
    pick += [i for i in range(0, len(x), 97) if i not in pick]
    xs, txs, Ts, ms = (s.iloc[pick] for s in (x, tx, T, m))
    monthly_rate = 0.01
    clv = gg.customer_lifetime_value(
        bg, xs, txs, Ts, ms.where(xs > 0, 0.0), time=12, discount_rate=monthly_rate, freq="W"
    )
    corners = itertools.product(
        [0.05, 0.3, 1.0 - 1e-7, 1.0 + 1e-3, 2.5, 12.0],  # a
        [0.1, 0.7, 2.5],  # b: a + b < 1 with a = 0.05, 0.3
        [0.02, 0.25, 3.0],  # r
        [0, 1, 200, 1500],  # x
        [1e-5, 0.5, 13.0, 1e3, 1e5],  # s = t / (alpha + T)
    )
    alive_cases = [[a, b, r, k, s, h_mpmath(a, b, r, k, s)] for a, b, r, k, s in corners]
    alive_cases.append([0.4, 0.6 + 1e-9, 0.25, 0, 13.0, h_mpmath(0.4, 0.6 + 1e-9, 0.25, 0, 13.0)])
    ll_cases = [
        [r, al, a, b, k, t, T_, ll_mpmath(r, al, a, b, k, t, T_)]
        for (r, al, a, b), (k, t, T_) in itertools.product(
            [(0.25, 4.0, 0.8, 2.5), (2.0, 30.0, 0.1, 9.0)],
            [(0, 0.0, 52.0), (3, 20.0, 52.0), (200, 50.0, 52.0), (1000, 100.0, 104.0)],
        )
    ]
    out = {
        "about": f"lifetimes {lifetimes.__version__}, mpmath {mp.__version__} at 60 digits; "
        "made by make_reference.py",
        "bgnbd": {
            "frequency": x.tolist(),
            "recency": tx.tolist(),
            "age": T.tolist(),
            "params": bg.params_.to_dict(),
            # lifetimes fits on rescaled times and keeps that likelihood: recompute it
            "log_likelihood": float(
                -BetaGeoFitter._negative_log_likelihood(
                    np.log(bg.params_.values), x, tx, T, np.ones(len(x)), 0.0
                )
                * len(x)
            ),
        },
        "gamma_gamma": {"monetary": m.tolist(), "params": gg.params_.to_dict()},
        "predictions": {
            "index": [int(i) for i in pick],
            "p_alive": bg.conditional_probability_alive(xs, txs, Ts).tolist(),
            "expected": {
                str(t): bg.conditional_expected_number_of_purchases_up_to_time(
                    t, xs, txs, Ts
                ).tolist()
                for t in (1, 10, 52)
            },
            "expected_order_value": gg.conditional_expected_average_profit(xs, ms).tolist(),
            "clv_12_months_monthly_rate_1pct_freq_W": clv.tolist(),
        },
        "alive_expected_mpmath": alive_cases,
        "log_likelihood_mpmath": ll_cases,
    }
    path = Path(__file__).with_name("reference.json")
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
