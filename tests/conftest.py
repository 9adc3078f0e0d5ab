"""Shared fixtures. The Makefile runs the suite once per backend (VBA_TEST_DATABASE)."""

import warnings

import pytest
from django.db import connections

from tests.entities import MODELS
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


class ApiClient:
    """Real HTTP through Django's test client, with the headers every VBAPI call carries.

    Authentication lands in one place, ``credentials``: every API test goes through here.
    """

    def __init__(self, client, database="demo", credentials=None):
        self.client = client
        self.database = database
        self.credentials = credentials or {}
        self.username = "anonymous"  # the user the server records in entry_User / update_User

    def headers(self, database=..., **extra):
        headers = dict(self.credentials)
        database = self.database if database is ... else database
        if database is not None:
            headers["vbasoftware-database"] = database
        headers.update(extra)
        return headers

    def request(self, method, path, body=None, content_type="application/json", database=..., **headers):
        import orjson

        send = getattr(self.client, method.lower())
        if body is None:
            return send(path, headers=self.headers(database, **headers))
        data = body if isinstance(body, bytes | str) else orjson.dumps(body)
        return send(path, data, content_type=content_type, headers=self.headers(database, **headers))

    def put(self, path, body, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def delete(self, path, body=None, **kwargs):
        return self.request("DELETE", path, body, **kwargs)

    def log_in(self, username, password, key=..., database=...):
        """``POST /vbasoftware/user-authentication`` with Basic credentials (no bearer token)."""
        import base64

        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers = {"x-api-key": self.credentials.get("x-api-key") if key is ... else key}
        headers = {name: value for name, value in headers.items() if value is not None}
        headers["Authorization"] = f"Basic {basic}"
        database = self.database if database is ... else database
        if database is not None:
            headers["vbasoftware-database"] = database
        return self.client.post(LOGIN_ROUTE, headers=headers)

    def allow_database(self, name):
        """Let this client's API key and user use the client database ``name`` too."""
        from vbaproject.accounts.services import user_set_databases

        self.api_key.databases = [*self.api_key.databases, name]
        self.api_key.save()
        user_set_databases(self.user, [*self.user_databases, name])
        self.user_databases.append(name)


LOGIN_ROUTE = "/vbasoftware/user-authentication"
API_USERNAME = "api-user"
API_PASSWORD = "a-test-password-1"


@pytest.fixture
def api(client, db, settings):
    """An API client for the ``demo`` database (``api.database = "other"`` to switch).

    It is authenticated as a real client is: a fresh API key for ``demo`` and ``other``
    (``api.key``, ``api.api_key``), a user granted both (``api.user``, ``api.username``,
    ``api.password``), and an ID token from a real ``POST /vbasoftware/user-authentication``;
    the key and the token are in ``api.credentials``. Tests that send many requests are not
    throttled (tests/test_throttling.py sets its own rates), and passwords hash fast.
    """
    from django.contrib.auth import get_user_model

    from vbaproject.accounts.services import user_set_databases
    from vbaproject.models import ApiKey

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VBA_THROTTLE_RATE = 10_000
    settings.VBA_THROTTLE_BURST = 10_000
    api = ApiClient(client)
    api.api_key, api.key = ApiKey.objects.create_key(name="tests", databases=["demo", "other"])
    api.user = get_user_model().objects.create_user(API_USERNAME, password=API_PASSWORD)
    api.user_databases = ["demo", "other"]
    user_set_databases(api.user, api.user_databases)
    api.username, api.password = API_USERNAME, API_PASSWORD
    api.credentials = {"x-api-key": api.key}
    response = api.log_in(API_USERNAME, API_PASSWORD)
    assert response.status_code == 200, response.content
    api.id_token = response.json()["data"]["authenticationResult"]["idToken"]
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

