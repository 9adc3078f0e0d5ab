"""Answers that clients generated from VBASoftware's published schema parse unchanged.

In that schema ``error`` is a non-nullable object: a success leaves the member out rather than
sending ``"error": null``. VBASoftware's Ruby SDK writes back a date-time it read as
``2024-05-31 13:45:00 UTC`` (Ruby's ``Time#to_s``); that form is UTC.
"""

import datetime as dt

import pytest

from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import batch_url, record_url
from vbaproject.db.routing import using_client_database

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def test_successes_leave_the_error_member_out_and_failures_carry_it(api):
    for response, status in [
        (api.put(batch_url(Grievance), [{"grievance_Key": 3}]), 207),
        (api.get(record_url(Grievance, 3)), 200),
        (api.get("/vbasoftware/grievances"), 200),
        (api.get(record_url(Grievance, 3) + "/history"), 200),
        (api.delete(record_url(Grievance, 3)), 200),
        (api.log_in(api.username, api.password), 200),
    ]:
        assert "error" not in response.json(), response.content
        data_of(response, status)
    failure = problem_of(api.get(record_url(Grievance, 3)), 404)
    assert failure["status"] == 404


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2024-05-31 13:45:00 UTC", dt.datetime(2024, 5, 31, 13, 45, tzinfo=dt.UTC)),
        ("2024-05-31 13:45:00.250 UTC", dt.datetime(2024, 5, 31, 13, 45, 0, 250000, tzinfo=dt.UTC)),
        ("2024-05-31T13:45:00+02:00", dt.datetime(2024, 5, 31, 11, 45, tzinfo=dt.UTC)),
    ],
)
def test_date_times_as_the_ruby_sdk_writes_them_are_utc(api, sent, stored):
    (result,) = data_of(
        api.put(batch_url(Grievance), [{"grievance_Key": 5, "grievance_Received": sent}]), 207
    )
    assert result["status"] == 201, result
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=5).grievance_Received == stored
    echoed = data_of(api.get(record_url(Grievance, 5)), 200)["grievance_Received"]
    assert dt.datetime.fromisoformat(echoed) == stored


def test_a_date_time_with_an_offset_and_utc_is_refused(api):
    body = [{"grievance_Key": 6, "grievance_Received": "2024-05-31 13:45:00+02:00 UTC"}]
    (result,) = data_of(api.put(batch_url(Grievance), body), 207)
    assert result["status"] == 400 and "grievance_Received" in result["body"]
