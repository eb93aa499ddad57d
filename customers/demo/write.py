"""Writing: explicit primary keys after the existing rows, COPY on PostgreSQL and
executemany elsewhere, one transaction a chunk of customers, the next chunk prepared
while the current one is written, and on PostgreSQL several writer connections.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Queue
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from customers import services
from customers.demo.generate import Generator
from customers.demo.params import BLOCK_SIZE, MARKETS, STAFF, TAGS, DemoConfig
from customers.demo.rows import TABLES, Prepared, _columns, _prepare

WRITERS = 2  # PostgreSQL connections writing chunks at once


def fx_rates() -> tuple[dict[str, float], list[str]]:
    """Base-currency rates for the market currencies, from settings; names any missing."""
    base = settings.DEFAULT_CURRENCY
    rates, missing = {}, []
    for market in MARKETS:
        if market.currency == base:
            rates[market.currency] = 1.0
        elif market.currency in settings.FX_RATES:
            rates[market.currency] = float(settings.FX_RATES[market.currency])
        else:  # cross rate through EUR from the demo's own price levels
            home = next((m.per_eur for m in MARKETS if m.currency == base), None)
            missing.append(market.currency)
            rates[market.currency] = (home or 1.0) / market.per_eur
    return rates, missing


class SeedConflict(RuntimeError):
    """Another session wrote to the tables while seeding; the current chunk was rolled back."""


class _Database:
    """Explicit primary keys after the existing rows; COPY on PostgreSQL, executemany
    elsewhere. Seeding expects no other writer: one that takes an id we planned makes
    its chunk roll back with SeedConflict (or a unique violation), never a partial chunk."""

    def __init__(self) -> None:
        self.pg = connection.vendor == "postgresql"
        self.qn = connection.ops.quote_name
        self.tables = {key: model._meta.db_table for key, model in TABLES.items()}
        self.sequences: dict[str, str] = {}
        self.superuser = False

    def last_ids(self) -> dict[str, int]:
        last = {}
        with connection.cursor() as cursor:
            if self.pg:
                cursor.execute("SELECT current_setting('is_superuser') = 'on'")
                self.superuser = cursor.fetchone()[0]
            for key, table in self.tables.items():
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.qn(table)}")  # noqa: S608
                last[key] = cursor.fetchone()[0]
                if self.pg:  # ids a session already drew from the sequence count as used
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                    self.sequences[key] = cursor.fetchone()[0]
                    cursor.execute(f"SELECT last_value, is_called FROM {self.sequences[key]}")  # noqa: S608
                    value, called = cursor.fetchone()
                    last[key] = max(last[key], value if called else 0)
        return last

    def write(self, prepared: Prepared, before: dict[str, int], after: dict[str, int]) -> None:
        """One chunk, one transaction; safe to run for several chunks at once."""
        with transaction.atomic(), connection.cursor() as cursor:
            if self.pg:
                cursor.execute("SET LOCAL synchronous_commit = off")
                if self.superuser:
                    # Skip the per-row foreign-key triggers, as pg_restore --disable-triggers
                    # does (they took a third of the load time); _check_references does the
                    # same check set-based before the commit.
                    cursor.execute("SET LOCAL session_replication_role = replica")
            for key, table in self.tables.items():
                if after[key] > before[key]:
                    taken = (
                        f"SELECT EXISTS (SELECT 1 FROM {self.qn(table)} WHERE id BETWEEN %s AND %s)"  # noqa: S608
                    )
                    cursor.execute(taken, [before[key] + 1, after[key]])
                    if cursor.fetchone()[0]:
                        raise SeedConflict(f"another session wrote to {table} while seeding")
            for key, columns, n, payload in prepared:
                if n:
                    self._write_table(cursor, key, columns, payload)
            if self.superuser:
                self._check_references(cursor, before, after)
                # SET LOCAL outlives a savepoint: inside an outer transaction (tests, a
                # caller's atomic block) the triggers must come back on here.
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            if self.pg:
                self._advance_sequences(cursor, after)

    def _advance_sequences(self, cursor: Any, after: dict[str, int]) -> None:
        """Later inserts without an id continue after ours. Chunks may commit out of order,
        so never move a sequence back; the lock makes read-then-set atomic between them."""
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('rapport.seed_demo'))")
        for key, value in after.items():
            if value > 0:
                seq = self.sequences[key]
                cursor.execute(
                    f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {seq})))",  # noqa: S608
                    [seq, value],
                )

    def _check_references(self, cursor: Any, before: dict[str, int], after: dict[str, int]) -> None:
        for key, model in TABLES.items():
            if after[key] == before[key]:
                continue
            for f in model._meta.concrete_fields:
                if not f.is_relation:
                    continue
                target = f.target_field
                cursor.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {self.qn(self.tables[key])} x "  # noqa: S608
                    f"WHERE x.id BETWEEN %s AND %s AND x.{self.qn(f.column)} IS NOT NULL "
                    f"AND NOT EXISTS (SELECT 1 FROM {self.qn(target.model._meta.db_table)} y "
                    f"WHERE y.{self.qn(target.column)} = x.{self.qn(f.column)}))",
                    [before[key] + 1, after[key]],
                )
                if cursor.fetchone()[0]:
                    raise RuntimeError(f"seed_demo wrote a dangling {model.__name__}.{f.name}")

    def _write_table(self, cursor: Any, key: str, columns: list[str], payload: Any) -> None:
        table, names = self.qn(self.tables[key]), ", ".join(map(self.qn, columns))
        if self.pg:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for text in payload:
                    copy.write(text)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", payload)  # noqa: S608


@dataclass
class SeedReport:
    created: dict[str, int]
    staff_created: list[str]
    seconds: float
    missing_fx: list[str]
    config: DemoConfig


def staff_ensure() -> tuple[list[int], list[str]]:
    """The demo staff, created when missing, with unusable passwords (demo_login sets them)."""
    User = get_user_model()
    ids, created = [], []
    for username, role, first_name, last_name in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            with transaction.atomic():
                user, _unused = services.user_create(
                    username=username,
                    role=role,
                    email=f"{username}@example.com",
                    first_name=first_name,
                    last_name=last_name,
                )
                user.set_unusable_password()
                user.save(update_fields=["password"])
            created.append(username)
        ids.append(user.pk)
    return ids, created


def seed_demo(
    *,
    customers: int,
    seed: int = 42,
    end_date: dt.date | None = None,
    years: int = 3,
    chunk_size: int = 50_000,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Generate and write a demo history; each chunk of customers is one transaction.

    The next chunk is generated and formatted while the current one is written. On
    PostgreSQL, outside a transaction, WRITERS connections write chunks side by side.
    """
    if customers < 1 or years < 1:
        raise ValueError("seed_demo needs at least one customer and one year")
    started = time.perf_counter()
    staff_ids, staff_created = staff_ensure()
    tags = services.tags_get_or_create(names=TAGS)
    rates, missing = fx_rates()
    config = DemoConfig(
        customers=customers,
        seed=seed,
        end_date=end_date or timezone.localdate(),
        years=years,
        block_size=block_size,
        time_zone=settings.TIME_ZONE,
        fx=rates,
    )
    generator = Generator(config)
    ctx = {"staff": np.array(staff_ids), "tags": np.array([t.pk for t in tags])}
    database = _Database()
    last = database.last_ids()
    created = dict.fromkeys(TABLES, 0)
    per_chunk = max(1, chunk_size // block_size)

    def prepare(first_block: int) -> tuple[Prepared, dict[str, int], dict[str, int]]:
        before, prepared = dict(last), []
        for b in range(first_block, min(first_block + per_chunk, generator.blocks)):
            block = generator.block(b)
            ids = {}
            for key in TABLES:
                ids[key] = last[key] + 1 + np.arange(block.rows(key), dtype=np.int64)
                last[key] += block.rows(key)
            for key in TABLES:
                columns = _columns(key, block.tables[key], ids, ctx)
                prepared.append(_prepare(key, columns, block.rows(key), database.pg))
        return prepared, before, dict(last)

    def written(prepared: Prepared) -> None:
        with lock:
            for key, _, n, _ in prepared:
                created[key] += n
            if progress:
                progress(created["customer"], customers)

    lock = threading.Lock()
    chunks = range(0, generator.blocks, per_chunk)
    # Several connections only outside a transaction: inside one (a test, a caller's
    # atomic block) other connections would neither see nor roll back with it.
    writers = min(WRITERS, len(chunks)) if database.pg and not connection.in_atomic_block else 1
    if writers > 1:
        _write_in_parallel(map(prepare, chunks), database, writers, written)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:  # prepare the next while writing
            pending = [pool.submit(prepare, start) for start in chunks[:1]]
            for following in [*chunks[1:], None]:
                prepared, before, after = pending.pop().result()
                if following is not None:
                    pending.append(pool.submit(prepare, following))
                database.write(prepared, before, after)
                written(prepared)
    return SeedReport(created, staff_created, time.perf_counter() - started, missing, config)


def _write_in_parallel(
    chunks: Iterator[tuple[Prepared, dict[str, int], dict[str, int]]],
    database: _Database,
    writers: int,
    written: Callable[[Prepared], None],
) -> None:
    """Chunks prepared here, written by threads with a connection and transaction each.

    On PostgreSQL the server, not Python, is the bottleneck: one backend spends a core
    keeping the order indexes up to date. A second connection made 1M customers load in
    200 s instead of 240 s on a two-core machine with default server settings. A chunk
    holds only rows that refer to each other or to rows that existed before, so chunks
    can commit in any order. After a failure no new chunk starts, and the error is raised
    once the chunks in flight have finished.
    """
    queue: Queue[Any] = Queue(maxsize=1)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while (item := queue.get()) is not None:
                if not errors:
                    try:
                        database.write(*item)
                        written(item[0])
                    except BaseException as error:  # re-raised in the calling thread
                        errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=work, daemon=True) for _ in range(writers)]
    for thread in threads:
        thread.start()
    try:
        for item in chunks:
            if errors:
                break
            queue.put(item)
    finally:
        for _ in threads:
            queue.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
