from django.contrib import admin
from django.utils.html import format_html

from vbaproject.admin.base import EntityAdmin
from vbaproject.admin.member_search import MemberSearchMixin
from vbaproject.admin.sites import register

from .models import Auth


@register(Auth)
class AuthAdmin(MemberSearchMixin, EntityAdmin):
    list_display = [
        "auth_Number",
        "member",
        "status",
        "auth_Type",
        "service_Type",
        "urgent_badge",
        "received_Date",
        "approved_From",
        "approved_Thru",
    ]
    list_filter = ["status", "auth_Type", "service_Type", "treatment_Type", "auth_Code", "urgent"]
    search_fields = ["^auth_Number", "^subscriber_ID", "^provider_ID", "^case_Number", "^prior_Auth"]
    search_help_text = "Auth number, member (S615226-01), subscriber, provider, case number or prior auth."
    date_hierarchy = "received_Date"
    form_tabs = True  # 13 sections: one tab each (templates/admin/vba_change_form.html)
    sections = [
        (
            "Authorization",
            [
                "status",
                "auth_Code",
                "auth_Type",
                "service_Type",
                "service_Code",
                "treatment_Type",
                "unit_Type",
                "urgent",
                "new_Or_Extended",
                "received_Date",
                "assigned_User",
                "careManager_Key",
                "case_Number",
                "prior_Auth",
            ],
        ),
        ("Member", ["subscriber_ID", "member_Seq", "plan_ID", "other_Insurance", "other_Coverage_Primary"]),
        ("Request", ["requested_From", "requested_Thru", "requested_*", "*_Requested"]),
        ("Approval", ["approved_From", "approved_Thru", "approved_*", "*_Approved"]),
        ("Denial", ["denied_From", "denied_Thru", "*_Denied"]),
        ("Actual usage", ["actual_From", "actual_Thru", "actual_*", "*_Actual", "visits_To_Date"]),
        ("Provider", ["provider_ID", "federal_ID", "payee_ID", "referred_By_*", "ordered_By_*"]),
        (
            "Clinical",
            [
                "drG_*",
                "injury_Date",
                "discharge_Date",
                "daily_Living",
                "radiating_Pain",
                "range_Of_Motion",
                "previous_Treatment",
                "auto_Accident",
                "work_Related",
            ],
        ),
        ("Treatment plan", ["tPlan_*"]),
        ("Notes and reporting", ["notes", "audit_Flag", "ivR_Flag", "region", "monthly_Amount", "reins*"]),
    ]

    @admin.display(description="urgent", ordering="urgent")
    def urgent_badge(self, obj):
        """Only the urgent ones stand out: a badge, nothing for the rest (not a red ✗ on most rows)."""
        if not obj.urgent:
            return ""
        return format_html(
            '<span class="vba-urgent" style="background: #ba2121; color: #fff; border-radius: 3px; '
            'padding: 1px 6px; font-size: 0.6875rem; font-weight: 600; letter-spacing: 0.04em">{}</span>',
            "URGENT",
        )
