"""The router: client databases are isolated, control tables stay in the control database."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from grievances.models import Grievance
from tests.support.entities import ENTITY_TABLES
from tests.support.factories import make_record
from vbaproject.db.config import ImproperClientDatabases, parse_client_databases
from vbaproject.db.routing import NoClientDatabaseSelected, UnknownClientDatabase, using_client_database

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def test_client_databases_are_isolated():
    with using_client_database("demo"):
        make_record(Grievance, subscriber_ID="DEMO1")
    with using_client_database("other"):
        assert not Grievance.objects.filter(subscriber_ID="DEMO1").exists()
        make_record(Grievance, subscriber_ID="OTHER1")
        assert Grievance.objects.count() == 1
    with using_client_database("demo"):
        assert list(Grievance.objects.values_list("subscriber_ID", flat=True)) == ["DEMO1"]


def test_an_entity_query_without_a_selection_fails_loudly():
    with pytest.raises(NoClientDatabaseSelected, match="using_client_database"):
        Grievance.objects.count()
    with pytest.raises(NoClientDatabaseSelected):
        make_record(Grievance)


def test_unknown_and_control_names_are_not_client_databases():
    for name in ["nope", "default"]:
        with pytest.raises(UnknownClientDatabase), using_client_database(name):
            pass


def test_control_tables_only_in_control_database_and_entity_tables_only_in_clients():
    tables = {
        alias: set(connections[alias].introspection.table_names()) for alias in ["default", "demo", "other"]
    }
    control = {"auth_user", "django_session", "django_admin_log"}
    assert control <= tables["default"] and not ENTITY_TABLES & tables["default"]
    for alias in ["demo", "other"]:
        assert tables[alias] >= ENTITY_TABLES and not control & tables[alias]


def test_users_live_in_the_control_database_whatever_is_selected():
    with using_client_database("demo"):
        User.objects.create(username="carol")
    assert User.objects.using("default").filter(username="carol").exists()


@pytest.mark.parametrize(
    "raw",
    ['{"default": "sqlite:///x"}', "[]", "{}", "not json", '{"a b": "sqlite:///x"}', '{"a": 1}'],
)
def test_bad_database_configuration_is_refused(raw):
    with pytest.raises(ImproperClientDatabases):
        parse_client_databases(raw)


def test_any_mix_of_engines_can_be_configured():
    parsed = parse_client_databases(
        '{"a": "sqlite:////tmp/a.sqlite3", "b": "postgresql://u@db.example:5432/b", "c": "postgres://u@h/c"}'
    )
    assert [parsed[n]["ENGINE"] for n in "abc"] == [
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
        "django.db.backends.postgresql",
    ]
