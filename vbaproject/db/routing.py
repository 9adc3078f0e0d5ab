"""Which client database a request works on, and the router that sends entity queries there.

Every API call names its client database in the ``vbasoftware-database`` header; every admin
request works on the database its user chose. The entity apps live only in client databases;
users, API keys, sessions and the admin log live in the control database (alias ``default``).
Selection is a context variable, so it follows the request through threads and async code
alike, and there is deliberately no fallback: an entity query without a selected database is
a bug, and it fails loudly.
"""

import contextlib
import contextvars

from django.conf import settings

from vbaproject.apps import is_client_app
from vbaproject.db.config import CONTROL_DATABASE

_selected = contextvars.ContextVar("vba_client_database", default=None)


class NoClientDatabaseSelected(RuntimeError):
    """An entity model was queried outside ``using_client_database()``."""


class UnknownClientDatabase(LookupError):
    """The name is not one of the configured client databases."""


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
    """Client-database apps (the entities, their history) go to the selected client database;
    everything else to the control one."""

    def _route(self, model):
        if is_client_app(model._meta.app_label):
            return selected_client_database()
        return CONTROL_DATABASE

    def db_for_read(self, model, **hints):
        return self._route(model)

    def db_for_write(self, model, **hints):
        return self._route(model)

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if is_client_app(app_label):
            return db != CONTROL_DATABASE
        return db == CONTROL_DATABASE
