"""The reference for bench/clv.py: lifetimes 0.11.3 on the orders of a Rapport database.

    var/lifetimes/bin/python bench/clv_lifetimes.py --url postgres://... --as-of 2025-12-31

Runs in its own virtualenv (bench/lifetimes-requirements.txt: lifetimes needs numpy 1.x and
does not install beside this project) and imports nothing of the project. What a lifetimes
user would write: paid orders net of returns read into pandas, then
``summary_data_from_transaction_data`` with daily periods, ``BetaGeoFitter``,
``GammaGammaFitter`` and ``customer_lifetime_value`` over 12 months at the monthly rate
equivalent to the annual one. Prints one JSON line: seconds per step, parameters, peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import numpy as np
import pandas as pd
import psycopg
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

# The same orders as customers.selectors.value_inputs: paid, ordered before the end of the
# as-of day in the configured time zone, less returns made before then; local wall-clock
# time so that pandas' daily periods are the same calendar days.
ORDERS_SQL = """
COPY (
    WITH bounds AS (SELECT ((%(as_of)s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS end_at),
    ret AS (
        SELECT r.order_id, SUM(r.base_amount) AS amount
        FROM customers_return r, bounds
        WHERE r.returned_at < bounds.end_at
        GROUP BY r.order_id
    )
    SELECT o.customer_id, o.ordered_at AT TIME ZONE %(tz)s,
           (o.base_amount - COALESCE(ret.amount, 0))::float8
    FROM customers_order o CROSS JOIN bounds LEFT JOIN ret ON ret.order_id = o.id
    WHERE o.status = 'paid' AND o.ordered_at < bounds.end_at
) TO STDOUT (FORMAT CSV)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the Rapport database")
    parser.add_argument("--as-of", required=True, help="YYYY-MM-DD, included")
    parser.add_argument("--time-zone", default="UTC", help="Rapport's TIME_ZONE")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--annual-discount-rate", type=float, default=0.10)
    args = parser.parse_args()
    out: dict = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        out[name] = round(now - clock, 3)
        clock = now

    with tempfile.NamedTemporaryFile(suffix=".csv") as csv:
        with psycopg.connect(args.url) as conn, conn.cursor() as cursor:
            params = {"as_of": args.as_of, "tz": args.time_zone}
            with cursor.copy(ORDERS_SQL, params) as copy:
                for data in copy:
                    csv.write(data)
        csv.flush()
        orders = pd.read_csv(
            csv.name,
            names=["customer_id", "ordered_at", "amount"],
            dtype={"customer_id": "int64", "amount": "float64"},
            parse_dates=["ordered_at"],
            date_format="ISO8601",
        )
    lap("read_orders")

    summary = summary_data_from_transaction_data(
        orders,
        "customer_id",
        "ordered_at",
        monetary_value_col="amount",
        observation_period_end=args.as_of,
        freq="D",
    )
    out["orders"] = len(orders)
    del orders
    lap("summary")

    x, tx, age = summary["frequency"], summary["recency"], summary["T"]
    money = summary["monetary_value"]
    bg = BetaGeoFitter().fit(x, tx, age)
    lap("bgnbd_fit")
    repeat = (x > 0) & (money > 0)  # Gamma-Gamma needs positive spend on repeat purchases
    gg = GammaGammaFitter().fit(x[repeat], money[repeat])
    lap("gamma_gamma_fit")
    # lifetimes' discount rate is per month and its month is 30 periods of freq="D".
    monthly_rate = (1 + args.annual_discount_rate) ** (1 / 12) - 1
    clv = gg.customer_lifetime_value(
        bg, x, tx, age, money.where(repeat, 0.0), time=args.months,
        discount_rate=monthly_rate, freq="D",
    )  # fmt: skip
    lap("clv")

    out.update(
        customers=len(summary),
        check={
            "frequency": float(x.sum()),
            "recency": float(tx.sum()),
            "T": float(age.sum()),
            "repeat_spend": float((money * x).sum()),
        },
        params={**bg.params_.to_dict(), **gg.params_.to_dict()},
        mean_clv=float(np.mean(clv)),
        peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
