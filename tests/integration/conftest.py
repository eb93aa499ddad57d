"""Real services for integration tests: an SMTP sink on loopback and a Celery worker.

The worker is a separate process (``celery -A crm worker``) on the real Redis broker,
reading the same PostgreSQL test database, so tests here use ``transactional_db``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import redis_available, require_service

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, queue: str, log: Path) -> None:
        self.queue = queue
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            time.sleep(0.1)
        raise AssertionError(f"worker log never matched {pattern!r}:\n{self.text()[-3000:]}")


@pytest.fixture
def celery_worker(transactional_db, smtp_sink, tmp_path) -> Iterator[Worker]:
    require_service(connection.vendor == "postgresql", "a worker process needs PostgreSQL")
    require_service(redis_available(), "Redis is not reachable (set REDIS_URL)")
    _, smtp_port = smtp_sink
    queue = f"rapport-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "crm", "worker", "-Q", queue, "--pool", "solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        "-n", f"{queue}@%h",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    worker = Worker(queue, log)
    from crm.celery import app

    app.conf.task_always_eager = False  # restored by the autouse fixture in tests/conftest.py
    try:
        worker.wait_for_log(r"ready\.", timeout=60)
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
