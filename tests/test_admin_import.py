"""The admin's import (vbaproject/admin/imports.py) through real requests on real client databases.

A file's rows get the batch route's own outcome: the preview shows what ``validateOnly`` answers
for the same items through the API, and writes nothing; applying writes exactly the rows that
pass through the engine (audit fields, assigned keys, history as ``admin`` writes by the user),
or nothing with *all or none*. CSV (the export's own file round-trips) and XLSX; limits refused.
"""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from grievances.models import Grievance
from tests.support.answers import data_of
from tests.support.factories import OLD, StaffFactory, make_record
from vbaproject.admin.sites import site_name
from vbaproject.api.routes import batch_route
from vbaproject.db.routing import using_client_database
from vbaproject.history.selectors import record_history
from vbaproject.models import PendingImport, UserProfile

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

HEADER = ["grievance_Key", "subscriber_ID", "member_Seq", "grievance_Status", "issue", "grievance_Received"]
BAD_DATE = "2024-02-30 10:00"


def admin_url(view, *args, database="demo"):
    return reverse(f"admin:grievances_grievance_{view}", args=args, current_app=site_name(database))


def csv_file(rows, name="grievances.csv", header=HEADER):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    upload = io.BytesIO(buffer.getvalue().encode())
    upload.name = name
    return upload


def xlsx_file(rows, header=HEADER):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    upload = io.BytesIO()
    workbook.save(upload)
    upload.seek(0)
    upload.name = "grievances.xlsx"
    return upload


def grievances(database="demo"):
    with using_client_database(database):
        return {g.pk: g for g in Grievance.objects.all()}


def preview_rows(response):
    """``[(row, status, result)]`` of the preview or result table."""
    page = response.content.decode()
    rows = re.findall(
        r'data-row="(\d+)" data-status="(\d+)">.*?<td><strong>\d+</strong></td>\s*<td[^>]*>(.*?)</td>',
        page,
        re.S,
    )
    return [(int(number), int(status), text.strip()) for number, status, text in rows]


@pytest.fixture
def clerk():
    user = StaffFactory(username="ivy.import", databases=["demo"])
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def existing():
    return make_record(Grievance, "demo", subscriber_ID="S615226", member_Seq="01", issue="before")


def three_rows(existing):
    """A new grievance, an update of ``existing`` and a row the API refuses."""
    return [
        ["", "S100001", "01", "OPEN", "Waited three weeks", "2024-06-03T13:28:00Z"],
        [existing.pk, "S615226", "01", "PENDING", "after", "2024-06-01T09:00:00Z"],
        ["", "S100002", "02", "OPEN", "Bad date", BAD_DATE],
    ]


def upload(client, file, expect=302):
    response = client.post(admin_url("import"), {"file": file})
    assert response.status_code == expect, response.content.decode()[:2000]
    return response


def test_the_preview_gives_each_row_the_batch_routes_answer_and_writes_nothing(clerk, existing, api):
    before = grievances()
    response = upload(clerk, csv_file(three_rows(existing)))
    preview = clerk.get(response["Location"])
    assert preview.status_code == 200
    rows = preview_rows(preview)
    assert [(n, s) for n, s, _ in rows] == [(2, 201), (3, 200), (4, 400)]
    assert rows[0][2] == "Created" and rows[1][2] == "Updated"
    # The API's own answer to the same items, with validateOnly: the same statuses and messages.
    items = [
        {
            "grievance_Key": 0,
            "subscriber_ID": "S100001",
            "member_Seq": "01",
            "grievance_Status": "OPEN",
            "issue": "Waited three weeks",
            "grievance_Received": "2024-06-03T13:28:00Z",
        },
        {
            "grievance_Key": existing.pk,
            "subscriber_ID": "S615226",
            "member_Seq": "01",
            "grievance_Status": "PENDING",
            "issue": "after",
            "grievance_Received": "2024-06-01T09:00:00Z",
        },
        {
            "grievance_Key": 0,
            "subscriber_ID": "S100002",
            "member_Seq": "02",
            "grievance_Status": "OPEN",
            "issue": "Bad date",
            "grievance_Received": BAD_DATE,
        },
    ]
    answers = data_of(api.put(f"{batch_route(Grievance)}?validateOnly=true", items), 207)
    assert [a["status"] for a in answers] == [s for _, s, _ in rows]
    assert answers[2]["body"] == rows[2][2]
    assert "grievance_Received" in rows[2][2] and "ISO 8601" in rows[2][2]
    assert 'id="vba-import-counts"' in preview.content.decode()
    # Nothing was written, and nothing recorded.
    after = grievances()
    assert after.keys() == before.keys() and after[existing.pk].issue == "before"
    with using_client_database("demo"):
        assert record_history(Grievance, existing.pk).count() == 1  # its creation only


def test_apply_writes_exactly_the_good_rows_through_the_engine(clerk, existing):
    before = set(grievances())
    preview_url = upload(clerk, csv_file(three_rows(existing)))["Location"]
    result = clerk.post(preview_url, {"on_error": "skip"})
    assert result.status_code == 200
    rows = preview_rows(result)
    assert [(n, s) for n, s, _ in rows] == [(2, 201), (3, 200), (4, 400)]
    after = grievances()
    (new_key,) = set(after) - before
    created, updated = after[new_key], after[existing.pk]
    assert created.subscriber_ID == "S100001" and created.issue == "Waited three weeks"
    assert created.grievance_Received == dt.datetime(2024, 6, 3, 13, 28, tzinfo=dt.UTC)
    assert created.entry_User == created.update_User == "ivy.import"  # the engine's audit fields
    assert updated.issue == "after" and updated.grievance_Status == "PENDING"
    assert updated.update_User == "ivy.import" and updated.entry_Date == OLD
    assert not any(g.subscriber_ID == "S100002" for g in after.values())
    assert f"/{new_key}/change/" in result.content.decode()  # the assigned key, linked
    with using_client_database("demo"):
        for key, action in ((new_key, "created"), (existing.pk, "changed")):
            entry = record_history(Grievance, key).first()
            assert (entry.history_user, entry.history_via) == ("ivy.import", "admin")
            assert entry.get_history_action_display() == action
    # The upload is taken by the apply: a second click writes nothing more.
    again = clerk.post(preview_url, {"on_error": "skip"})
    assert again.status_code == 302 and grievances().keys() == after.keys()
    assert not PendingImport.objects.exists()


def test_all_or_none_writes_nothing_when_a_row_fails(clerk, existing):
    before = grievances()
    preview_url = upload(clerk, csv_file(three_rows(existing)))["Location"]
    result = clerk.post(preview_url, {"on_error": "all"})
    assert [s for _, s, _ in preview_rows(result)] == [424, 424, 400]
    after = grievances()
    assert after.keys() == before.keys() and after[existing.pk].issue == "before"


def test_xlsx_cells_become_the_fields_values(clerk, existing):
    """Numbers typed into ID columns, real date cells (read in the user's time zone), and the key."""
    UserProfile.objects.create(user=clerk.user, time_zone="America/Chicago")
    rows = [
        [None, 100003, 1, "OPEN", "From Excel", dt.datetime(2024, 6, 3, 18, 30)],
        [existing.pk, "S615226", "01", "RESOLVED", "Updated from Excel", "2024-06-05T12:00:00Z"],
        [None, "S100004", "01", "OPEN", "Bad date", "not a date"],
    ]
    before = set(grievances())
    preview_url = upload(clerk, xlsx_file(rows))["Location"]
    assert [s for _, s, _ in preview_rows(clerk.get(preview_url))] == [201, 200, 400]
    assert set(grievances()) == before
    result = clerk.post(preview_url, {"on_error": "skip"})
    assert [s for _, s, _ in preview_rows(result)] == [201, 200, 400]
    after = grievances()
    (new_key,) = set(after) - before
    created = after[new_key]
    assert (created.subscriber_ID, created.member_Seq) == ("100003", "1")
    # 18:30 in Chicago (CDT, UTC-5) is 23:30 UTC.
    assert created.grievance_Received == dt.datetime(2024, 6, 3, 23, 30, tzinfo=dt.UTC)
    assert after[existing.pk].grievance_Status == "RESOLVED"


def test_the_csv_export_round_trips(clerk, existing):
    other = make_record(Grievance, "demo", issue='=HYPERLINK("x")', subscriber_ID="S2")
    before = grievances()
    exported = clerk.post(
        admin_url("changelist"),
        {"action": "export_csv", "_selected_action": [existing.pk, other.pk]},
    )
    assert exported.status_code == 200
    content = b"".join(exported.streaming_content) if exported.streaming else exported.content
    file = io.BytesIO(content)
    file.name = "export.csv"
    preview_url = upload(clerk, file)["Location"]
    preview = clerk.get(preview_url)
    assert [s for _, s, _ in preview_rows(preview)] == [200, 200]
    assert "entry_Date" in preview.content.decode()  # named as ignored: the server keeps them
    clerk.post(preview_url, {"on_error": "skip"})
    after = grievances()
    assert after.keys() == before.keys()
    for key, record in before.items():
        for field in Grievance._meta.concrete_fields:
            if field.name not in ("update_Date", "update_User"):
                assert getattr(after[key], field.name) == getattr(record, field.name), field.name
    assert after[other.pk].issue == '=HYPERLINK("x")'  # the export's apostrophe is taken off again


def test_files_that_cannot_be_imported_are_refused_before_anything(clerk, settings):
    settings.VBA_IMPORT_MAX_BYTES = 200
    big = csv_file([["", f"S{n:06}", "01", "OPEN", "x" * 20, ""] for n in range(10)])
    assert "VBA_IMPORT_MAX_BYTES" in upload(clerk, big, expect=400).content.decode()
    settings.VBA_IMPORT_MAX_BYTES = 2_000_000
    settings.VBA_BATCH_MAX_ITEMS = 2
    many = csv_file([["", f"S{n:06}", "01", "OPEN", "x", ""] for n in range(3)])
    assert "VBA_BATCH_MAX_ITEMS" in upload(clerk, many, expect=400).content.decode()
    unknown = csv_file([["1", "x"]], header=["grievance_Key", "colour"])
    assert "Unknown columns: colour" in upload(clerk, unknown, expect=400).content.decode()
    garbage = io.BytesIO(b"PK\x03\x04 not really a workbook")
    garbage.name = "x.xlsx"
    assert "XLSX workbook cannot be read" in upload(clerk, garbage, expect=400).content.decode()
    assert not PendingImport.objects.exists()


def test_headers_ignore_case_and_blank_rows_are_skipped(clerk):
    header = [name.upper() for name in HEADER]
    rows = [["", "S1", "01", "OPEN", "x", ""], ["", "", "", "", "", ""], ["", "S2", "01", "OPEN", "y", ""]]
    preview = clerk.get(upload(clerk, csv_file(rows, header=header))["Location"])
    assert [(n, s) for n, s, _ in preview_rows(preview)] == [(2, 201), (4, 201)]


def test_importing_needs_add_and_change_and_the_database(existing):
    viewer = StaffFactory(username="vic.viewer", databases=["demo"])
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_grievance", "change_grievance"])
    )
    client = Client()
    client.force_login(viewer)
    assert 'id="vba-import-link"' not in client.get(admin_url("changelist")).content.decode()
    assert client.get(admin_url("import")).status_code == 403
    clerk = StaffFactory(username="cleo", databases=["demo"])
    client.force_login(clerk)
    assert 'id="vba-import-link"' in client.get(admin_url("changelist")).content.decode()
    assert client.get(admin_url("import", database="other")).status_code == 403  # not her database
    # Someone else's upload is not hers to preview or apply.
    preview_url = upload(client, csv_file([["", "S1", "01", "OPEN", "x", ""]]))["Location"]
    other = StaffFactory(username="otto", databases=["demo"])
    client.force_login(other)
    assert client.post(preview_url, {"on_error": "skip"}).status_code == 302
    assert PendingImport.objects.count() == 1


def test_an_apply_the_database_stopped_before_writing_keeps_the_upload(clerk, existing, monkeypatch):
    from vbaproject.admin import imports
    from vbaproject.engine.outcomes import DatabaseUnavailable

    before = grievances()
    preview_url = upload(clerk, csv_file(three_rows(existing)))["Location"]
    real = imports.upsert_batch

    def unreachable(*args, **kwargs):
        raise DatabaseUnavailable("connection refused")

    monkeypatch.setattr(imports, "upsert_batch", unreachable)
    failed = clerk.post(preview_url, {"on_error": "skip"})
    assert failed.status_code == 503
    assert "nothing was written" in failed.content.decode()
    assert f'href="{preview_url}"' in failed.content.decode()  # try again: the same page
    assert grievances().keys() == before.keys() and PendingImport.objects.count() == 1
    monkeypatch.setattr(imports, "upsert_batch", real)
    again = clerk.post(preview_url, {"on_error": "skip"})
    assert [(n, s) for n, s, _ in preview_rows(again)] == [(2, 201), (3, 200), (4, 400)]
    assert not PendingImport.objects.exists()


def test_an_apply_cut_short_part_way_says_so_row_by_row(clerk, existing, monkeypatch):
    from vbaproject.admin import imports
    from vbaproject.engine.outcomes import ItemOutcome, Outcome

    preview_url = upload(clerk, csv_file(three_rows(existing)))["Location"]
    real = imports.upsert_batch

    def cut_short_after_the_first(model, items, user):
        written = real(model, items[:1], user=user)
        lost = [ItemOutcome(1, existing.pk, Outcome.UNKNOWN), ItemOutcome(2, 0, Outcome.NOT_WRITTEN)]
        return [*written, *lost]

    monkeypatch.setattr(imports, "upsert_batch", cut_short_after_the_first)
    result = clerk.post(preview_url, {"on_error": "skip"})
    page = result.content.decode()
    assert result.status_code == 503
    assert [(n, s) for n, s, _ in preview_rows(result)] == [(2, 201), (3, 503), (4, 503)]
    assert "partly applied" in page and 'id="vba-import-cut-short"' in page and "is applied" not in page
    assert "With errors, not written: <strong>0</strong>" in page
