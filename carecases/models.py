"""CareCase and CareCaseClinicalTrial: every field of the VBAPI documents, where their rules live."""

from django.db import models

from vbaproject.db.indexes import SortIndex
from vbaproject.record_labels import record_label


class CareCase(models.Model):
    """A care-management case of one member, under a care plan."""

    case_Key = models.AutoField(primary_key=True, help_text="Identifier of the case.")
    appointment_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="User Managed field: Date of next Appointment",
    )
    assessment_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="User managed field: Date when the case was assessed.",
    )
    carePlan_Key = models.IntegerField(
        help_text="Identifies the type care associated with the case.",
    )
    case_Assign_Type = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text="Who or what Entity the Case was assigned to.",
    )
    case_End_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Day when the case ended.",
    )
    case_ID = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="Identifier of the case.",
    )
    case_Priority = models.IntegerField(
        null=True,
        blank=True,
        help_text=(
            "Identifies the priority of the case. 'Case Priorities' are configured within 'Care "
            "Management Configuration'."
        ),
    )
    case_Reason = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Identifies the reason of the case. 'Case Reasons' are configured within 'Care Management "
            "Configuration'."
        ),
    )
    case_Score = models.FloatField(
        null=True,
        blank=True,
        help_text="User Managed field used when Auto Assigning cases.",
    )
    case_Start_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Day when the case began.",
    )
    case_Status = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text=(
            "Identifies the status of the case. 'Case Statuses' are configured within 'Care Management "
            "Configuration'."
        ),
    )
    division_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Division associated with the case.",
    )
    do_Not_Contact = models.BooleanField(help_text="User Managed field for whether or not to contact member.")
    eligibility_Verified = models.DateTimeField(
        null=True,
        blank=True,
        help_text="User Managed field: Date elegibility verified",
    )
    eligibility_Verified_Comment = models.CharField(
        max_length=512,
        null=True,
        blank=True,
        help_text="User Managed field: Comment about Eligibility verification.",
    )
    case_Close_Reason = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text="The identifier of the case close reason.",
    )
    entry_Date = models.DateTimeField(editable=False, help_text="Date record was first added to the system")
    entry_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that first added the record to the system",
    )
    group_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Group associated with the case.",
    )
    member_Seq = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Sequential identifier of the Member associated with the case.",
    )
    provider_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Provider associated with the case.",
    )
    subscriber_ID = models.CharField(
        max_length=9,
        null=True,
        blank=True,
        help_text="ID of the Subscriber associated with the case.",
    )
    update_Date = models.DateTimeField(
        editable=False,
        help_text="Date the record was last updated in the system",
    )
    update_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that last updated the record in the system",
    )

    class Meta:
        verbose_name = "care case"
        verbose_name_plural = "care cases"
        # Meta indexes rather than db_index: no varchar_pattern_ops twin for each on PostgreSQL.
        # (field, key) SortIndexes serve a list filtered or sorted on the field (vbaproject.db.indexes).
        indexes = [
            SortIndex(fields=["carePlan_Key", "case_Key"], name="carecase_careplan_key_sort"),
            SortIndex(fields=["case_Assign_Type", "case_Key"], name="carecase_case_assign_type_sort"),
            SortIndex(fields=["case_End_Date", "case_Key"], name="carecase_case_end_date_sort"),
            SortIndex(fields=["case_ID", "case_Key"], name="carecase_case_id_sort"),
            SortIndex(fields=["case_Reason", "case_Key"], name="carecase_case_reason_sort"),
            SortIndex(fields=["case_Start_Date", "case_Key"], name="carecase_case_start_date_sort"),
            SortIndex(fields=["case_Status", "case_Key"], name="carecase_case_status_sort"),
            SortIndex(fields=["provider_ID", "case_Key"], name="carecase_provider_id_sort"),
            SortIndex(fields=["update_Date", "case_Key"], name="carecase_update_date_sort"),
            models.Index(fields=["subscriber_ID", "member_Seq"], name="careca_carecase_member_idx"),
        ]

    def __str__(self):
        return record_label("Care case", self.pk, self, "case_Start_Date", "from")


class CareCaseClinicalTrial(models.Model):
    """A clinical trial that the member of a care case takes part in."""

    careCaseClinicalTrial_Key = models.AutoField(
        primary_key=True,
        help_text=(
            "Identifier for the Clinical Trial Note: The database will apply a default value of `0` for "
            "this field if a value is not provided. This field is also marked as NOT NULL in the "
            "database and therefore required by the API. If you do not have a value for this field, "
            "supply the database default value of `0` to meet the API requirements and ensure that the "
            "functionality occurs as expected."
        ),
    )
    careCaseClinicalTrialArm_ID = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="User Managed field that ties to the Clinical Trial Arm in the system",
    )
    careCaseClinicalTrialReason_ID = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="User Managed field that ties to the Clinical Trial Reason in the system.",
    )
    careCaseClinicalTrialStudyPhase_ID = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="User Managed field that ties to the Study Phase in the system",
    )
    case_Key = models.ForeignKey(
        "carecases.CareCase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_column="case_Key",
        related_name="clinical_trials",
        help_text="Identifier of the case.",
    )
    comment = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Comment of this Clinical Trial",
    )
    disease = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Disease of this Clinical Trial",
    )
    entry_Date = models.DateTimeField(editable=False, help_text="Date record was first added to the system")
    entry_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that first added the record to the system",
    )
    inclusionExclusion = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Inclusion Exclusion of this Clinical Trial",
    )
    location = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Location of this Clinical Trial",
    )
    protocol_Number = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Protocol Number of this Clinical Trial",
    )
    study_Drug = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Study Drug of this Clinical Trial",
    )
    study_Length = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Study Length of this Clinical Trial",
    )
    study_Title = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Study Title of this Clinical Trial",
    )
    update_Date = models.DateTimeField(
        editable=False,
        help_text="Date the record was last updated in the system",
    )
    update_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that last updated the record in the system",
    )
    website = models.TextField(
        null=True,
        blank=True,
        help_text="User Managed field that displays the Website of this Clinical Trial",
    )

    class Meta:
        # Meta indexes rather than db_index: no varchar_pattern_ops twin for each on PostgreSQL.
        # (field, key) SortIndexes serve a list filtered or sorted on the field (vbaproject.db.indexes).
        indexes = [
            SortIndex(fields=["update_Date", "careCaseClinicalTrial_Key"], name="cctrial_update_date_sort"),
        ]
        verbose_name = "clinical trial"
        verbose_name_plural = "clinical trials"

    def __str__(self):
        case = f"care case {self.case_Key_id}" if self.case_Key_id is not None else None
        return record_label("Clinical trial", self.pk, extra=[case])
