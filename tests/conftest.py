"""Shared fixtures. The Makefile runs the suite once per backend (VBA_TEST_DATABASE)."""

import os

import pytest
from django.db import connections

from vbaproject.client_databases import CONTROL_DATABASE, client_database_names, using_client_database

BACKEND = os.environ.get("VBA_TEST_DATABASE", "sqlite")
ALL_DATABASES = [CONTROL_DATABASE, *client_database_names()]


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
def all_databases(request):
    """Enable every configured database for a test (control and clients)."""
    return ALL_DATABASES


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


@pytest.fixture
def api(client):
    """An API client for the ``demo`` database (``api.database = "other"`` to switch)."""
    return ApiClient(client)
