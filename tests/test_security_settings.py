"""HTTPS and secret-key settings (vbaproject/settings.py, README *Deployment*).

``manage.py check --deploy`` runs in a subprocess under the documented production environment,
deploy/vbaproject.env.example (its placeholders filled in), and must be clean at warning level;
without ``DJANGO_HTTPS`` the same check reports the four warnings the issue found (so the test
can tell). The settings refuse to start without ``DJANGO_SECRET_KEY`` unless in debug mode.
The HTTPS behaviour itself (redirect, HSTS, secure cookies, the proxy's header, plain-HTTP
health checks) is exercised through Django's test client with the settings the environment
gives.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.factories import StaffFactory

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / "deploy" / "vbaproject.env.example"
PASSWORD = "a-long-test-password"


def example_environment(tmp_path):
    """deploy/vbaproject.env.example as systemd reads it, with its placeholders filled in."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    assert values["DJANGO_SECRET_KEY"].startswith("change-me") and values["VBA_JWT_SECRET"].startswith(
        "change-me"
    )
    values["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    values["VBA_JWT_SECRET"] = secrets.token_urlsafe(64)
    values["VBA_VAR_DIR"] = str(tmp_path)
    return values


def base_environment():
    """This process's environment without the project's variables (the test settings' included)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VBA_", "GUNICORN_")) and key != "DATABASE_URL"
    }


def run_manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base_environment(), "DJANGO_SETTINGS_MODULE": "vbaproject.settings", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_deploy_is_clean_under_the_documented_production_environment(tmp_path):
    env = example_environment(tmp_path)
    assert env["DJANGO_HTTPS"] == "1"
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_https_check_deploy_reports_what_the_issue_found(tmp_path):
    env = {**example_environment(tmp_path), "DJANGO_HTTPS": "0", "DJANGO_HSTS_PRELOAD": "0"}
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ["security.W004", "security.W008", "security.W012", "security.W016"]:
        assert warning in result.stderr


def test_no_secret_key_no_start_unless_debug(tmp_path):
    env = example_environment(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    refused = run_manage(env, "check")
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "DJANGO_SECRET_KEY is not set" in refused.stderr
    debug = run_manage({**env, "DJANGO_DEBUG": "true", "DJANGO_HTTPS": "0"}, "check")
    assert debug.returncode == 0, debug.stderr
    assert "public development key" in debug.stderr


SETTINGS_PRINTED = [
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
]


def settings_under(env):
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SETTINGS_PRINTED!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **base_environment(),
            "DJANGO_SETTINGS_MODULE": "vbaproject.settings",
            "DJANGO_SECRET_KEY": "x" * 60,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_https_variables():
    assert settings_under({}) == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    assert settings_under({"DJANGO_HTTPS": "true"}) == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    # Each has its own override.
    assert settings_under(
        {
            "DJANGO_HTTPS": "true",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_HSTS_SECONDS": "3600",
            "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "0",
            "DJANGO_HSTS_PRELOAD": "1",
            "DJANGO_SESSION_COOKIE_SECURE": "no",
            "DJANGO_CSRF_COOKIE_SECURE": "off",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Scheme: https",
        }
    ) == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_SCHEME", "https"],
    }
    assert (
        settings_under({"DJANGO_HTTPS": "true", "DJANGO_SECURE_PROXY_SSL_HEADER": "off"})[
            "SECURE_PROXY_SSL_HEADER"
        ]
        is None
    )


@pytest.fixture
def https(settings):
    """The settings DJANGO_HTTPS=true gives (test_the_https_variables checks the mapping)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db(databases=["default", "demo", "other"])
def test_over_https_behind_the_proxy(client, https):
    plain = client.get("/admin/login/", headers={"X-Forwarded-Proto": "http"})
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/admin/login/"
    page = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.cookies["csrftoken"]["secure"]
    StaffFactory(username="clerk", password=PASSWORD, databases=["demo"])
    login = client.post(
        "/admin/login/",
        {"username": "clerk", "password": PASSWORD, "next": "/admin/"},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert login.status_code == 302 and login.cookies["sessionid"]["secure"]


@pytest.mark.django_db(databases=["default", "demo", "other"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks_stay_reachable_over_plain_http(client, https, path):
    response = client.get(path, headers={"X-Forwarded-Proto": "http"})
    assert response.status_code != 301 and "Location" not in response
