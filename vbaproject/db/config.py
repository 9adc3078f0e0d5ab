"""Database URLs into Django ``DATABASES`` entries; read by the settings and nothing else.

``DATABASE_URL`` is the control database (users, API keys, sessions, the admin log);
``VBA_DATABASES`` is a JSON object of client database name to URL (README, *Client databases*).
"""

import json
import re

import dj_database_url

CONTROL_DATABASE = "default"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ImproperClientDatabases(ValueError):
    """``VBA_DATABASES`` cannot be understood."""


def database_config(url):
    """A Django DATABASES entry for a URL, tuned for many small concurrent writes."""
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE transactions take the write lock up front, so two writers queue for it
        # instead of one failing with "database is locked" when it upgrades a read lock.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


def parse_client_databases(raw):
    """Parse ``VBA_DATABASES`` (a JSON object of name to URL) into DATABASES entries."""
    try:
        mapping = json.loads(raw)
    except ValueError as exc:
        raise ImproperClientDatabases(f"VBA_DATABASES is not valid JSON: {exc}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise ImproperClientDatabases("VBA_DATABASES must be a non-empty JSON object of name to URL")
    databases = {}
    for name, url in mapping.items():
        if name == CONTROL_DATABASE or not NAME_PATTERN.match(name):
            raise ImproperClientDatabases(f"VBA_DATABASES: {name!r} is not a usable database name")
        if not isinstance(url, str):
            raise ImproperClientDatabases(f"VBA_DATABASES: the URL of {name!r} must be a string")
        databases[name] = database_config(url)
    return databases
