"""The router: client databases are isolated, control tables stay in the control database."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from grievances.models import Grievance
from vbaproject.db.config import ImproperClientDatabases, parse_client_databases
from vbaproject.db.routing import NoClientDatabaseSelected, UnknownClientDatabase, using_client_database
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def _grievance(**values):
    item = sample_item(Grievance)
    item.pop("grievance_Key", None)
    return Grievance.objects.create(
        entry_Date="2024-01-01T00:00:00Z", update_Date="2024-01-01T00:00:00Z", **{**item, **values}
    )


def test_client_databases_are_isolated():
    with using_client_database("demo"):
        _grievance(subscriber_ID="DEMO1")
    with using_client_database("other"):
        assert not Grievance.objects.filter(subscriber_ID="DEMO1").exists()
        _grievance(subscriber_ID="OTHER1")
        assert Grievance.objects.count() == 1
    with using_client_database("demo"):
        assert list(Grievance.objects.values_list("subscriber_ID", flat=True)) == ["DEMO1"]


def test_an_entity_query_without_a_selection_fails_loudly():
    with pytest.raises(NoClientDatabaseSelected, match="using_client_database"):
        Grievance.objects.count()
    with pytest.raises(NoClientDatabaseSelected):
        _grievance()


def test_unknown_and_control_names_are_not_client_databases():
    for name in ["nope", "default"]:
        with pytest.raises(UnknownClientDatabase), using_client_database(name):
            pass


def test_control_tables_only_in_control_database_and_entity_tables_only_in_clients():
    tables = {
        alias: set(connections[alias].introspection.table_names()) for alias in ["default", "demo", "other"]
    }
    control = {"auth_user", "django_session", "django_admin_log"}
    entities = {
        "grievances_grievance",
        "auths_auth",
        "carecases_carecase",
        "carecases_carecaseclinicaltrial",
        "claims_claimpromptpay",
    }
    assert control <= tables["default"] and not entities & tables["default"]
    for alias in ["demo", "other"]:
        assert entities <= tables[alias] and not control & tables[alias]


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
