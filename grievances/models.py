"""The Grievance model: every field of the VBAPI document, the one place the field rules live."""

from django.db import models

from vbaproject.db.admin_indexes import OrderIndex, PrefixIndex
from vbaproject.db.indexes import SortIndex
from vbaproject.record_labels import record_label


class Grievance(models.Model):
    """A grievance filed by or for a member, from receipt to resolution."""

    grievance_Key = models.AutoField(
        primary_key=True,
        help_text=(
            "ID number of the grievance. Note: This field is marked as NOT NULL in the database and "
            "therefore required by the API."
        ),
    )
    admin_Change = models.CharField(
        max_length=4096,
        null=True,
        blank=True,
        help_text="Area where the User may describe the administrative change.",
    )
    admin_Change_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the administrative change took place.",
    )
    admin_Change_Type = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Type of change that was made by Administration. 'Admin. Change Types' are configured "
            "within 'Grievance Configuration'."
        ),
    )
    call_Key = models.IntegerField(
        null=True,
        blank=True,
        help_text="ID of the call from which the grievance was submitted.",
    )
    entry_Date = models.DateTimeField(editable=False, help_text="Date record was first added to the system")
    entry_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that first added the record to the system",
    )
    grievance_Category = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Category of the grievance. 'Greivance Categories' are configured within 'Grievance "
            "Configuration'."
        ),
    )
    grievance_Filed = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the grievance was viewed and filed by an Administartor.",
    )
    grievance_Received = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the grievance was submitted.",
    )
    grievance_Resolved = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the grievance was resolved.",
    )
    grievance_Source = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text="ID of the source of the grievance.",
    )
    grievance_Status = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Status of the grievance. 'Greivance Statuses' are configured within 'Grievance Configuration'."
        ),
    )
    grievance_Type = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text="Type of the grievance. 'Grievance Types' are configured within 'Grievance Configuration'.",
    )
    issue = models.CharField(
        max_length=4096,
        null=True,
        blank=True,
        help_text="Area where the User may describe the issue.",
    )
    issue_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the issue occurred.",
    )
    issue_Type = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Type of issue the grievance is associated with. 'Issue Types' are configured within "
            "'Grievance Configuration'."
        ),
    )
    member_Seq = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Sequential identifier of the Member associated with the grievance.",
    )
    patient_Account_Number = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="Account number of the Patient associated with the grievance.",
    )
    provider_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Provider associated with the grievance.",
    )
    resolution = models.CharField(
        max_length=4096,
        null=True,
        blank=True,
        help_text="Area where the User may describe the resolution.",
    )
    resolution_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the resolution was implemented.",
    )
    resolution_Type = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text=(
            "Type of resolution used to address the grievance. 'Resolution Types' are configured within "
            "'Grievance Configuration'."
        ),
    )
    subscriber_ID = models.CharField(
        max_length=9,
        null=True,
        blank=True,
        help_text="Unique system assigned number for the Subscriber",
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
        verbose_name = "grievance"
        verbose_name_plural = "grievances"
        # Meta indexes rather than db_index: no varchar_pattern_ops twin for each on PostgreSQL.
        # (field, key) SortIndexes serve a list filtered or sorted on the field (vbaproject.db.indexes).
        indexes = [
            SortIndex(fields=["grievance_Category", "grievance_Key"], name="grievance_category_sort"),
            SortIndex(fields=["grievance_Received", "grievance_Key"], name="grievance_received_sort"),
            SortIndex(fields=["grievance_Resolved", "grievance_Key"], name="grievance_resolved_sort"),
            SortIndex(fields=["grievance_Status", "grievance_Key"], name="grievance_status_sort"),
            SortIndex(fields=["grievance_Type", "grievance_Key"], name="grievance_type_sort"),
            SortIndex(fields=["issue_Date", "grievance_Key"], name="grievance_issue_date_sort"),
            SortIndex(fields=["issue_Type", "grievance_Key"], name="grievance_issue_type_sort"),
            SortIndex(fields=["provider_ID", "grievance_Key"], name="grievance_provider_id_sort"),
            SortIndex(fields=["resolution_Type", "grievance_Key"], name="grievance_resolution_type_sort"),
            SortIndex(fields=["update_Date", "grievance_Key"], name="grievance_update_date_sort"),
            models.Index(fields=["subscriber_ID", "member_Seq"], name="grieva_grievance_member_idx"),
            # The admin (vbaproject.admin.scale, vbaproject.db.admin_indexes): its default order
            # (open first, newest received, newest key), its source filter, its search by prefix
            # of the IDs and by call key.
            OrderIndex(
                models.ExpressionWrapper(
                    models.Q(grievance_Resolved__isnull=True), output_field=models.BooleanField()
                ).desc(),
                models.F("grievance_Received").desc(nulls_last=True),
                models.F("grievance_Key").desc(),
                name="grievance_admin_order",
            ),
            SortIndex(fields=["grievance_Source", "grievance_Key"], name="grievance_source_sort"),
            PrefixIndex(field="subscriber_ID", name="grievance_subscriber_prefix"),
            PrefixIndex(field="provider_ID", name="grievance_provider_prefix"),
            PrefixIndex(field="patient_Account_Number", name="grievance_patient_acct_prefix"),
            models.Index(fields=["call_Key"], name="grievance_call_key_idx"),
        ]

    def __str__(self):
        return record_label("Grievance", self.pk, self, "grievance_Received", "received")
