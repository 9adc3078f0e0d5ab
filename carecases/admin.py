from django import forms
from django.contrib import admin
from django.db import models

from vbaproject.admin.base import VERSION_FIELD, EntityAdmin, EntityFormMixin
from vbaproject.admin.member_search import MemberSearchMixin
from vbaproject.admin.scale import values_filter
from vbaproject.admin.sites import register

from .models import CareCase, CareCaseClinicalTrial

CLINICAL_TRIAL_SECTIONS = [
    (
        "Trial",
        [
            "case_Key",
            "study_Title",
            "protocol_Number",
            "careCaseClinicalTrialStudyPhase_ID",
            "careCaseClinicalTrialArm_ID",
            "careCaseClinicalTrialReason_ID",
        ],
    ),
    ("Study", ["disease", "study_Drug", "study_Length", "inclusionExclusion", "location", "website"]),
    ("Comment", ["comment"]),
]


class ClinicalTrialInline(EntityFormMixin, admin.TabularInline):
    """A care case's trials, one compact row each (a stacked trial took about 430 px): the fields
    that tell trials apart; the rest on the trial's own page (the change link)."""

    model = CareCaseClinicalTrial
    fields = [
        "study_Title",
        "protocol_Number",
        "careCaseClinicalTrialStudyPhase_ID",
        "careCaseClinicalTrialArm_ID",
        "careCaseClinicalTrialReason_ID",
        VERSION_FIELD,  # hidden: the stale-form check of each row
    ]
    extra = 0
    show_change_link = True

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.fields})]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.TextField) and formfield is not None:
            formfield.widget = forms.TextInput(attrs={"size": 28 if db_field.name == "study_Title" else 14})
        return formfield


@register(CareCase)
class CareCaseAdmin(MemberSearchMixin, EntityAdmin):
    list_display = [
        "case_Key",
        "case_ID",
        "member",
        "case_Status",
        "case_Reason",
        "case_Priority",
        "case_Start_Date",
        "case_End_Date",
        "appointment_Date",
    ]
    date_hierarchy = "case_Start_Date"
    list_filter = ["case_Status", "case_Reason", "case_Assign_Type", "case_Close_Reason", "do_Not_Contact"]
    search_fields = ["=case_Key", "^case_ID", "^subscriber_ID", "^provider_ID", "^group_ID"]
    search_help_text = "Case key, case ID, member (S615226-01), subscriber, provider or group."
    sections = [
        (
            "Case",
            [
                "case_ID",
                "case_Status",
                "case_Reason",
                "case_Priority",
                "case_Score",
                "carePlan_Key",
                "case_Assign_Type",
                "case_Close_Reason",
            ],
        ),
        (
            "Member",
            ["subscriber_ID", "member_Seq", "group_ID", "division_ID", "provider_ID", "do_Not_Contact"],
        ),
        ("Dates", ["case_Start_Date", "case_End_Date", "assessment_Date", "appointment_Date"]),
        ("Eligibility", ["eligibility_*"]),
    ]
    inlines = [ClinicalTrialInline]


@register(CareCaseClinicalTrial)
class CareCaseClinicalTrialAdmin(EntityAdmin):
    list_display = [
        "careCaseClinicalTrial_Key",
        "case_Key",
        "case_member",
        "study_Title",
        "protocol_Number",
        "careCaseClinicalTrialStudyPhase_ID",
        "update_Date",
    ]
    column_labels = {
        "careCaseClinicalTrial_Key": "trial key",
        "careCaseClinicalTrialStudyPhase_ID": "study phase",
        "update_Date": "updated",
    }
    list_select_related = ["case_Key"]
    list_filter = [
        ("careCaseClinicalTrialStudyPhase_ID", values_filter("study phase")),
        ("careCaseClinicalTrialArm_ID", values_filter("arm")),
        ("careCaseClinicalTrialReason_ID", values_filter("reason")),
    ]
    search_fields = [
        "=careCaseClinicalTrial_Key",
        "=case_Key__case_Key",
        "^case_Key__subscriber_ID",
        "^protocol_Number",
        "study_Title",
    ]
    search_help_text = "Trial key, case key, subscriber, protocol number or words of the study title."
    ordering = ["-careCaseClinicalTrial_Key"]
    autocomplete_fields = ["case_Key"]
    sections = CLINICAL_TRIAL_SECTIONS

    @admin.display(description="member", ordering="case_Key__subscriber_ID")
    def case_member(self, obj):
        return self.member(obj.case_Key) if obj.case_Key_id else None
