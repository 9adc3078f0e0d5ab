"""Shared fixtures. The Makefile runs the suite once per backend (VBA_TEST_DATABASE).

What they are built from lives in tests/support/: the entity cases, the envelope checks, the
factories and the API client.
"""

import warnings

import pytest
from django.db import connections

from tests.support.api import API_PASSWORD, API_USERNAME, ApiClient, id_token_of
from tests.support.entities import MODELS
from tests.support.factories import ApiKeyFactory, UserFactory
from vbaproject.db.operations import sequence_name
from vbaproject.db.routing import using_client_database
from vbaproject.spec.entities import entity_spec


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL pass of make test)")
    for item in items:
        if "postgres" in item.keywords and connections["demo"].vendor != "postgresql":
            item.add_marker(skip)


@pytest.fixture
def demo_db(db, django_db_blocker):
    """Select the ``demo`` client database for the test."""
    with using_client_database("demo"):
        yield "demo"


@pytest.fixture
def api(client, db, settings):
    """An API client for the ``demo`` database (``api.database = "other"`` to switch).

    It is authenticated as a real client is: a fresh API key for ``demo`` and ``other``
    (``api.key``, ``api.api_key``), a user granted both (``api.user``, ``api.username``,
    ``api.password``), and an ID token from a real ``POST /vbasoftware/user-authentication``;
    the key and the token are in ``api.credentials``. Tests that send many requests are not
    throttled (tests/test_throttling.py sets its own rates), and passwords hash fast.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VBA_THROTTLE_RATE = 10_000
    settings.VBA_THROTTLE_BURST = 10_000
    api = ApiClient(client)
    api.api_key = ApiKeyFactory(name="tests", databases=["demo", "other"])
    api.key = api.api_key.key
    api.user_databases = ["demo", "other"]
    api.user = UserFactory(username=API_USERNAME, password=API_PASSWORD, databases=api.user_databases)
    api.username, api.password = API_USERNAME, API_PASSWORD
    api.credentials = {"x-api-key": api.key}
    api.id_token = id_token_of(api.log_in(API_USERNAME, API_PASSWORD))
    api.credentials["Authorization"] = f"Bearer {api.id_token}"
    return api


@pytest.fixture
def keep_key_sequences(db):
    """Put the PostgreSQL key sequences back as they were after the test (a rollback does not).

    A test that writes a key at the top of the 32-bit range moves its sequence there; later
    tests that insert through the ORM would then find it exhausted.
    """
    saved = {}
    for alias in ("demo", "other"):
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            for model in MODELS:
                meta = model._meta
                if entity_spec(model).integer_key:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
                    sequence = cursor.fetchone()[0]
                else:
                    sequence = connection.ops.quote_name(sequence_name(model))
                cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
                saved[alias, sequence] = cursor.fetchone()
    yield
    for (alias, sequence), (last, called) in saved.items():
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT setval(%s::regclass, %s, %s)", [sequence, last, called])


@pytest.fixture
def offline_database(settings):
    """A configured client database, ``offline``, whose server cannot be reached.

    Added to DATABASES (a new dict), with its connection made here rather than listed in
    ``connections.settings``: Django's test case forbids connections to listed databases a
    test did not ask for, and this one has no test copy.
    """
    from django.db.utils import load_backend

    offline = {**connections["demo"].settings_dict}
    if offline["ENGINE"].endswith("sqlite3"):
        offline["NAME"] = "/nonexistent/directory/offline.sqlite3"
    else:
        offline.update(HOST="127.0.0.1", PORT="1", NAME="offline")
    with warnings.catch_warnings():  # "Overriding setting DATABASES": deliberate here
        warnings.simplefilter("ignore", UserWarning)
        settings.DATABASES = {**settings.DATABASES, "offline": offline}
    connections["offline"] = load_backend(offline["ENGINE"]).DatabaseWrapper(offline, "offline")
    yield "offline"
    connections["offline"].close()
    del connections["offline"]


@pytest.fixture(autouse=True)
def fresh_memory_cache():
    """Counts one test leaves in the cache (failed logins, throttles) do not reach the next: the
    default cache, when it is this process's memory, is emptied before each test (a Redis cache
    is never touched here)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()
