"""Benchmark of the value model stage on simulated customers (no database).

    .venv/bin/python bench/clv_model.py --customers 100000 1000000
    .venv/bin/python bench/clv_model.py --customers 1000000 --unit week

Customers are drawn from BG/NBD and Gamma-Gamma with day-unit parameters (r=0.25,
alpha=28 days, a=0.8, b=2.5; p=6, q=4, gamma=60), ages uniform over two years, and
rounded to whole purchase days as the SQL summary gives them. It times
``customers.value.pipeline.model_stage`` stage by stage: BG/NBD fit, Gamma-Gamma fit,
predictions (P(alive), 30/90/365 days, 12-month discounted CLV), RFM.

``--lifetimes PYTHON`` also times lifetimes 0.11.3 on the same data, run by another
interpreter (lifetimes does not install next to this project's numpy/pandas pins):
BetaGeoFitter.fit, GammaGammaFitter.fit and customer_lifetime_value(12 months).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from customers.value import BGNBDParams, GammaGammaParams
from customers.value.pipeline import model_stage
from customers.value.simulate import simulate_bgnbd, simulate_spend

TRUE_BGNBD = BGNBDParams(r=0.25, alpha=28.0, a=0.8, b=2.5)
TRUE_SPEND = GammaGammaParams(p=6.0, q=4.0, gamma=60.0)


@dataclass(frozen=True)
class Summary:
    purchase_days: np.ndarray
    first_to_last_days: np.ndarray
    first_to_as_of_days: np.ndarray
    last_to_as_of_days: np.ndarray
    orders: np.ndarray
    net_revenue: np.ndarray
    repeat_net_revenue: np.ndarray

    def __len__(self) -> int:  # the model stage takes any summary columns with a length
        return len(self.purchase_days)


def simulated_summary(n: int, seed: int = 7) -> Summary:
    rng = np.random.default_rng(seed)
    x, tx, T = simulate_bgnbd(n, TRUE_BGNBD, max_age=730, rng=rng)
    age = np.floor(T).astype(np.int64)
    recency = np.where(x > 0, np.clip(np.rint(tx), 1, np.maximum(age, 1)), 0).astype(np.int64)
    age = np.maximum(age, recency)
    freq = x.astype(np.int64)
    repeat_spend = simulate_spend(x, TRUE_SPEND, rng=rng) * x
    first_spend = rng.gamma(TRUE_SPEND.p, 50.0 / TRUE_SPEND.p, n)
    return Summary(
        purchase_days=freq + 1,
        first_to_last_days=recency,
        first_to_as_of_days=age,
        last_to_as_of_days=age - recency,
        orders=freq + 1 + rng.binomial(freq + 1, 0.05),
        net_revenue=first_spend + repeat_spend,
        repeat_net_revenue=repeat_spend,
    )


def run_ours(summary: Summary, unit: str) -> dict:
    start = time.perf_counter()
    result = model_stage(summary, time_unit=unit, as_of=dt.date(2026, 1, 1))
    total = time.perf_counter() - start
    return {
        "seconds": result.diagnostics["seconds"],
        "total": round(total, 3),
        "distinct_rows": result.distinct_rows,
        "params": {k: round(v, 4) for k, v in result.params.items()},
        "bgnbd_iterations": result.bgnbd.iterations,
        "mean_clv": round(float(result.predicted_clv.mean()), 4),
    }


LIFETIMES_SCRIPT = """
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1]); unit = sys.argv[2]; div = 7.0 if unit == "week" else 1.0
x = pd.Series(d["x"]); tx = pd.Series(d["tx"] / div); T = pd.Series(d["T"] / div)
m = pd.Series(d["m"])
out = {}
t = time.perf_counter(); bg = BetaGeoFitter().fit(x, tx, T)
out["bgnbd_fit"] = time.perf_counter() - t
rep = (x > 0) & (m > 0)
t = time.perf_counter(); gg = GammaGammaFitter().fit(x[rep], m[rep])
out["gamma_gamma_fit"] = time.perf_counter() - t
t = time.perf_counter()
eov = gg.conditional_expected_average_profit(x, m.where(rep, 0.0))
clv = gg.customer_lifetime_value(bg, x, tx, T, m.where(rep, 0.0), time=12,
    discount_rate=1.1 ** (1 / 12) - 1, freq="D" if unit == "day" else "W")
out["clv_12_months"] = time.perf_counter() - t
out["params"] = {**bg.params_.round(4).to_dict(), **gg.params_.round(4).to_dict()}
print(json.dumps(out))
"""


def run_lifetimes(python: str, summary: Summary, unit: str) -> dict:
    x = summary.purchase_days - 1
    m = np.divide(summary.repeat_net_revenue, x, out=np.zeros(len(x)), where=x > 0)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "summary.npz"
        np.savez(data, x=x, tx=summary.first_to_last_days, T=summary.first_to_as_of_days, m=m)
        done = subprocess.run(  # the interpreter is the one named on the command line
            [python, "-c", LIFETIMES_SCRIPT, str(data), unit],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--unit", choices=["day", "week"], default="day")
    parser.add_argument("--lifetimes", metavar="PYTHON", help="interpreter with lifetimes")
    args = parser.parse_args()
    for n in args.customers:
        summary = simulated_summary(n)
        ours = run_ours(summary, args.unit)
        print(f"\n{n:,} customers ({args.unit}s), {ours['distinct_rows']:,} distinct rows")
        print(f"  rapport   {json.dumps(ours['seconds'])}  total {ours['total']:.2f} s")
        print(f"            params {ours['params']}")
        if args.lifetimes:
            theirs = run_lifetimes(args.lifetimes, summary, args.unit)
            lt_total = sum(theirs[k] for k in ("bgnbd_fit", "gamma_gamma_fit", "clv_12_months"))
            steps = {k: round(v, 2) for k, v in theirs.items() if k != "params"}
            print(f"  lifetimes {json.dumps(steps)}  total {lt_total:.2f} s")
            print(f"            params {theirs['params']}")
            print(f"  speed-up  {lt_total / ours['total']:.1f}x")


if __name__ == "__main__":
    main()
