"""The grievance queue in the admin: deadline columns and filters, the queue's order, resolving
through a confirmation page, and the counts on the database's home page.

The rules are ``grievances.queue``'s; this module puts them on the changelist:

- Columns *days open* and *due* (the deadline in the user's time zone, with an OVERDUE or DUE
  SOON badge), for open grievances; resolved ones show neither.
- Filters *open or resolved* (``state``: the one status model's "open", ``open_q``), *deadline*
  (``deadline``: overdue, due soon, no received date; each only open grievances) and *clock*
  (``clock``: expedited or standard).
- **The queue**: a list filtered to open grievances (``state=open`` or any *deadline*) is sorted
  oldest due first, undated last (``queue_ordering``). Every other list keeps the index-served
  order of the whole table (open first, newest received: ``vbaproject.admin.scale``), since
  ordering a million rows by a computed due date means sorting them all; the open set is small
  (a few weeks' intake, at these time limits), read through the index that leads with "no
  resolved date", and only its rows get a due date and a sort.
  The database's home page and its *Grievances* link lead to the queue.
"""

from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from .queue import (
    CLOSED_STATUSES,
    DUE_SOON,
    NO_DATE,
    OVERDUE,
    RESOLVED_STATUS,
    days_open,
    deadline_state,
    due_at,
    due_soon_days,
    due_soon_q,
    expedited_q,
    grievance_limits,
    is_open,
    no_received_date_q,
    normal_code,
    open_q,
    overdue_q,
    queue_counts,
    queue_ordering,
    with_due,
)
from .resolve import resolve, resolve_view
from .services import unresolved_q

_BADGE = (
    '<span class="vba-deadline vba-{}" style="background: {}; color: #fff; border-radius: 3px; '
    'padding: 1px 6px; font-size: 0.6875rem; font-weight: 600; letter-spacing: 0.04em">{}</span>'
)


def _soon_label():
    days = due_soon_days()
    return f"Due within {int(days) if days == int(days) else days} days"


class OpenResolvedFilter(admin.SimpleListFilter):
    """Open (no resolved date, status not RESOLVED or CLOSED) or resolved: ``grievances.queue``."""

    title = "open or resolved"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(open_q())
        if self.value() == "resolved":
            return queryset.exclude(open_q())
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    """Open grievances past their due date, due soon, or without a received date."""

    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("soon", _soon_label()), ("undated", "No received date")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(overdue_q(now))
        if self.value() == "soon":
            return queryset.filter(due_soon_q(now))
        if self.value() == "undated":
            return queryset.filter(no_received_date_q())
        return queryset


class ClockFilter(admin.SimpleListFilter):
    """Expedited grievances (a type with a limit of at most 3 days) or standard ones."""

    title = "clock"
    parameter_name = "clock"

    def lookups(self, request, model_admin):
        return [("expedited", "Expedited"), ("standard", "Standard")]

    def queryset(self, request, queryset):
        if self.value() == "expedited":
            return queryset.filter(expedited_q())
        if self.value() == "standard":
            return queryset.exclude(expedited_q())
        return queryset


QUEUE_FILTERS = [OpenResolvedFilter, DeadlineFilter, ClockFilter]


def is_queue(request_or_changelist):
    """Whether the list shows only open grievances: the queue, sorted by due date."""
    params = getattr(request_or_changelist, "params", None)
    params = request_or_changelist.GET if params is None else params
    return params.get("state") == "open" or params.get("deadline") in {"overdue", "soon", "undated"}


class GrievanceQueueMixin:
    """For ``GrievanceAdmin``: the queue's columns, filters, order, resolve page and counts."""

    change_form_template = "admin/grievances/grievance/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The form, with *Resolve…* while the grievance is not resolved in every respect."""
        extra = dict(extra_context or {})
        if self.has_change_permission(request):
            unresolved = self.get_queryset(request).filter(unresolved_q())
            try:
                extra["vba_may_resolve"] = unresolved.filter(pk=int(object_id)).exists()
            except (TypeError, ValueError):
                extra["vba_may_resolve"] = False  # Django's own view answers an unknown key
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request, obj, form, change):
        """One status model on the form too: a resolved date typed in with an open status saves
        the status RESOLVED with it (and says so)."""
        status = normal_code(obj.grievance_Status)
        resolves = obj.grievance_Resolved is not None and status not in CLOSED_STATUSES
        if resolves:
            obj.grievance_Status = RESOLVED_STATUS
        super().save_model(request, obj, form, change)
        if resolves:  # said once saved: a save that fails leaves no message for the next page
            self.message_user(request, "The grievance has a resolved date: its status is now RESOLVED.")

    def get_queryset(self, request):
        return with_due(super().get_queryset(request))

    def get_ordering(self, request):
        if is_queue(request):
            return queue_ordering()
        return super().get_ordering(request)

    def get_changelist(self, request, **kwargs):
        """The changelist, whose column headers mark the queue's order (due, then key) when it is
        the queue: Django marks the admin's static ``ordering`` otherwise."""
        base = super().get_changelist(request, **kwargs)

        class QueueChangeList(base):
            def _get_default_ordering(self):
                if is_queue(self):
                    return queue_ordering()
                return super()._get_default_ordering()

        return QueueChangeList

    def _now(self):
        return timezone.now()

    @admin.display(description="days open", ordering="-grievance_Received")
    def days_open(self, obj):
        if not is_open(obj.grievance_Resolved, obj.grievance_Status):
            return ""
        days = days_open(obj.grievance_Received, self._now(), timezone.get_current_timezone())
        return "" if days is None else days

    @admin.display(description="due", ordering="vba_due")
    def due(self, obj):
        """The deadline in the user's time zone, with a badge when it is late or near."""
        if not is_open(obj.grievance_Resolved, obj.grievance_Status):
            return ""
        now = self._now()
        state = deadline_state(obj.grievance_Received, obj.grievance_Type, now, limits=self._limits())
        if state == NO_DATE:
            return format_html('<span class="vba-undated quiet">{}</span>', "no received date")
        due = due_at(obj.grievance_Received, obj.grievance_Type, self._limits())
        text = timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
        if state == OVERDUE:
            badge = format_html(_BADGE, "overdue", "#ba2121", "OVERDUE")
        elif state == DUE_SOON:
            badge = format_html(_BADGE, "due-soon", "#b45f06", "DUE SOON")
        else:
            return format_html('<span style="white-space: nowrap">{}</span>', text)
        return format_html('<span style="white-space: nowrap">{} {}</span>', text, badge)

    def _limits(self):
        return grievance_limits()

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(lambda request, object_id: resolve_view(self, request, object_id)),
                name=f"{opts.app_label}_{opts.model_name}_resolve",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Mark the selected grievances resolved…", permissions=["change"])
    def mark_resolved(self, request, queryset):
        """Asks for the resolution type and text on a confirmation page, then resolves."""
        return resolve(self, request, queryset)

    def home_counts(self, request):
        """The queue's counts for the database's home page: (label, count, URL, kind) each."""
        counts = queue_counts(self.get_queryset(request).order_by(), timezone.now())
        url = reverse(
            f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist",
            current_app=self.admin_site.name,
        )
        rows = [
            ("Open grievances", counts["open"], f"{url}?state=open", "open"),
            (_soon_label(), counts["due_soon"], f"{url}?state=open&deadline=soon", "due-soon"),
            ("Overdue", counts["overdue"], f"{url}?state=open&deadline=overdue", "overdue"),
        ]
        if counts["undated"]:
            undated = f"{url}?state=open&deadline=undated"
            rows.append(("No received date", counts["undated"], undated, "undated"))
        return rows
