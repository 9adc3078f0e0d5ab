from django.contrib import admin

from vbaproject.admin_base import EntityAdmin, EntityInline

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


class ClinicalTrialInline(EntityInline):
    model = CareCaseClinicalTrial
    sections = CLINICAL_TRIAL_SECTIONS


@admin.register(CareCase)
class CareCaseAdmin(EntityAdmin):
    list_display = [
        "case_Key",
        "case_ID",
        "subscriber_ID",
        "member_Seq",
        "case_Status",
        "case_Reason",
        "case_Priority",
        "case_Start_Date",
        "case_End_Date",
        "appointment_Date",
    ]
    list_filter = [
        "case_Status",
        "case_Reason",
        "case_Assign_Type",
        "case_Close_Reason",
        "do_Not_Contact",
        "case_Start_Date",
        "case_End_Date",
        "appointment_Date",
    ]
    search_fields = ["=case_Key", "^case_ID", "^subscriber_ID", "^provider_ID", "^group_ID"]
    search_help_text = "Case key, case ID, subscriber, provider or group."
    date_hierarchy = "case_Start_Date"
    ordering = ["-case_Start_Date", "-case_Key"]
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


@admin.register(CareCaseClinicalTrial)
class CareCaseClinicalTrialAdmin(EntityAdmin):
    list_display = [
        "careCaseClinicalTrial_Key",
        "case_Key",
        "subscriber",
        "study_Title",
        "protocol_Number",
        "careCaseClinicalTrialStudyPhase_ID",
        "careCaseClinicalTrialArm_ID",
        "update_Date",
    ]
    list_select_related = ["case_Key"]
    list_filter = [
        "careCaseClinicalTrialStudyPhase_ID",
        "careCaseClinicalTrialArm_ID",
        "careCaseClinicalTrialReason_ID",
        "update_Date",
    ]
    search_fields = [
        "=careCaseClinicalTrial_Key",
        "=case_Key__case_Key",
        "^case_Key__subscriber_ID",
        "^protocol_Number",
        "study_Title",
    ]
    search_help_text = "Trial key, case key, subscriber, protocol number or words of the study title."
    date_hierarchy = "update_Date"
    ordering = ["-careCaseClinicalTrial_Key"]
    autocomplete_fields = ["case_Key"]
    sections = CLINICAL_TRIAL_SECTIONS

    @admin.display(description="subscriber", ordering="case_Key__subscriber_ID")
    def subscriber(self, obj):
        case = obj.case_Key
        if case is None or not case.subscriber_ID:
            return None
        return f"{case.subscriber_ID}-{case.member_Seq}" if case.member_Seq else case.subscriber_ID
