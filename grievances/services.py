"""Writes to grievances beyond the engine's upserts: resolving them in bulk."""

from django.db import router
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import entity_spec

from .models import Grievance


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
