"""Each admin user's time zone (vbaproject/timezones.py): days, input and display in it; the API in UTC.

An evening receipt in New York is the next day in UTC: the list's day column, the drill-down's
day and the form show the user's day and time, and what is typed is read in that zone.
"""

import datetime as dt
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse

from grievances.models import Grievance
from tests.support.answers import data_of
from tests.support.factories import StaffFactory, make_record
from vbaproject.admin.sites import site_name
from vbaproject.db.routing import using_client_database
from vbaproject.models import UserProfile
from vbaproject.timezones import zone_name_for

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

# 21:30 on June 3 in New York (EDT, UTC-4) is 01:30 on June 4 in UTC.
EVENING = dt.datetime(2024, 6, 4, 1, 30, tzinfo=dt.UTC)


def admin_url(view, *args):
    return reverse(f"admin:grievances_grievance_{view}", args=args, current_app=site_name("demo"))


def staff_client(username, zone=None):
    user = StaffFactory(username=username, databases=["demo"])
    if zone:
        UserProfile.objects.create(user=user, time_zone=zone)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def evening():
    return make_record(Grievance, "demo", grievance_Received=EVENING, grievance_Resolved=None)


def day_shown(client, key):
    """The grievance_Received day the change list shows on ``key``'s row."""
    page = client.get(admin_url("changelist")).content.decode()
    row = page.split(f"/{key}/change/", 1)[1].split("</tr>", 1)[0]
    cell = row.split('class="field-grievance_Received"', 1)[1].split("</td>", 1)[0]
    return cell.rsplit(">", 2)[-2].split("<", 1)[0]


def drill_down_day(client, day):
    """The keys the date hierarchy lists for ``day`` (a date)."""
    params = {
        "grievance_Received__year": day.year,
        "grievance_Received__month": day.month,
        "grievance_Received__day": day.day,
    }
    response = client.get(admin_url("changelist"), params)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_days_in_the_list_and_the_drill_down_are_the_users(evening, settings):
    settings.VBA_PLAN_TIME_ZONE = "America/New_York"
    new_york, _ = staff_client("nina")  # the plan's zone, by default
    utc, _ = staff_client("uma", zone="UTC")
    assert day_shown(new_york, evening.pk) == "2024-06-03"
    assert day_shown(utc, evening.pk) == "2024-06-04"
    assert evening.pk in drill_down_day(new_york, dt.date(2024, 6, 3))
    assert evening.pk not in drill_down_day(new_york, dt.date(2024, 6, 4))
    assert evening.pk in drill_down_day(utc, dt.date(2024, 6, 4))
    assert evening.pk not in drill_down_day(utc, dt.date(2024, 6, 3))


def test_the_form_shows_and_reads_date_times_in_the_users_zone(evening):
    client, _ = staff_client("nina", zone="America/New_York")
    page = client.get(admin_url("change", evening.pk)).content.decode()
    assert 'value="2024-06-03"' in page and 'value="21:30:00"' in page
    # The page's server offset is the user's zone: Django's "N hours behind" note compares with it,
    # and the admin's template turns that note off.
    offset = int(dt.datetime.now(zoneinfo.ZoneInfo("America/New_York")).utcoffset().total_seconds())
    assert f'data-admin-utc-offset="{offset}"' in page
    assert "addTimezoneWarning = function" in page
    # What is typed is read in the user's zone (through the form's own save, the engine).
    form = client.get(admin_url("add")).context["adminform"].form
    data = {name: "" for name in form.fields}
    data.update(
        grievance_Status="OPEN",
        subscriber_ID="S1",
        member_Seq="01",
        issue="typed",
        grievance_Received_0="2024-06-03",
        grievance_Received_1="21:30:00",
    )
    for name, field in form.fields.items():
        if field.widget.__class__.__name__ == "SplitDateTimeWidget" and name != "grievance_Received":
            data.pop(name)
            data[f"{name}_0"] = data[f"{name}_1"] = ""
    response = client.post(admin_url("add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    with using_client_database("demo"):
        assert Grievance.objects.get(issue="typed").grievance_Received == EVENING


def test_my_settings_changes_the_users_zone(settings):
    settings.VBA_PLAN_TIME_ZONE = "America/New_York"
    client, user = staff_client("nina")
    assert zone_name_for(user) == "America/New_York"
    page = client.get(reverse("vba_my_settings"))
    assert page.status_code == 200
    assert 'id="vba-my-settings-link"' in client.get("/admin/").content.decode()
    assert client.post(reverse("vba_my_settings"), {"time_zone": "Mars/Olympus"}).status_code == 200
    assert not UserProfile.objects.exists()
    assert client.post(reverse("vba_my_settings"), {"time_zone": "America/Chicago"}).status_code == 302
    assert UserProfile.objects.get(user=user).time_zone == "America/Chicago"
    assert "America/Chicago" in client.get(reverse("vba_my_settings")).content.decode()
    assert Client().get(reverse("vba_my_settings")).status_code == 302  # to the login page


def test_the_api_stays_in_utc(api, evening):
    UserProfile.objects.create(user=api.user, time_zone="America/Los_Angeles")
    record = data_of(api.get(f"/vbasoftware/grievances/{evening.pk}"), 200)
    assert record["grievance_Received"].startswith("2024-06-04T01:30:00")
