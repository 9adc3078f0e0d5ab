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
