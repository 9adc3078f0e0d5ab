from django.db.models import BooleanField, ExpressionWrapper, F, Q

from vbaproject.admin.base import EntityAdmin
from vbaproject.admin.member_search import MemberSearchMixin
from vbaproject.admin.sites import register

from .models import Grievance
from .queue_admin import QUEUE_FILTERS, GrievanceQueueMixin

IS_OPEN = ExpressionWrapper(Q(grievance_Resolved__isnull=True), output_field=BooleanField())


@register(Grievance)
class GrievanceAdmin(MemberSearchMixin, GrievanceQueueMixin, EntityAdmin):
    """Grievances, and the queue built around their deadlines (grievances/queue_admin.py)."""

    list_display = [
        "grievance_Key",
        "member",
        "grievance_Status",
        "grievance_Type",
        "grievance_Category",
        "issue_Type",
        "grievance_Received",
        "days_open",
        "due",
        "grievance_Resolved",
    ]
    # The home page's Grievances link opens the queue.
    landing_query = "state=open"
    list_filter = [
        *QUEUE_FILTERS,
        "grievance_Status",
        "grievance_Type",
        "grievance_Category",
        "issue_Type",
        "grievance_Source",
        "resolution_Type",
    ]
    search_fields = [
        "=grievance_Key",
        "^subscriber_ID",
        "^provider_ID",
        "^patient_Account_Number",
        "=call_Key",
    ]
    search_help_text = "Key, member (S615226-01), subscriber, provider, patient account or call key."
    date_hierarchy = "grievance_Received"
    # Open grievances first, then the newest received, then the newest key: exactly the order of
    # the grievance_open_received index (grievances/models.py), so a page reads 50 index entries.
    ordering = [IS_OPEN.desc(), F("grievance_Received").desc(nulls_last=True), F("grievance_Key").desc()]
    sections = [
        ("Grievance", ["grievance_Status", "grievance_Type", "grievance_Category", "grievance_Source"]),
        ("Member", ["subscriber_ID", "member_Seq", "patient_Account_Number", "provider_ID", "call_Key"]),
        ("Dates", ["grievance_Received", "grievance_Filed", "issue_Date"]),
        ("Issue", ["issue_Type", "issue"]),
        ("Resolution", ["grievance_Resolved", "resolution_Date", "resolution_Type", "resolution"]),
        ("Administrative change", ["admin_Change*"]),
    ]
    actions = [*EntityAdmin.actions, "mark_resolved"]
