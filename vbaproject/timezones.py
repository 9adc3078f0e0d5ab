"""Each admin user's time zone: dates shown, entered and grouped into days in it.

Storage, the API and the server's clock are UTC (``TIME_ZONE``); people in a US plan think in
their own day. An evening receipt in New York is the next day in UTC, so a list of UTC days puts
it a day late on a 30-day clock. Each user therefore has a time zone (``UserProfile``, in the
control database), the plan's by default (``VBA_PLAN_TIME_ZONE``, America/New_York unless set),
which they change on *My settings* (``/admin/my-settings/``, linked beside *Log out*).

``UserTimeZoneMiddleware`` activates it (``django.utils.timezone.activate``) for admin requests
only: Django's admin then shows date-times in it, reads the form's date and time in it, and
draws the date hierarchy's and the date filters' days in it; the list's day columns
(``vbaproject.admin.base``) use ``localtime`` too. The API never sees it.

Django's admin compares the browser's offset with the server's (``data-admin-utc-offset``, the
active zone's) and writes "You are N hours behind server time" under every date-time field when
they differ. The server's zone is now the user's own choice, so the note is noise: the admin's
``base_site.html`` switches it off, and the calendar's *Now* still fills in the time in the
user's zone.
"""

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

ADMIN_PREFIX = "/admin/"


def valid_zone(name):
    """Whether ``name`` is an IANA time zone this server knows."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def plan_zone_name():
    name = settings.VBA_PLAN_TIME_ZONE
    return name if valid_zone(name) else "UTC"


def zone_name_for(user):
    """The time zone ``user`` works in: their own setting, else the plan's."""
    from vbaproject.models import UserProfile

    if user is None or not user.is_authenticated:
        return plan_zone_name()
    cached = getattr(user, "_vba_time_zone", None)
    if cached is None:
        stored = UserProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
        cached = stored if stored and valid_zone(stored) else plan_zone_name()
        user._vba_time_zone = cached
    return cached


def zone_for(user):
    return zoneinfo.ZoneInfo(zone_name_for(user))


class UserTimeZoneMiddleware:
    """Admin requests run in the user's time zone (the plan's for a visitor not logged in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(ADMIN_PREFIX):
            return self.get_response(request)
        timezone.activate(zone_for(getattr(request, "user", None)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# --- My settings ------------------------------------------------------------------------------


def zone_choices():
    """The US zones people pick first, then every zone this server knows."""
    common = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
        "America/Puerto_Rico",
        "UTC",
    ]
    common = [name for name in common if valid_zone(name)]
    rest = sorted(zoneinfo.available_timezones() - set(common))
    return [("Common", [(n, n.replace("_", " ")) for n in common]), ("All", [(n, n) for n in rest])]


class MySettingsForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Dates and times in the admin are shown and entered in this zone, and lists "
        "group records into its days. The API always uses UTC.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = zone_choices()


def my_settings(request):
    """``/admin/my-settings/``: the user's own admin settings (the time zone)."""
    from vbaproject.models import UserProfile

    current = zone_name_for(request.user)
    form = MySettingsForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        UserProfile.objects.update_or_create(user=request.user, defaults={"time_zone": zone})
        messages.success(request, f"Your time zone is now {zone}.")
        return HttpResponseRedirect(request.path)
    context = {
        **admin.site.each_context(request),
        "title": "My settings",
        "form": form,
        "plan_zone": plan_zone_name(),
        "now": timezone.localtime(timezone.now(), zone_for(request.user)),
    }
    return TemplateResponse(request, "admin/vba_my_settings.html", context)


my_settings_view = admin.site.admin_view(my_settings)
