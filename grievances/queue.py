"""The grievance queue's rules: which grievances are open, when each is due, which are late.

Medicare Part C (42 CFR 422.564) and Part D (42 CFR 423.564) give a plan 30 days from receipt
to resolve a standard grievance and 24 hours for an expedited one; Medicaid managed care
(42 CFR 438.408) allows up to 90 days, or less as the state sets. The clock runs from receipt,
so every rule here is read off ``grievance_Received``.

- **Open** (``is_open``, ``open_q``): no *grievance Resolved* date and a status other than
  RESOLVED or CLOSED (``CLOSED_STATUSES``, in any case; an empty status is open). A grievance
  staff or an integrator marked RESOLVED without a date is done, not in the queue; the
  Open/Resolved filter, the deadline filters, the counts and the service all use this one rule.
- **Time limit** (``grievance_limits``): ``VBA_GRIEVANCE_LIMITS``, JSON of grievance type →
  days, over the Medicare defaults ``{"STANDARD": 30, "EXPEDITED": 1}``. A grievance's type is
  its *grievance Type*, trimmed and in upper case. **A type not in the table, or no type, gets
  the STANDARD limit** (30 days unless configured): the longest clock is the default, so a typo
  never makes a grievance look later than it is, and staff see it under its real type.
  A Medicaid plan sets e.g. ``{"STANDARD": 90, "EXPEDITED": 3, "QUALITY": 30}``. Days may be
  fractional (``0.5`` is 12 hours).
- **Expedited** (``is_expedited_type``): the grievance document has no expedited flag, only the
  plan's *grievance Type* codes, so a grievance is expedited when its type's limit is at most
  ``EXPEDITED_MAX_DAYS`` (3 days, the longest "expedited" clock in these programs: 72 hours).
  With the defaults that is the type EXPEDITED (24 hours).
- **Due** (``due_at``): received + the limit, to the minute (24 hours for 1 day). **Without a
  received date there is no due date**: such a grievance cannot be late or due soon, and the
  queue lists it *after* every dated one (its own filter, *No received date*, finds them):
  putting them first, as Django's ascending order would, buries every real deadline under
  records nobody can triage until the date is entered.
- **Overdue**: open and due before now. **Due soon**: open and due within
  ``VBA_GRIEVANCE_DUE_SOON_DAYS`` (5) from now, not yet overdue.
- **Days open** (``days_open``): calendar days from the day of receipt to today, both in the
  user's time zone (an evening receipt in New York is that day, not the next UTC day).

The same rules as SQL (``due_expression``, ``overdue_q``, ...) let the list filter, order and
count in the database: the due date is a ``CASE`` over the type adding each limit to
``grievance_Received``, computed only for the open rows. Those are found first, through the
index whose leading column is "no resolved date" (``grievance_admin_order``, grievances/models.py),
without reading the resolved millions; the status part of ``open_q`` filters that small set.
No index can hold the due date itself: the limits are settings, and ``timestamptz + interval``
is not immutable in PostgreSQL. This module reads settings but touches no database.
"""

import datetime as dt
import json

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Trim, Upper
from django.db.models.lookups import In

DEFAULT_LIMITS = {"STANDARD": 30, "EXPEDITED": 1}
STANDARD = "STANDARD"
EXPEDITED_MAX_DAYS = 3
CLOSED_STATUSES = ("RESOLVED", "CLOSED")
RESOLVED_STATUS = "RESOLVED"


def normal_code(value):
    """A code as the rules compare it: trimmed, upper case; ``""`` for none."""
    return (value or "").strip().upper()


def grievance_limits(raw=None):
    """Grievance type → days, the defaults overlaid with ``VBA_GRIEVANCE_LIMITS`` (a JSON object
    or a dict). A bad value is an error at startup, not a silently wrong deadline."""
    raw = getattr(settings, "VBA_GRIEVANCE_LIMITS", None) if raw is None else raw
    configured = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    if not isinstance(configured, dict):
        raise ValueError("VBA_GRIEVANCE_LIMITS must be a JSON object of grievance type to days")
    limits = dict(DEFAULT_LIMITS)
    for name, days in configured.items():
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650:
            raise ValueError(f"VBA_GRIEVANCE_LIMITS: {name!r} must be a number of days, more than 0")
        limits[normal_code(name)] = days
    return limits


def due_soon_days():
    return float(getattr(settings, "VBA_GRIEVANCE_DUE_SOON_DAYS", 5))


def limit_days(grievance_type, limits=None):
    """The days allowed for a grievance of ``grievance_type``: its own, else STANDARD's."""
    limits = limits or grievance_limits()
    return limits.get(normal_code(grievance_type), limits[STANDARD])


def expedited_types(limits=None):
    """The configured types whose clock is expedited (at most ``EXPEDITED_MAX_DAYS``)."""
    limits = limits or grievance_limits()
    return sorted(name for name, days in limits.items() if days <= EXPEDITED_MAX_DAYS and name != STANDARD)


def is_expedited_type(grievance_type, limits=None):
    return limit_days(grievance_type, limits) <= EXPEDITED_MAX_DAYS


def is_open(resolved, status):
    """No resolved date, and a status that does not say it is done."""
    return resolved is None and normal_code(status) not in CLOSED_STATUSES


def due_at(received, grievance_type, limits=None):
    """When the grievance must be resolved by; ``None`` without a received date."""
    if received is None:
        return None
    return received + dt.timedelta(days=limit_days(grievance_type, limits))


def days_open(received, now, zone):
    """Calendar days from the day of receipt to today, in ``zone``; ``None`` without a date."""
    if received is None:
        return None
    return (now.astimezone(zone).date() - received.astimezone(zone).date()).days


OVERDUE, DUE_SOON, ON_TIME, NO_DATE = "overdue", "due soon", "on time", "no received date"


def deadline_state(received, grievance_type, now, soon_days=None, limits=None):
    """``OVERDUE``, ``DUE_SOON``, ``ON_TIME`` or ``NO_DATE`` for an open grievance at ``now``."""
    due = due_at(received, grievance_type, limits)
    if due is None:
        return NO_DATE
    if due < now:
        return OVERDUE
    soon = due_soon_days() if soon_days is None else soon_days
    return DUE_SOON if due < now + dt.timedelta(days=soon) else ON_TIME


# The same rules in SQL ---------------------------------------------------------------------------

_TYPE = Upper(Trim("grievance_Type"))


def open_q():
    """``is_open`` as a condition: ``grievance_Resolved IS NULL`` (served by an index) and a status
    other than RESOLVED or CLOSED."""
    closed = In(Coalesce(Upper("grievance_Status"), Value("")), list(CLOSED_STATUSES))
    return Q(grievance_Resolved__isnull=True) & ~Q(closed)


def due_expression(limits=None):
    """``due_at`` in SQL: ``CASE`` over the type, received + its limit; STANDARD's otherwise."""
    limits = limits or grievance_limits()
    by_days = {}
    for name, days in limits.items():
        if name != STANDARD and days != limits[STANDARD]:
            by_days.setdefault(days, []).append(name)
    received = F("grievance_Received")
    whens = [
        When(Q(In(_TYPE, sorted(names))), then=received + Value(dt.timedelta(days=days)))
        for days, names in sorted(by_days.items())
    ]
    standard = received + Value(dt.timedelta(days=limits[STANDARD]))
    if not whens:
        return models.ExpressionWrapper(standard, output_field=models.DateTimeField())
    return Case(*whens, default=standard, output_field=models.DateTimeField())


def overdue_q(now, due="vba_due"):
    """Open and due before ``now``, on a queryset annotated with ``due_expression`` as ``due``."""
    return open_q() & Q(**{f"{due}__lt": now})


def due_soon_q(now, soon_days=None, due="vba_due"):
    soon = due_soon_days() if soon_days is None else soon_days
    return open_q() & Q(**{f"{due}__gte": now, f"{due}__lt": now + dt.timedelta(days=soon)})


def no_received_date_q():
    return open_q() & Q(grievance_Received__isnull=True)


def expedited_q(limits=None):
    """Grievances whose type is expedited (``is_expedited_type``) as a condition."""
    limits = limits or grievance_limits()
    if limits[STANDARD] <= EXPEDITED_MAX_DAYS:  # unknown types are expedited: all but the slower
        slower = sorted(n for n, days in limits.items() if days > EXPEDITED_MAX_DAYS)
        return ~Q(In(Coalesce(_TYPE, Value("")), slower)) if slower else Q()
    names = expedited_types(limits)
    return Q(In(_TYPE, names)) if names else Q(pk__in=[])


def with_due(queryset, limits=None, name="vba_due"):
    """``queryset`` annotated with its due date as ``name``."""
    return queryset.annotate(**{name: due_expression(limits)})


def queue_ordering(due="vba_due"):
    """Oldest due first, undated last, then the key (stable pages)."""
    return [F(due).asc(nulls_last=True), F("grievance_Key").asc()]


def queue_counts(queryset, now, soon_days=None, limits=None):
    """Open, due-soon, overdue and undated grievances of ``queryset``: one query over the open set
    (found through an index), not over every grievance."""
    soon = due_soon_days() if soon_days is None else soon_days
    rows = with_due(queryset.filter(open_q()), limits)
    return rows.aggregate(
        open=models.Count("pk"),
        due_soon=models.Count("pk", filter=Q(vba_due__gte=now, vba_due__lt=now + dt.timedelta(days=soon))),
        overdue=models.Count("pk", filter=Q(vba_due__lt=now)),
        undated=models.Count("pk", filter=Q(grievance_Received__isnull=True)),
    )
