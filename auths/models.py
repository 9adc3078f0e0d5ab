"""The Auth model: every field of the VBAPI document, the one place the field rules live."""

from django.core.validators import MinLengthValidator
from django.db import models

from vbaproject.db.admin_indexes import PrefixIndex
from vbaproject.db.indexes import SortIndex
from vbaproject.record_labels import record_label


class Auth(models.Model):
    """A prior authorization: what was requested, approved, denied and actually used."""

    auth_Number = models.CharField(
        primary_key=True,
        max_length=20,
        help_text="Unique identifier assigned to the authorization.",
    )
    actual_From = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when authorization usage begins/began.",
    )
    actual_Location = models.CharField(
        max_length=4,
        null=True,
        blank=True,
        help_text="Location where the authorization was used.",
    )
    actual_Thru = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when authorization usage ends/ended.",
    )
    additional_Visits = models.FloatField(
        null=True,
        blank=True,
        help_text=(
            "No longer in use. This would track if an Auth had been adjusted to increase the number of "
            "approved visits. This is now done through the Auth Adjustment process where a new Auth is "
            "created referencing the original Auth."
        ),
    )
    amount_Actual = models.FloatField(
        null=True,
        blank=True,
        help_text="Total approved amount that has been used.",
    )
    amount_Approved = models.FloatField(
        null=True,
        blank=True,
        help_text="Approved amount of the authorization.",
    )
    amount_Denied = models.FloatField(null=True, blank=True, help_text="Denied amount of the authorization.")
    amount_Requested = models.FloatField(
        null=True,
        blank=True,
        help_text="Requested amount of the authorization.",
    )
    approved_By = models.CharField(
        max_length=50,
        null=True,
        blank=True,
        help_text="User that either approved, pended, or denied the authorization.",
    )
    approved_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Date when the authorization was approved, denied, or pended as specified by the status field."
        ),
    )
    approved_Frequency = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text="Authorization frequency that is/was approved.",
    )
    approved_From = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization approval starts/started.",
    )
    approved_Location = models.CharField(
        max_length=4,
        null=True,
        blank=True,
        help_text="Approved location of the authorization.",
    )
    approved_Thru = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization approval expires/expired.",
    )
    assigned_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="User that the authorization was assigned to.",
    )
    audit_Flag = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Information field used in custom reporting.",
    )
    auth_Code = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text="Code that indicates the authorization status.",
    )
    auth_Type = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text=(
            "Indicates the type of authorization. Auth types can be configured within 'Auth Configuration'."
        ),
    )
    auto_Accident = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Check this box to indicate that the authorization is related to an automotive accident.",
    )
    bodyCode_ID = models.CharField(max_length=8, null=True, blank=True, help_text="No longer in use.")
    careManager_Key = models.IntegerField(
        null=True,
        blank=True,
        help_text="ID of the Care Manager associated with the auth.",
    )
    case_Index_Actual = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Informational field used to identify the case index.",
    )
    case_Index_Approved = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Informational field used to identify the case index.",
    )
    case_Index_Denied = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Informational field used to identify the case index.",
    )
    case_Index_Requested = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Informational field used to identify the case index.",
    )
    case_Number = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="Informational field used to house the case number.",
    )
    cityCode_ID = models.CharField(max_length=8, null=True, blank=True, help_text="No longer in use.")
    closed = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Field no longer used. This is repalced by the Status field. Note: The database will apply "
            "a default value of `False` for this field if a value is not provided. This field is also "
            "marked as NOT NULL in the database and therefore required by the API. If you do not have a "
            "value for this field, supply the database default value of `False` to meet the API "
            "requirements and ensure that the functionality occurs as expected."
        ),
    )
    drG_Category = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text="Identifies the category of the selected DRG Code.",
    )
    drG_Code = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text="Specifies a DRG code that is to be associated with the authorization.",
    )
    daily_Living = models.IntegerField(
        null=True,
        blank=True,
        help_text=(
            "Identifies that the authoization is associated with a claim that is affecting the "
            "patient's daily living."
        ),
    )
    denied_From = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization denial starts/started.",
    )
    denied_Thru = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization denial expires/expired.",
    )
    discharge_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the patient was discharged.",
    )
    entry_Date = models.DateTimeField(
        editable=False,
        help_text="Date when the record was first added to the system.",
    )
    entry_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that first added the record to the system.",
    )
    federal_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text=(
            "Unique identifier assigned to the Provider associated with the Auth. This field can be "
            "populated by right-clicking and selecting 'Lookup' from the context menu."
        ),
    )
    ivR_Flag = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Indicates that the Auth was Initiated via IVR.",
    )
    injury_Date = models.DateTimeField(null=True, blank=True, help_text="Date when the injury occurred.")
    member_Seq = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Sequential identifier assigned to the Member.",
    )
    monthly_Amount = models.FloatField(
        null=True,
        blank=True,
        help_text="Information field used in custom reporting.",
    )
    narrative = models.TextField(
        null=True,
        blank=True,
        help_text=(
            "Field no longer used. For Notes/Comments/Narrative information you would use the Note "
            "Services area."
        ),
    )
    new_Or_Extended = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Indicates that the associated authorization is a new authorization or an extension of the "
            "original authorization. Note: The database will apply a default value of `False` for this "
            "field if a value is not provided. This field is also marked as NOT NULL in the database "
            "and therefore required by the API. If you do not have a value for this field, supply the "
            "database default value of `False` to meet the API requirements and ensure that the "
            "functionality occurs as expected."
        ),
    )
    notes = models.TextField(
        null=True,
        blank=True,
        help_text="Field that allows the User to add any additional information to the authorization.",
    )
    ordered_By_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Provider who ordered this auth.",
    )
    ordered_By_Name = models.CharField(
        max_length=512,
        null=True,
        blank=True,
        help_text="Name of the Provider who ordered this auth.",
    )
    other_Coverage_Primary = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Information field used in custom reporting.",
    )
    other_Insurance = models.CharField(
        max_length=2,
        null=True,
        blank=True,
        help_text="Check this box to indicate that the associated Member has other insurance.",
    )
    payee_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="ID of the Payee associated with the auth.",
    )
    plan_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="Unique identifier assigned to the plan.",
    )
    previous_Auth = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text=(
            "This field is no longer used as it has been replaced by the the Auth Adjustment process "
            "where an AuthReference record is created instead."
        ),
    )
    previous_Treatment = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Check this box to indicate that previous treatment had been administered. Note: The "
            "database will apply a default value of `False` for this field if a value is not provided. "
            "This field is also marked as NOT NULL in the database and therefore required by the API. "
            "If you do not have a value for this field, supply the database default value of `False` to "
            "meet the API requirements and ensure that the functionality occurs as expected."
        ),
    )
    prior_Auth = models.CharField(max_length=20, null=True, blank=True, help_text="References Prior Auth")
    provider_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text=(
            "Unique identifier assigned to the Provider associated with the Auth. This field can be "
            "populated by right-clicking and selecting 'Lookup' from the context menu."
        ),
    )
    radiating_Pain = models.IntegerField(
        null=True,
        blank=True,
        help_text=(
            "Identifies that the authoization is associated with a claim where the patient is "
            "experiencing radiating pain."
        ),
    )
    range_Of_Motion = models.IntegerField(
        null=True,
        blank=True,
        help_text=(
            "Identifies that the authoization is associated with a claim that is affecting the "
            "patient's range of motion."
        ),
    )
    received_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization was received.",
    )
    referred_By_ID = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text=(
            "Unique identifier assigned to the Provider who is referring. This field can be populated "
            "by right-clicking and selecting 'Lookup' from the context menu."
        ),
    )
    referred_By_Name = models.CharField(
        max_length=512,
        null=True,
        blank=True,
        help_text=(
            "Name of the referring Provider. This field is automatically populated by the 'Referred By "
            "ID' field."
        ),
    )
    region = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Information field used in custom reporting.",
    )
    reinsNotification_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Date when the Reinsurance Notification report was run. Process automation will be prompted "
            "to send the auth reinsurance notification on this date."
        ),
    )
    requested_Frequency = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text="Authorization frequency that is/was requested.",
    )
    requested_From = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization is/was requested to be effective.",
    )
    requested_Location = models.CharField(
        max_length=4,
        null=True,
        blank=True,
        help_text="Requested location of the authorization.",
    )
    requested_Thru = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Date when the authorization is/was requested to expire.",
    )
    service_Code = models.CharField(
        max_length=5,
        null=True,
        blank=True,
        help_text="Code used to identify the service type associated with the authorization.",
    )
    service_Type = models.CharField(
        max_length=10,
        null=True,
        blank=True,
        help_text="Type of service associated with the authorization.",
    )
    status = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text="Identifies the current status of the authorization.",
    )
    subscriber_ID = models.CharField(
        max_length=9,
        null=True,
        blank=True,
        help_text=(
            "Unique identifier assigned to the Subscriber associated with the Auth. This field can be "
            "populated by right-clicking and selecting 'Lookup' from the context menu."
        ),
    )
    tPlan_DownLoaded = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Indicates if the Treatment Plan was downloaded from the application. Note: The database "
            "will apply a default value of `False` for this field if a value is not provided. This "
            "field is also marked as NOT NULL in the database and therefore required by the API. If you "
            "do not have a value for this field, supply the database default value of `False` to meet "
            "the API requirements and ensure that the functionality occurs as expected."
        ),
    )
    tPlan_DownLoaded_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Indicates the date the Treatment Plan was downloaded from the application.",
    )
    tPlan_DownLoaded_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        help_text="Indicates the user what downloaded the Treatment Plan from the application.",
    )
    tPlan_Printed = models.CharField(
        max_length=1,
        validators=[MinLengthValidator(1)],
        help_text="Flag indicating if this Auth has been printed as a Treatment Plan.",
    )
    tPlan_Printed_Date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The date this Auth has been printed as a Treatment Plan.",
    )
    total_Actual = models.FloatField(null=True, blank=True, help_text="No longer in use.")
    total_Approved = models.FloatField(null=True, blank=True, help_text="No longer in use.")
    total_Requested = models.FloatField(null=True, blank=True, help_text="No longer in use.")
    total_Unit_Type = models.CharField(max_length=16, null=True, blank=True, help_text="No longer in use.")
    treatment_Type = models.CharField(
        max_length=8,
        null=True,
        blank=True,
        help_text="Indicates the type of treatment that is being authorized.",
    )
    type_Of_Service = models.CharField(max_length=5, null=True, blank=True, help_text="No longer in use.")
    unit_Type = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        help_text=(
            "Unit type that is used for the associated service. Unit types can be configured in 'Auth "
            "Configuration'."
        ),
    )
    units_Actual = models.FloatField(
        null=True,
        blank=True,
        help_text="Total number of approved units that have been used.",
    )
    units_Approved = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of units approved as part of the authorization.",
    )
    units_Denied = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of units denied as part of the authorization.",
    )
    units_Requested = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of units requested as part of the authorization.",
    )
    update_Date = models.DateTimeField(
        editable=False,
        help_text="Date when the record was last updated in the system.",
    )
    update_User = models.CharField(
        max_length=20,
        null=True,
        blank=True,
        editable=False,
        help_text="User that last updated the record in the system.",
    )
    urgent = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Check this box to indicate that the authorization request is urgent. Note: The database "
            "will apply a default value of `False` for this field if a value is not provided. This "
            "field is also marked as NOT NULL in the database and therefore required by the API. If you "
            "do not have a value for this field, supply the database default value of `False` to meet "
            "the API requirements and ensure that the functionality occurs as expected."
        ),
    )
    visits_Actual = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of visits used as part of the authorization.",
    )
    visits_Approved = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of visits approved as part of the authorization.",
    )
    visits_Requested = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of visits requested as part of the authorization.",
    )
    visits_To_Date = models.FloatField(
        null=True,
        blank=True,
        help_text="Number of visits that have been used up to the current date.",
    )
    work_Related = models.CharField(
        max_length=1,
        null=True,
        blank=True,
        help_text="Check this box to indicate that the authorization is related to work.",
    )

    class Meta:
        verbose_name = "auth"
        verbose_name_plural = "auths"
        # Meta indexes rather than db_index: no varchar_pattern_ops twin for each on PostgreSQL.
        # (field, key) SortIndexes serve a list filtered or sorted on the field (vbaproject.db.indexes).
        indexes = [
            SortIndex(fields=["approved_From", "auth_Number"], name="auth_approved_from_sort"),
            SortIndex(fields=["approved_Thru", "auth_Number"], name="auth_approved_thru_sort"),
            SortIndex(fields=["auth_Code", "auth_Number"], name="auth_auth_code_sort"),
            SortIndex(fields=["auth_Type", "auth_Number"], name="auth_auth_type_sort"),
            SortIndex(fields=["case_Number", "auth_Number"], name="auth_case_number_sort"),
            SortIndex(fields=["provider_ID", "auth_Number"], name="auth_provider_id_sort"),
            SortIndex(fields=["received_Date", "auth_Number"], name="auth_received_date_sort"),
            SortIndex(fields=["requested_From", "auth_Number"], name="auth_requested_from_sort"),
            SortIndex(fields=["service_Type", "auth_Number"], name="auth_service_type_sort"),
            SortIndex(fields=["status", "auth_Number"], name="auth_status_sort"),
            SortIndex(fields=["treatment_Type", "auth_Number"], name="auth_treatment_type_sort"),
            SortIndex(fields=["update_Date", "auth_Number"], name="auth_update_date_sort"),
            models.Index(fields=["subscriber_ID", "member_Seq"], name="auths_auth_member_idx"),
            # The admin's search by prefix of the IDs (vbaproject.admin.scale, vbaproject.db.admin_indexes).
            PrefixIndex(field="auth_Number", name="auth_number_prefix"),
            PrefixIndex(field="subscriber_ID", name="auth_subscriber_prefix"),
            PrefixIndex(field="provider_ID", name="auth_provider_prefix"),
            PrefixIndex(field="case_Number", name="auth_case_number_prefix"),
            PrefixIndex(field="prior_Auth", name="auth_prior_auth_prefix"),
        ]

    def __str__(self):
        return record_label("Auth", self.pk, self, "received_Date", "received")
