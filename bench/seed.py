"""Time `manage.py seed_demo` on PostgreSQL in a scratch database.

    .venv/bin/python bench/seed.py --customers 1000000

Creates the scratch database (dropping a leftover one), migrates it, seeds it, prints
rows, rows/s, orders per customer, the one-off share and peak memory, then drops it
(unless --keep). The server comes from DATABASE_URL (default: local, user postgres).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
TABLES = [
    "customers_customer",
    "customers_order",
    "customers_return",
    "customers_customer_tags",
    "customers_consentevent",
    "customers_interaction",
    "customers_followup",
]


def scratch_urls(database: str) -> tuple[str, str]:
    """(maintenance database URL, scratch database URL) on the server of DATABASE_URL."""
    server = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    if not server.scheme.startswith("postgres"):
        sys.exit("the benchmarks need a PostgreSQL DATABASE_URL")
    return (
        urlunparse(server._replace(path="/postgres")),
        urlunparse(server._replace(path=f"/{database}")),
    )


def create_database(admin_url: str, database: str) -> None:
    """An empty scratch database (a leftover one of the same name is dropped first)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')


def drop_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')


def database_exists(admin_url: str, database: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        return found.fetchone() is not None


def manage(scratch_url: str, *args: str) -> None:
    """Run a management command of this project against the scratch database."""
    env = {**os.environ, "DATABASE_URL": scratch_url}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def migrate_and_seed(scratch_url: str, *, customers: int, seed: int, end_date: str) -> float:
    """Migrate the scratch database and run seed_demo; returns seed_demo's wall time."""
    manage(scratch_url, "migrate", "-v0")
    started = time.perf_counter()
    manage(scratch_url, "seed_demo", "--customers", str(customers), "--seed", str(seed),
           "--end-date", end_date)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end-date", default="2026-01-01")
    parser.add_argument("--database", default="rapport_seedbench", help="scratch database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    admin_url, scratch_url = scratch_urls(args.database)
    create_database(admin_url, args.database)
    try:
        seconds = migrate_and_seed(
            scratch_url, customers=args.customers, seed=args.seed, end_date=args.end_date
        )
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with psycopg.connect(scratch_url) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608
            one_off = conn.execute(
                "SELECT avg((n = 1)::int) FROM (SELECT count(*) n FROM customers_order "
                "GROUP BY customer_id) x"
            ).fetchone()[0]
            returned = conn.execute(
                "SELECT count(*)::float / (SELECT count(*) FROM customers_order "
                "WHERE status = 'paid') FROM customers_return"
            ).fetchone()[0]
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = size.fetchone()[0]
    finally:
        if not args.keep:
            drop_database(admin_url, args.database)

    rows = sum(counts.values())
    customers = counts["customers_customer"]
    for table, n in counts.items():
        print(f"  {table:<26} {n:>12,}")
    print(f"rows {rows:,} in {seconds:.1f} s wall = {rows / seconds:,.0f} rows/s")
    print(f"orders/customer {counts['customers_order'] / customers:.2f}, one-off {one_off:.1%}, "
          f"returns/paid order {returned:.2%}")  # fmt: skip
    print(f"peak memory (seed_demo process) {peak_mb:,.0f} MB, database size {size}")


if __name__ == "__main__":
    main()
