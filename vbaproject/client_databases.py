"""Client databases: which ones are configured, which one a request works on, and the router.

Every call names its client database in the ``vbasoftware-database`` header. The five entity
apps live only in client databases; users, API keys, sessions and the admin log live in the
control database (alias ``default``). Selection is a context variable, so it follows the
request through threads and async code alike, and there is deliberately no fallback: an
entity query without a selected database is a bug, and it fails loudly.
"""

import contextlib
import contextvars
import json
import re

import dj_database_url
from django.conf import settings

CONTROL_DATABASE = "default"
ENTITY_APPS = frozenset({"carecases", "grievances", "claims", "auths"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

_selected = contextvars.ContextVar("vba_client_database", default=None)


class ImproperClientDatabases(ValueError):
    """``VBA_DATABASES`` cannot be understood."""


class NoClientDatabaseSelected(RuntimeError):
    """An entity model was queried outside ``using_client_database()``."""


class UnknownClientDatabase(LookupError):
    """The name is not one of the configured client databases."""


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


def client_database_names():
    """The configured client databases, in configuration order."""
    return [alias for alias in settings.DATABASES if alias != CONTROL_DATABASE]


def is_client_database(name):
    return isinstance(name, str) and name != CONTROL_DATABASE and name in settings.DATABASES


def selected_client_database():
    """The selected client database's alias; raises when none is selected."""
    alias = _selected.get()
    if alias is None:
        raise NoClientDatabaseSelected(
            "No client database is selected: wrap entity queries in using_client_database(name)."
        )
    return alias


def select_client_database(name):
    """Select ``name`` until ``release_client_database(token)``; prefer ``using_client_database``."""
    if not is_client_database(name):
        raise UnknownClientDatabase(name)
    return _selected.set(name)


def release_client_database(token):
    _selected.reset(token)


@contextlib.contextmanager
def using_client_database(name):
    """Send every entity query inside the block to the client database ``name``."""
    token = select_client_database(name)
    try:
        yield name
    finally:
        release_client_database(token)


class ClientDatabaseRouter:
    """Entity apps go to the selected client database; everything else to the control one."""

    def _route(self, model):
        if model._meta.app_label in ENTITY_APPS:
            return selected_client_database()
        return CONTROL_DATABASE

    def db_for_read(self, model, **hints):
        return self._route(model)

    def db_for_write(self, model, **hints):
        return self._route(model)

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label in ENTITY_APPS:
            return db != CONTROL_DATABASE
        return db == CONTROL_DATABASE
