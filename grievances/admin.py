from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, F, Q

from vbaproject.admin.base import EntityAdmin
from vbaproject.admin.sites import register

from .models import Grievance
from .services import grievances_mark_resolved

IS_OPEN = ExpressionWrapper(Q(grievance_Resolved__isnull=True), output_field=BooleanField())


class OpenResolvedFilter(admin.SimpleListFilter):
    title = "open or resolved"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(grievance_Resolved__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(grievance_Resolved__isnull=False)
        return queryset


@register(Grievance)
class GrievanceAdmin(EntityAdmin):
    list_display = [
        "grievance_Key",
        "member",
        "grievance_Status",
        "grievance_Type",
        "grievance_Category",
        "issue_Type",
        "grievance_Received",
        "grievance_Resolved",
    ]
    list_filter = [
        OpenResolvedFilter,
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
    search_help_text = "Grievance key, subscriber, provider, patient account or call key."
    date_hierarchy = "grievance_Received"
    # Open grievances first, then the newest received.
    ordering = [IS_OPEN.desc(), F("grievance_Received").desc(nulls_last=True)]
    sections = [
        ("Grievance", ["grievance_Status", "grievance_Type", "grievance_Category", "grievance_Source"]),
        ("Member", ["subscriber_ID", "member_Seq", "patient_Account_Number", "provider_ID", "call_Key"]),
        ("Dates", ["grievance_Received", "grievance_Filed", "issue_Date"]),
        ("Issue", ["issue_Type", "issue"]),
        ("Resolution", ["grievance_Resolved", "resolution_Date", "resolution_Type", "resolution"]),
        ("Administrative change", ["admin_Change*"]),
    ]
    actions = [*EntityAdmin.actions, "mark_resolved"]

    @admin.action(description="Mark the selected grievances resolved", permissions=["change"])
    def mark_resolved(self, request, queryset):
        """Set the resolved and resolution dates to now, where they are not set yet."""
        # Counted first: the selection may be a filtered list ("open") the update empties.
        selected = queryset.count()
        changed = grievances_mark_resolved(queryset, request.user.get_username())
        skipped = selected - len(changed)
        message = f"Marked {len(changed)} grievance{'s' if len(changed) != 1 else ''} resolved."
        if skipped:
            message += f" {skipped} {'were' if skipped != 1 else 'was'} resolved already."
        self.message_user(request, message, messages.SUCCESS if changed else messages.WARNING)
