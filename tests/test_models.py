"""The five models against the VBAPI field rules (constraints file copied from shared/spec)."""

import pytest
from django.db import connections

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from grievances.models import Grievance
from tests.support.constraints import CONSTRAINTS, EACH_RULE
from tests.support.entities import BY_NAME, EACH_MODEL
from vbaproject.spec.entities import entity_spec

KINDS = {
    "Integer": "integer",
    "Float": "number",
    "Boolean": "boolean",
    "Time": "datetime",
    "String": "string",
}
pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def test_every_documented_field_and_no_other():
    for entity, fields in CONSTRAINTS["entities"].items():
        assert [f.name for f in entity_spec(BY_NAME[entity]).fields] == list(fields)


@EACH_RULE
def test_field_follows_its_rule(entity, name, rule):
    field = {f.name: f for f in entity_spec(BY_NAME[entity]).fields}[name]
    assert field.kind == KINDS[rule["type"]]
    assert field.nullable == rule["nullable"]
    if not field.is_audit:
        assert field.required == rule["required"]
    assert field.max_length == rule["max_length"]
    assert field.min_length == rule["min_length"]
    assert " ".join(field.description.split()) == " ".join(rule["description"].split())
    if "db_default" in rule and not field.is_key:
        assert field.model_field.db_default is (rule["db_default"] == "True")


@EACH_MODEL
def test_database_columns_carry_the_limits(model, demo_db):
    """The limits live in the database too: varchar(n), NOT NULL where the document says so."""
    db = connections[demo_db]
    with db.cursor() as cursor:
        description = {
            c.name: c for c in db.introspection.get_table_description(cursor, model._meta.db_table)
        }
    for field in entity_spec(model).fields:
        column = description[field.column]
        assert bool(column.null_ok) == (field.nullable and not field.is_key), field.name
        if field.max_length and db.vendor == "postgresql":
            assert column.display_size == field.max_length or column.internal_size == field.max_length


def test_boolean_database_defaults_apply_when_a_row_leaves_them_out(demo_db):
    db = connections[demo_db]
    quote = db.ops.quote_name
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Auth._meta.db_table)} ({quote('auth_Number')}, {quote('tPlan_Printed')}, "
            f"{quote('entry_Date')}, {quote('update_Date')}) VALUES ('D1', 'N', %s, %s)",
            ["2024-01-01 00:00:00", "2024-01-01 00:00:00"],
        )
    auth = Auth.objects.get(pk="D1")
    assert (
        auth.closed,
        auth.new_Or_Extended,
        auth.previous_Treatment,
        auth.tPlan_DownLoaded,
        auth.urgent,
    ) == (
        False,
        False,
        False,
        False,
        False,
    )


def test_indexes_where_people_filter(demo_db):
    db = connections[demo_db]
    with db.cursor() as cursor:
        constraints = db.introspection.get_constraints(cursor, Grievance._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    for columns in [  # (field, key): filters and sorts on the field (vbaproject.db.indexes)
        ("grievance_Status", "grievance_Key"),
        ("grievance_Type", "grievance_Key"),
        ("provider_ID", "grievance_Key"),
        ("grievance_Received", "grievance_Key"),
        ("subscriber_ID", "member_Seq"),
    ]:
        assert columns in indexed


def test_clinical_trial_references_a_care_case_of_the_same_database():
    field = CareCaseClinicalTrial._meta.get_field("case_Key")
    assert field.related_model is CareCase and field.null and field.column == "case_Key"
    assert entity_spec(CareCaseClinicalTrial).references[0][1] is CareCase


def test_json_names_are_the_model_field_names():
    names = [f.name for f in entity_spec(Auth).fields]
    assert {"drG_Code", "tPlan_DownLoaded", "auth_Number", "ivR_Flag"} <= set(names)
