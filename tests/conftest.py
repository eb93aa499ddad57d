"""Personas and service gating shared by every test.

alice is an administrator, bob works in the retention team, charlie in support.
Tests that need a real service (PostgreSQL, Redis, a Celery worker, Chromium) call
``require_service``: without the service they skip with the reason, and under
``REQUIRE_SERVICES=1`` (CI) they fail instead, so nothing is silently skipped there.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from crm import roles
from customers import services

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")
PASSWORD = "correct-horse-battery-9"


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_available() -> bool:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def uses_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def require_postgres() -> None:
    require_service(uses_postgres(), "the tests run on SQLite (set DATABASE_URL to PostgreSQL)")


@pytest.fixture
def require_redis() -> None:
    require_service(redis_available(), "Redis is not reachable (set REDIS_URL)")


def _persona(username: str, role: str, first: str) -> object:
    user, _ = services.user_create(
        username=username,
        role=role,
        email=f"{username}@example.com",
        password=PASSWORD,
        first_name=first,
    )
    return user


@pytest.fixture
def alice(db):
    return _persona("alice", roles.ADMIN, "Alice")


@pytest.fixture
def bob(db):
    return _persona("bob", roles.RETENTION, "Bob")


@pytest.fixture
def charlie(db):
    return _persona("charlie", roles.SUPPORT, "Charlie")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return _client_for(bob)


@pytest.fixture
def charlie_client(charlie) -> Client:
    return _client_for(charlie)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # PBKDF2's deliberate slowness is for attackers, not for the test suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_api_rate_limit(monkeypatch) -> None:
    """The API's per-user rate limit counts in the cache, which outlives a test (and user
    ids repeat across tests): off unless a test sets a rate (tests/crm/test_api.py)."""
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", None)


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Tasks run in-process in tests, as on the embedded default, even when REDIS_URL is
    set; the integration tests that start a real worker switch this off."""
    from crm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
