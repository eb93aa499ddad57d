"""Benchmark of the outbox: 100,000 due survey emails through Celery workers to SMTP.

    .venv/bin/python bench/outbox.py --messages 100000 --workers 2 --runs 3

On PostgreSQL (scratch database from DATABASE_URL's server), Redis (REDIS_URL, default
db 15) and an aiosmtpd sink in its own process on loopback. Each run:

1. queues one survey message per customer with ``messages_queue_bulk`` (timed), for
   customers with consent; 1% of them unsubscribed since, and 5% already had two
   marketing emails yesterday, so the contact limit (2 per 7 days) must hold theirs back;
2. starts ``--workers`` Celery worker processes and enqueues one ``send_due_messages``
   task per worker; the clock runs until no message is due any more;
3. checks what the sink received: every eligible customer exactly once, no Message-ID
   twice, nobody over the limit, nobody unsubscribed.

As the floor, the same number of prebuilt messages is sent over one smtplib connection
to the same sink in the same run (no database, no rendering, no checks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import ROOT, create_database, drop_database, manage, scratch_urls

SINK = r"""
import sys, time
from aiosmtpd.controller import Controller
out = open(sys.argv[2], "a", buffering=1)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        mid = ""
        for line in envelope.content.split(b"\r\n"):
            if not line:
                break
            if line[:11].lower() == b"message-id:":
                mid = line[11:].strip().decode()
        out.write(f"{','.join(envelope.rcpt_tos)}\t{mid}\n")
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""

SETUP_SQL = """
INSERT INTO customers_customer (source, external_id, email, name, phone, locale, country,
    acquisition_channel, created_at, updated_at)
SELECT 'bench', 'B' || g, 'customer' || g || '@example.com', 'Klient ' || g, '', 'pl', 'PL',
    'other', now(), now()
FROM generate_series(1, %(n)s) AS g;
INSERT INTO customers_consentevent (customer_id, purpose, granted, source, note, occurred_at)
SELECT c.id, p, true, 'form', '', now() - interval '30 days'
FROM customers_customer c, unnest(ARRAY['surveys', 'email_marketing']) AS p;
"""

RESET_SQL = """
TRUNCATE campaigns_message RESTART IDENTITY CASCADE;
DELETE FROM customers_consentevent WHERE source = 'unsubscribe';
INSERT INTO customers_consentevent (customer_id, purpose, granted, source, note, occurred_at)
SELECT id, 'surveys', false, 'unsubscribe', '', now() - interval '1 day'
FROM customers_customer WHERE id % 100 = 7;
INSERT INTO campaigns_message (customer_id, kind, template, context, status, send_after,
    attempts, to_email, subject, message_id, skip_reason, postponed, last_error, created_at,
    sent_at)
SELECT c.id, 'marketing', 'message', '{}', 'sent', now() - interval '1 day', 1, c.email,
    'Offer', '<bench-' || c.id || '-' || k || '@rapport>', '', 0, '',
    now() - interval '1 day', now() - interval '1 day' + k * interval '1 minute'
FROM customers_customer c, generate_series(1, 2) AS k WHERE c.id % 20 = 3;
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


POSTFIX_SINK = Path("/usr/sbin/smtp-sink")  # Debian package postfix: a C test server


class Sink:
    """The SMTP server the messages go to: postfix's smtp-sink (C) when installed, else
    aiosmtpd (Python, which then costs more CPU than the senders on 2 cores)."""

    def __init__(self, kind: str, port: int, folder: Path) -> None:
        self.kind, self.port, self.folder = kind, port, folder
        self.log = folder / "sink.txt"
        self.dumps = folder / "dumps"
        if kind == "postfix":
            self.dumps.mkdir(exist_ok=True)
            shutil.chown(self.dumps, "postfix")
            self.process = subprocess.Popen(
                [str(POSTFIX_SINK), "-u", "postfix", "-d", f"{self.dumps}/m",
                 f"127.0.0.1:{port}", "256"]
            )  # fmt: skip
            time.sleep(0.5)
        else:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SINK, str(port), str(self.log)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.process.stdout is not None
            assert self.process.stdout.readline().strip() == "ready"

    def reset(self) -> None:
        self.log.write_text("")
        if self.kind == "postfix":
            for f in self.dumps.iterdir():
                f.unlink()

    def received(self) -> list[tuple[str, str]]:
        """(recipient, Message-ID) of every message accepted so far."""
        if self.kind != "postfix":
            return [tuple(ln.split("\t")) for ln in self.log.read_text().splitlines() if ln]
        out = []
        for f in self.dumps.iterdir():
            to = mid = ""
            for line in f.read_bytes().split(b"\n"):
                low = line[:11].lower()
                if low.startswith(b"to:") and not to:
                    to = line[3:].strip().decode()
                elif low == b"message-id:":
                    mid = line[11:].strip().decode()
                if to and mid:
                    break
            out.append((to, mid))
        return out

    def stop(self) -> None:
        self.process.kill()


def floor_smtp(port: int, n: int) -> float:  # one connection, prebuilt messages
    """Seconds to send n small prebuilt messages over one smtplib connection."""
    messages = []
    for i in range(n):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "r@localhost", f"floor{i}@example.com", "Floor"
        m.set_content("How did we do? " * 20)
        messages.append(m)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for m in messages:
            smtp.send_message(m)
    return time.perf_counter() - started


def queue_messages(env: dict[str, str]) -> float:
    code = (
        "import django, time; django.setup();"
        "from campaigns.services.outbox import messages_queue_bulk;"
        "from customers.models import Customer;"
        "ids = list(Customer.objects.values_list('id', flat=True));"
        "t = time.perf_counter();"
        "specs = [{'customer': i, 'kind': 'survey', 'template': 'message',"
        " 'dedupe_key': f'bench:{i}', 'context': {'subject': 'How did we do?',"
        " 'body': 'Two minutes of your time?'}} for i in ids];"
        "[messages_queue_bulk(specs=specs[s:s + 20000]) for s in range(0, len(specs), 20000)];"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def run_once(url: str, env: dict[str, str], workers: int, sink: Sink) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in RESET_SQL.split(";")[:-1]:
            conn.execute(statement)
    sink.reset()
    queue_seconds = queue_messages(env)
    queue = f"bench-{os.getpid()}"
    procs = []
    for w in range(workers):
        log = open(sink.folder / f"worker{w}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "crm",
                    "worker",
                    "-Q",
                    queue,
                    "--pool",
                    "solo",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "WARNING",
                    "-n",
                    f"{queue}-{w}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    time.sleep(6)  # worker start-up is not part of the send time
    code = (
        "import django; django.setup();"
        "from campaigns.tasks import send_due_messages;"
        f"[send_due_messages.apply_async(queue={queue!r}) for _ in range({workers})]"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
        while True:
            left = conn.execute(
                "SELECT count(*) FROM campaigns_message WHERE status = 'sending'"
                " OR (status = 'pending' AND send_after <= now())"
            ).fetchone()[0]
            if left == 0:
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        statuses = dict(
            conn.execute(
                "SELECT status || coalesce(nullif(':' || skip_reason, ':'), ''), count(*)"
                " FROM campaigns_message WHERE kind = 'survey' GROUP BY 1"
            ).fetchall()
        )
        postponed = conn.execute(
            "SELECT count(*) FROM campaigns_message WHERE kind = 'survey' AND postponed > 0"
        ).fetchone()[0]
        capped_customers = conn.execute(
            "SELECT count(*) FROM customers_customer WHERE id % 20 = 3"
        ).fetchone()[0]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    time.sleep(0.5)
    lines = sink.received()
    recipients = [r for r, _ in lines]
    ids = [m for _, m in lines]
    over_limit = sum(
        1 for r in recipients if int(r.split("@")[0].removeprefix("customer")) % 20 == 3
    )
    unsubscribed = sum(
        1 for r in recipients if int(r.split("@")[0].removeprefix("customer")) % 100 == 7
    )
    return {
        "queue_seconds": round(queue_seconds, 2),
        "send_seconds": round(seconds, 2),
        "received": len(lines),
        "per_second": round(len(lines) / seconds),
        "duplicate_recipients": len(recipients) - len(set(recipients)),
        "duplicate_message_ids": len(ids) - len(set(ids)),
        "sent_to_capped_customers": over_limit,
        "sent_to_unsubscribed": unsubscribed,
        "postponed": postponed,
        "capped_customers": capped_customers,
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="rapport_bench_outbox")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--sink", choices=["auto", "postfix", "aiosmtpd"], default="auto")
    args = parser.parse_args()

    admin_url, url = scratch_urls(args.database)
    create_database(admin_url, args.database)
    tmp = Path(tempfile.mkdtemp(prefix="rapport-outbox-"))
    tmp.chmod(0o755)
    port = free_port()
    kind = (
        args.sink if args.sink != "auto" else ("postfix" if POSTFIX_SINK.exists() else "aiosmtpd")
    )
    sink = Sink(kind, port, tmp)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "False",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "localhost",
    }
    try:
        manage(url, "migrate", "-v0")
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in SETUP_SQL.split(";")[:-1]:
                conn.execute(statement.replace("%(n)s", str(int(args.messages))))
        runs = []
        for i in range(args.runs):
            floor = floor_smtp(port, args.messages // 10) * 10
            result = run_once(url, env, args.workers, sink)
            result["floor_smtp_seconds"] = round(floor, 2)
            result["ratio_to_floor"] = round(result["send_seconds"] / floor, 2)
            runs.append(result)
            print(f"run {i + 1}: {json.dumps(result)}", flush=True)
        summary = {
            "messages": args.messages,
            "sink": kind,
            "workers": args.workers,
            "cores": os.cpu_count(),
            "median_send_seconds": statistics.median(r["send_seconds"] for r in runs),
            "median_per_second": statistics.median(r["per_second"] for r in runs),
            "median_floor_seconds": statistics.median(r["floor_smtp_seconds"] for r in runs),
            "median_ratio_to_floor": statistics.median(r["ratio_to_floor"] for r in runs),
            "median_queue_seconds": statistics.median(r["queue_seconds"] for r in runs),
            "duplicates": sum(r["duplicate_recipients"] + r["duplicate_message_ids"] for r in runs),
            "limit_violations": sum(r["sent_to_capped_customers"] for r in runs),
            "sent_to_unsubscribed": sum(r["sent_to_unsubscribed"] for r in runs),
        }
        print(json.dumps(summary, indent=2))
    finally:
        sink.stop()
        if not args.keep:
            drop_database(admin_url, args.database)


if __name__ == "__main__":
    main()
