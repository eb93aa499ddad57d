import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_it_lists_every_environment_variable_in_env_example():
    settings_source = (ROOT / "crm" / "settings.py").read_text()
    used = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_source))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", example, flags=re.MULTILINE))
    assert used, "the settings read no variables?"
    assert used - listed == set()


def _settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DEBUG", "SECRET_KEY"}
    }
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'crm.settings'); "
        f"django.setup(); from django.conf import settings as s; print({expression})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )


def test_it_runs_on_the_embedded_default_with_nothing_set():
    result = _settings_in_subprocess(
        {},
        "s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND",
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "True" in result.stdout
    assert "console" in result.stdout


def test_it_switches_to_the_real_services_by_url():
    result = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://u:p@db.internal:5433/rapport",
            "REDIS_URL": "redis://cache.internal:6379/2",
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.internal:587",
        },
        "s.DATABASES['default']['HOST'], s.DATABASES['default']['PORT'], "
        "s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_HOST, s.EMAIL_USE_TLS",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "db.internal 5433 redis://cache.internal:6379/2 False smtp.internal True"
    )


def test_it_refuses_production_without_a_secret_key():
    result = _settings_in_subprocess({"DEBUG": "False"}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("value", ["PLNX", "12", "E"])
def test_it_refuses_a_malformed_default_currency(value):
    result = _settings_in_subprocess({"DEFAULT_CURRENCY": value}, "s.DEFAULT_CURRENCY")
    assert result.returncode != 0
    assert "DEFAULT_CURRENCY" in result.stderr


def test_it_turns_on_secure_cookies_and_hsts_in_production():
    result = _settings_in_subprocess(
        {"DEBUG": "False", "SECRET_KEY": "x" * 60},
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, "
        "s.SECURE_SSL_REDIRECT",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True True"
