"""Database URLs into Django ``DATABASES`` entries; read by the settings and nothing else.

``DATABASE_URL`` is the control database (users, API keys, sessions, the admin log);
``VBA_DATABASES`` is a JSON object of client database name to URL, or to an object with the URL
and that database's limits (README, *Client databases*; ``vbaproject.db.limits``).
"""

import json
import re
from dataclasses import replace

import dj_database_url

from vbaproject.db.limits import Limits

CONTROL_DATABASE = "default"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ImproperClientDatabases(ValueError):
    """``VBA_DATABASES`` cannot be understood."""


LIMIT_FIELDS = {"statement_timeout": float, "lock_timeout": float, "max_requests": int}


def database_config(url, limits=None):
    """A Django DATABASES entry for a URL, tuned for many small concurrent writes.

    A client database's ``limits`` (``vbaproject.db.limits.Limits``) are kept as ``LIMITS``.
    """
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if limits is not None:
        config["LIMITS"] = limits
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE transactions take the write lock up front, so two writers queue for it
        # instead of one failing with "database is locked" when it upgrades a read lock.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            # How long a writer waits for the write lock before "database is locked".
            "timeout": (limits.lock_timeout if limits and limits.lock_timeout else 30),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


def _client_limits(name, entry, defaults):
    """The URL and ``Limits`` of one ``VBA_DATABASES`` entry: a URL, or an object with ``url``."""
    if isinstance(entry, str):
        return entry, defaults
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise ImproperClientDatabases(
            f'VBA_DATABASES: {name!r} must be a URL string or an object with a "url" string'
        )
    unknown = set(entry) - {"url", *LIMIT_FIELDS}
    if unknown:
        raise ImproperClientDatabases(f"VBA_DATABASES: {name!r} has unknown settings {sorted(unknown)}")
    values = {}
    for field, kind in LIMIT_FIELDS.items():
        if field in entry:
            value = entry[field]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ImproperClientDatabases(
                    f"VBA_DATABASES: {name!r}: {field} must be a number of at least 0 (0 turns it off)"
                )
            values[field] = kind(value)
    return entry["url"], replace(defaults, **values)


def parse_client_databases(raw, defaults=None):
    """Parse ``VBA_DATABASES`` (a JSON object of name to URL or to ``{"url", limits...}``) into
    DATABASES entries; limits not given are ``defaults`` (by default from the environment)."""
    defaults = Limits.from_env() if defaults is None else defaults
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
        url, limits = _client_limits(name, url, defaults)
        databases[name] = database_config(url, limits)
    return databases
