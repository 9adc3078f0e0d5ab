"""Writes to grievances beyond the engine's upserts: resolving them, one at a time or in bulk.

Resolving follows the one status model of ``grievances.queue``: a resolved grievance has its
resolved and resolution dates, a resolution type and text, and the status RESOLVED, all set in
one update, so the queue, the Open/Resolved filter and the status never disagree. Each update
is recorded in the history as the caller's write (``recorded_transaction``).
"""

from django.db import router
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Upper
from django.db.models.lookups import In
from django.utils import timezone

from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import entity_spec

from .models import Grievance
from .queue import CLOSED_STATUSES, RESOLVED_STATUS


def grievances_mark_resolved(queryset, user, now=None):
    """Set the resolved and resolution dates of the grievances of ``queryset`` to ``now``, where
    they are not set yet (dates already set are kept); the grievances changed, as they were.

    The update records ``user`` as the last to change them, as any other write does.
    """
    now = now or timezone.now()
    audit = entity_spec(Grievance).audit_values(user, now, adding=False)
    open_rows = queryset.filter(Q(grievance_Resolved__isnull=True) | Q(resolution_Date__isnull=True))
    with recorded_transaction(router.db_for_write(Grievance)):
        changed = list(open_rows.select_for_update())
        Grievance._default_manager.filter(pk__in=[g.pk for g in changed]).update(
            grievance_Resolved=Coalesce(F("grievance_Resolved"), now),
            resolution_Date=Coalesce(F("resolution_Date"), now),
            **audit,
        )
    return changed


def unresolved_q():
    """What resolving changes: a grievance missing either date or a done status (RESOLVED or
    CLOSED): the open ones (``open_q``), and a RESOLVED without its date or a date with PENDING."""
    done_status = Q(In(Coalesce(Upper("grievance_Status"), Value("")), list(CLOSED_STATUSES)))
    fully_resolved = Q(grievance_Resolved__isnull=False, resolution_Date__isnull=False) & done_status
    return ~fully_resolved


def grievances_resolve(queryset, user, resolution_type, resolution, now=None):
    """Resolve the grievances of ``queryset``: resolved and resolution dates (kept where set,
    else ``now``), ``resolution_Type`` (trimmed, upper case) and ``resolution`` (the text), and
    the status RESOLVED (a CLOSED one stays CLOSED), in one update recorded as ``user``'s.
    Grievances already resolved in every respect are left alone. Returns the grievances
    changed, as they were. A missing or too long type or text is a ``ValueError``.
    """
    resolution_type = (resolution_type or "").strip().upper()
    resolution = (resolution or "").strip()
    if not resolution_type or not resolution:
        raise ValueError("a resolution type and text are required")
    for name, value in (("resolution_Type", resolution_type), ("resolution", resolution)):
        limit = Grievance._meta.get_field(name).max_length
        if len(value) > limit:
            raise ValueError(f"{name}: at most {limit} characters")
    now = now or timezone.now()
    audit = entity_spec(Grievance).audit_values(user, now, adding=False)
    with recorded_transaction(router.db_for_write(Grievance)):
        changed = list(queryset.filter(unresolved_q()).order_by("pk").select_for_update())
        Grievance._default_manager.filter(pk__in=[g.pk for g in changed]).update(
            grievance_Resolved=Coalesce(F("grievance_Resolved"), Value(now)),
            resolution_Date=Coalesce(F("resolution_Date"), Value(now)),
            resolution_Type=Value(resolution_type),
            resolution=Value(resolution),
            grievance_Status=Case(
                When(grievance_Status__iexact="CLOSED", then=Value("CLOSED")),
                default=Value(RESOLVED_STATUS),
            ),
            **audit,
        )
    return changed
