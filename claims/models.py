"""The ClaimPromptPay model: every field of the VBAPI document, the one place the field rules live."""

from django.db import models

from vbaproject.db.indexes import SortIndex


class ClaimPromptPay(models.Model):
    """A prompt-pay rule: how long after receipt claims of a group, plan or provider must be paid."""

    claimPromptPay_Key = models.AutoField(
        primary_key=True,
        help_text=(
            "Unique identifer for each claim prompt pay entry. Note: This field is marked as NOT NULL "
            "in the database and therefore required by the API."
        ),
    )
    division_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text=(
            "The patients (or Subscribers) enrollment information, references Subenrollment.Division_ID."
        ),
    )
    entry_Date = models.DateTimeField(editable=False, help_text="Date record was first added to the system")
    entry_User = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        editable=False,
        help_text="User that first added the record to the system",
    )
    group_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="The patients (or Subscribers) enrollment information, references Subenrollment.Group_ID.",
    )
    plan_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="Holds the plan the patient is enrolled in and that benefits are assigned.",
    )
    prompt_Pay_Duration = models.IntegerField(
        null=True,
        blank=True,
        help_text=(
            "Holds the length of the duration to define this prompt pay record, as a numeric value only."
        ),
    )
    prompt_Pay_Duration_Type = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text="Defines the type of duration used in configuration. D = Day, M = Month, Y = Year.",
    )
    tax_ID = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        help_text="Holds the Tax_ID (Federal_ID) of the provider for this record.",
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
        # Meta indexes rather than db_index: no varchar_pattern_ops twin for each on PostgreSQL.
        # (field, key) SortIndexes serve a list filtered or sorted on the field (vbaproject.db.indexes).
        indexes = [
            SortIndex(fields=["group_ID", "claimPromptPay_Key"], name="promptpay_group_id_sort"),
            SortIndex(fields=["plan_ID", "claimPromptPay_Key"], name="promptpay_plan_id_sort"),
            SortIndex(
                fields=["prompt_Pay_Duration_Type", "claimPromptPay_Key"], name="promptpay_duration_type_sort"
            ),
            SortIndex(fields=["tax_ID", "claimPromptPay_Key"], name="promptpay_tax_id_sort"),
            SortIndex(fields=["update_Date", "claimPromptPay_Key"], name="promptpay_update_date_sort"),
            # The admin list's order, the key last (claims/admin.py).
            models.Index(
                fields=["group_ID", "division_ID", "plan_ID", "tax_ID", "claimPromptPay_Key"],
                name="promptpay_admin_order",
            ),
        ]
        verbose_name = "claim prompt pay"
        verbose_name_plural = "claim prompt pays"

    def __str__(self):
        return f"Claim prompt pay {self.pk}"
