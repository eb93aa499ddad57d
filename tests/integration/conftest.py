"""Real services for integration tests: an SMTP sink on loopback and a Celery worker.

The worker is a separate process (``celery -A crm worker``) on the real Redis broker,
reading the same PostgreSQL test database, so tests here use ``transactional_db``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import redis_available, require_service
from tests.smtp import SmtpSink, smtp_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    with smtp_server() as (sink, port):
        yield sink, port


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One ``celery worker`` process on the test's queue; it can be killed and restarted."""

    def __init__(self, queue: str, log: Path, env: dict[str, str], name: str) -> None:
        self.queue = queue
        self.log = log
        self.env = env
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "crm", "worker", "-Q", self.queue,
            "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "INFO", "-n", f"{self.name}@%h",
        ]  # fmt: skip
        starts = self.text().count(" ready.")
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while self.text().count(" ready.") <= starts:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"worker did not start:\n{self.text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, like a machine losing power."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            time.sleep(0.1)
        raise AssertionError(f"worker log never matched {pattern!r}:\n{self.text()[-3000:]}")


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Extra environment of the worker processes; override the fixture in a test module."""
    return {}


@pytest.fixture
def start_worker(transactional_db, smtp_sink, tmp_path, worker_env) -> Iterator:
    """Start worker processes on one queue of the test's own: ``start_worker(**env)``."""
    require_service(connection.vendor == "postgresql", "a worker process needs PostgreSQL")
    require_service(redis_available(), "Redis is not reachable (set REDIS_URL)")
    _, smtp_port = smtp_sink
    queue = f"rapport-test-{uuid.uuid4().hex[:8]}"
    workers: list[Worker] = []
    from crm.celery import app

    app.conf.task_always_eager = False  # restored by the autouse fixture in tests/conftest.py

    def start(**extra_env: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            **worker_env,
            **extra_env,
        }
        n = len(workers)
        worker = Worker(queue, tmp_path / f"worker{n}.log", env, f"{queue}-{n}")
        workers.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def celery_worker(start_worker) -> Worker:
    return start_worker()
