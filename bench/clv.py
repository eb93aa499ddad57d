"""End-to-end customer value benchmark on PostgreSQL, with lifetimes on the same data.

    .venv/bin/python bench/clv.py --lifetimes var/lifetimes/bin/python
    .venv/bin/python bench/clv.py --reuse --keep --runs 1     # keep a seeded database around

Seeds a scratch database (``seed_demo --customers 1000000 --seed 42 --end-date 2026-01-01``,
about 10 M orders; ``--reuse`` takes an existing one with that many customers instead), then
``--runs`` times, each in a fresh process: the full recompute through the public service
``value_recompute`` (every stage the run records in ``durations``, wall time, peak memory),
and, with ``--lifetimes PYTHON``, the reference pipeline of bench/clv_lifetimes.py (orders
into pandas, summary, BG/NBD and Gamma-Gamma fits, 12-month CLV). Then the model stage alone
(``model_stage`` on the loaded summary: fit and predict) on the data lifetimes got, for the
model ratio. Medians of the runs; the machine is shared, so ratios are taken within this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import (  # noqa: E402
    create_database,
    database_exists,
    drop_database,
    manage,
    migrate_and_seed,
    scratch_urls,
)

HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.10


# -- children: each measurement runs in its own process, so its peak memory is its own ------


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


def child_recompute(as_of: dt.date) -> dict:
    _django()
    from django.conf import settings

    from customers.services.value import value_recompute

    started = time.perf_counter()
    run = value_recompute(as_of=as_of, trigger="bench")
    wall = time.perf_counter() - started
    return {
        "wall": round(wall, 3),
        "peak_mb": _peak_mb(),
        "status": run.status,
        "error": run.error,
        "durations": run.durations,
        "customers": run.customers,
        "params": run.params,
        "time_zone": settings.TIME_ZONE,
    }


def child_model(as_of: dt.date, runs: int) -> dict:
    """The model stage alone on the summary the run loads: fit + every prediction."""
    _django()
    import numpy as np

    from customers.selectors import value_inputs
    from customers.value.pipeline import model_stage

    started = time.perf_counter()
    inputs = value_inputs(as_of=as_of)
    load = time.perf_counter() - started
    seconds, steps = [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = model_stage(
            inputs,
            time_unit="day",
            horizon_months=HORIZON_MONTHS,
            discount_rate=ANNUAL_DISCOUNT_RATE,
            as_of=as_of,
        )
        seconds.append(round(time.perf_counter() - started, 3))
        steps.append(result.diagnostics.get("seconds", {}))
    x = inputs.purchase_days - 1
    return {
        "load": round(load, 3),
        "seconds": seconds,
        "steps": steps,
        "peak_mb": _peak_mb(),
        "customers": len(inputs),
        "distinct_rows": result.distinct_rows,
        "check": {  # the same sums over bench/clv_lifetimes.py's summary
            "frequency": float(x.sum()),
            "recency": float(inputs.first_to_last_days.sum()),
            "T": float(inputs.first_to_as_of_days.sum()),
            "repeat_spend": float(np.asarray(inputs.repeat_net_revenue).sum()),
        },
        "params": result.params,
        "mean_clv": float(np.mean(result.predicted_clv)),
    }


def _spawn(command: list[str], env: dict[str, str]) -> dict:
    """Run a child, pass its output through, return the JSON of its last line."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    done.check_returncode()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall"] = round(time.perf_counter() - started, 3)
    return result


# -- the parent: database, repetitions, report ----------------------------------------------


def _prepare(args: argparse.Namespace, admin_url: str, scratch_url: str) -> str:
    if args.reuse and database_exists(admin_url, args.database):
        with psycopg.connect(scratch_url) as conn:
            found = conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
        if found == args.customers:
            manage(scratch_url, "migrate", "-v0")  # the schema of this checkout
            return f"reused {args.database} ({found:,} customers)"
        print(f"{args.database} has {found:,} customers, not {args.customers:,}: seeding anew")
    create_database(admin_url, args.database)
    seconds = migrate_and_seed(
        scratch_url, customers=args.customers, seed=args.seed, end_date=args.end_date
    )
    return f"seeded {args.database} in {seconds:.0f} s"


def _database_facts(scratch_url: str) -> dict:
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        # what autovacuum would have done to a production table: statistics, visibility map
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) customers_order")
        conn.execute("VACUUM (ANALYZE) customers_return")
        vacuum = time.perf_counter() - started
        facts = {
            "orders": conn.execute("SELECT count(*) FROM customers_order").fetchone()[0],
            "paid_orders": conn.execute(
                "SELECT count(*) FROM customers_order WHERE status = 'paid'"
            ).fetchone()[0],
            "returns": conn.execute("SELECT count(*) FROM customers_return").fetchone()[0],
            "server": conn.execute("SHOW server_version").fetchone()[0],
            "vacuum_analyze_s": round(vacuum, 1),
        }
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit"):
            facts[name] = conn.execute(f"SHOW {name}").fetchone()[0]
    return facts


def _flat(durations: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in durations.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, int | float):
            out[f"{prefix}{key}"] = float(value)
    return out


def _table(title: str, runs: list[dict[str, float]], unit: str = "s") -> dict[str, float]:
    """Print one row per key (in first-seen order) with each run and the median."""
    keys = list(dict.fromkeys(k for run in runs for k in run))
    medians = {k: statistics.median([run[k] for run in runs if k in run]) for k in keys}
    print(f"\n{title}")
    head = "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(runs)))
    print(f"  {'':<28}{head}{'median':>10}")
    for k in keys:
        cells = "".join(f"{run[k]:>10.2f}" if k in run else f"{'-':>10}" for run in runs)
        print(f"  {k:<28}{cells}{medians[k]:>10.2f} {unit}")
    return medians


def _params(params: dict) -> str:
    return ", ".join(f"{k} {v:.6g}" for k, v in params.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end-date", default="2026-01-01", help="seed_demo --end-date")
    parser.add_argument("--as-of", help="default: the day before --end-date (its last day)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="rapport_bench_clv", help="scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a seeded scratch database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--lifetimes", metavar="PYTHON", help="interpreter with lifetimes")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--child", choices=["recompute", "model"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    as_of = (
        dt.date.fromisoformat(args.as_of)
        if args.as_of
        else dt.date.fromisoformat(args.end_date) - dt.timedelta(days=1)
    )
    if args.child == "recompute":
        print(json.dumps(child_recompute(as_of)))
        return
    if args.child == "model":
        print(json.dumps(child_model(as_of, args.runs)))
        return

    admin_url, scratch_url = scratch_urls(args.database)
    env = {**os.environ, "DATABASE_URL": scratch_url, "DJANGO_SETTINGS_MODULE": "crm.settings"}
    me = [sys.executable, str(Path(__file__).resolve()), "--as-of", as_of.isoformat()]
    try:
        print(_prepare(args, admin_url, scratch_url))
        facts = _database_facts(scratch_url)
        print(
            f"machine: {os.cpu_count()} cores, {_ram_gb():.0f} GB RAM, Python "
            f"{platform.python_version()}; PostgreSQL {facts['server']} (shared_buffers "
            f"{facts['shared_buffers']}, work_mem {facts['work_mem']}, parallel workers per "
            f"gather {facts['max_parallel_workers_per_gather']}, jit {facts['jit']})"
        )
        print(
            f"data: {facts['orders']:,} orders ({facts['paid_orders']:,} paid), "
            f"{facts['returns']:,} returns; as of {as_of}; VACUUM ANALYZE "
            f"{facts['vacuum_analyze_s']} s"
        )
        ours, theirs = [], []
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}: recompute", flush=True)
            ours.append(_spawn([*me, "--child", "recompute"], env))
            if ours[-1]["status"] != "succeeded":
                sys.exit(f"the run failed: {ours[-1]['error']}")
            if args.lifetimes:
                print(f"run {i + 1}/{args.runs}: lifetimes", flush=True)
                command = [
                    args.lifetimes,
                    str(ROOT / "bench" / "clv_lifetimes.py"),
                    "--url",
                    scratch_url,
                    "--as-of",
                    as_of.isoformat(),
                    "--time-zone",
                    ours[-1]["time_zone"],
                ]
                theirs.append(_spawn(command, env))
        print("model stage alone", flush=True)
        model = _spawn([*me, "--child", "model", "--runs", str(args.runs)], env)
    finally:
        if not args.keep:
            drop_database(admin_url, args.database)

    figures = _report(ours, theirs, model)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "facts": facts,
                    "ours": ours,
                    "lifetimes": theirs,
                    "model": model,
                    "medians": figures,
                },
                indent=2,
            )
        )


def _report(ours: list[dict], theirs: list[dict], model: dict) -> dict:
    n = ours[0]["customers"]
    rapport = _table(
        f"Rapport value_recompute, {n:,} customers (run.durations, then the process)",
        [
            {
                **_flat(r["durations"]),
                "recompute wall": r["wall"],
                "process wall": r["process_wall"],
            }
            for r in ours
        ],
    )
    peak = statistics.median(r["peak_mb"] for r in ours)
    print(f"  peak memory (ru_maxrss)     {peak:>10,.0f} MB")
    print(f"  parameters  {_params(ours[-1]['params'])}")
    model_total = statistics.median(model["seconds"])
    _table("Rapport model_stage alone (fit + predict)", [_flat(s) for s in model["steps"]])
    print(f"  model_stage wall, median of {model['seconds']}: {model_total:.2f} s")
    print(f"  {model['distinct_rows']:,} distinct rows; mean 12-month CLV {model['mean_clv']:.4f}")
    figures = {"recompute": rapport["recompute wall"], "peak_mb": peak, "model": model_total}
    if not theirs:
        return figures
    lifetimes = _table(
        "lifetimes 0.11.3 (bench/clv_lifetimes.py)",
        [{k: v for k, v in r.items() if isinstance(v, float) and k != "mean_clv"} for r in theirs],
    )
    steps = ("summary", "bgnbd_fit", "gamma_gamma_fit", "clv")
    lt_pipeline = statistics.median(sum(r[k] for k in steps) for r in theirs)
    lt_model = statistics.median(sum(r[k] for k in steps[1:]) for r in theirs)
    lt_peak = statistics.median(r["peak_mb"] for r in theirs)
    print(f"  peak memory (ru_maxrss)     {lt_peak:>10,.0f} MB; {theirs[0]['orders']:,} orders")
    print(f"  parameters  {_params(theirs[-1]['params'])}")
    print(
        f"  mean 12-month CLV {theirs[-1]['mean_clv']:.4f} (30-day months; Rapport's are "
        f"365.25/12 days)"
    )
    same = (
        all(
            abs(model["check"][k] - theirs[0]["check"][k])
            <= 1e-6 * max(1.0, abs(model["check"][k]))
            for k in model["check"]
        )
        and model["customers"] == theirs[0]["customers"]
    )
    print(f"  same summary as Rapport's (customers, sums of x, t_x, T, repeat spend): {same}")

    print("\nSpeed-ups, lifetimes' time / Rapport's (medians of this run)")
    print(
        f"  whole: Rapport recompute {rapport['recompute wall']:.2f} s vs lifetimes summary "
        f"+ fits + CLV {lt_pipeline:.2f} s (+ read {lifetimes['read_orders']:.2f} s): "
        f"{lt_pipeline / rapport['recompute wall']:.2f}x"
    )
    print(
        f"  model: Rapport fit + predict {model_total:.2f} s vs lifetimes fits + CLV "
        f"{lt_model:.2f} s: {lt_model / model_total:.1f}x"
    )
    print(f"  peak memory: Rapport {peak:,.0f} MB, lifetimes {lt_peak:,.0f} MB")
    figures.update(lifetimes_pipeline=lt_pipeline, lifetimes_model=lt_model, lifetimes_peak=lt_peak)
    return figures


def _ram_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return total_kb / 1024**2


if __name__ == "__main__":
    main()
