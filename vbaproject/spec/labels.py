"""What each field is called on staff's screens: a label and a help text beside every API name.

The API names (``drG_Category``, ``tPlan_DownLoaded``, ``careManager_Key``) are VBAPI's and stay
exactly as they are on the wire, in the models and in the CSV's first header row. People read
"DRG category", "Treatment plan downloaded", "Care manager". This table is the one place those
words live: the admin's form labels, list columns and filter titles read it
(``vbaproject.admin.forms``), so a model never needs a migration for a wording change.

Help texts are written for grievance staff and care managers: what the field means at work, never
what the API requires of a client ("NOT NULL ... required by the API"), never "null".

The table also says which fields are *codes* (a small vocabulary: statuses, types, phases, shown
with suggestions of the values in use and saved in upper case), which are *Y/N flags* (VBA keeps
``Y``/``N`` in a one-character column; staff tick a box), which date-times are *date-only facts*
(an injury, a discharge, a service range: entered as a day, stored at midnight UTC, exactly as
the API stores a plain date such as ``2024-05-31``) and which pairs of dates must run in order
(a warning staff can confirm past, never a refusal: the API accepts them in any order).
"""

# Fields of every entity.
COMMON = {
    "entry_Date": ("Added on", "When this record was first added."),
    "entry_User": ("Added by", "Who added this record."),
    "update_Date": ("Last changed", "When this record was last changed."),
    "update_User": ("Last changed by", "Who last changed this record."),
    "subscriber_ID": (
        "Subscriber ID",
        "The subscriber's ID, as on the member's card (without the member number).",
    ),
    "member_Seq": (
        "Member number",
        "Which member of the subscriber's family: 01 is the subscriber, 02 the next, and so on.",
    ),
    "provider_ID": ("Provider ID", "The provider's ID."),
    "group_ID": ("Group ID", "The employer group the member is enrolled through."),
    "division_ID": ("Division ID", "The division of the group the member is enrolled in."),
    "plan_ID": ("Plan ID", "The plan the member is enrolled in."),
}

ENTITIES = {
    "CareCase": {
        "case_Key": ("Case number", "The number this system gave the case."),
        "appointment_Date": ("Next appointment", "When the member's next appointment is."),
        "assessment_Date": ("Assessed on", "The day the case was assessed."),
        "carePlan_Key": ("Care plan", "The kind of care the case follows (a care plan number)."),
        "case_Assign_Type": (
            "Assigned to (kind)",
            "Who or what the case is assigned to, such as a user or a team.",
        ),
        "case_End_Date": ("Case ended", "The day the case ended."),
        "case_ID": ("Case ID", "The case's own identifier."),
        "case_Priority": ("Priority", "How urgent the case is, as set up in care management configuration."),
        "case_Reason": ("Reason", "Why the case was opened, such as DIABETES or CHF."),
        "case_Score": ("Score", "A score used when cases are assigned automatically."),
        "case_Start_Date": ("Case started", "The day the case began."),
        "case_Status": ("Status", "Where the case stands, such as OPEN, ACTIVE or CLOSED."),
        "do_Not_Contact": ("Do not contact", "Tick when the member must not be contacted."),
        "eligibility_Verified": ("Eligibility verified on", "The day the member's eligibility was checked."),
        "eligibility_Verified_Comment": ("Eligibility note", "What was found when eligibility was checked."),
        "case_Close_Reason": ("Close reason", "Why the case was closed, such as GOALS MET."),
    },
    "CareCaseClinicalTrial": {
        "careCaseClinicalTrial_Key": (
            "Trial number",
            "The number this system gave the clinical trial record.",
        ),
        "careCaseClinicalTrialArm_ID": (
            "Arm",
            "The arm of the trial the member is in, such as ARM-A or PLACEBO.",
        ),
        "careCaseClinicalTrialReason_ID": (
            "Reason",
            "Why the member is in the trial, such as ELIGIBLE or REFERRED.",
        ),
        "careCaseClinicalTrialStudyPhase_ID": ("Study phase", "The phase of the study, such as PHASE3."),
        "case_Key": (
            "Care case",
            "The care case this trial belongs to: search by case number, case ID or subscriber.",
        ),
        "comment": ("Comment", "Anything else worth knowing about this trial."),
        "disease": ("Disease", "The disease the trial studies."),
        "inclusionExclusion": ("Inclusion and exclusion", "Who may and may not take part in the trial."),
        "location": ("Location", "Where the trial takes place."),
        "protocol_Number": ("Protocol number", "The trial's protocol number, such as NCT01234567."),
        "study_Drug": ("Study drug", "The drug the trial studies."),
        "study_Length": ("Study length", "How long the trial lasts."),
        "study_Title": ("Study title", "The title of the study."),
        "website": ("Website", "The trial's web page."),
    },
    "Grievance": {
        "grievance_Key": ("Grievance number", "The number this system gave the grievance."),
        "admin_Change": ("Administrative change", "What administration changed because of this grievance."),
        "admin_Change_Date": ("Administrative change on", "The day the administrative change took place."),
        "admin_Change_Type": ("Administrative change type", "The kind of change administration made."),
        "call_Key": ("Call number", "The call the grievance came in on, when it came by phone."),
        "grievance_Category": ("Category", "The grievance's category, such as CLINICAL or ADMIN."),
        "grievance_Filed": ("Filed", "When the grievance was reviewed and filed."),
        "grievance_Received": (
            "Received",
            "When the plan received the grievance: the deadline runs from here.",
        ),
        "grievance_Resolved": ("Resolved", "When the grievance was resolved. Empty while it is open."),
        "grievance_Source": ("Source", "How the grievance came in, such as PHONE, MAIL or PORTAL."),
        "grievance_Status": ("Status", "Where the grievance stands, such as OPEN, PENDING or RESOLVED."),
        "grievance_Type": ("Type", "The kind of grievance, such as QUALITY, ACCESS or BILLING."),
        "issue": ("Issue", "What the member is unhappy about, in their words where possible."),
        "issue_Date": ("Issue happened on", "The day the issue happened."),
        "issue_Type": ("Issue type", "The kind of issue, such as DELAY or DENIAL."),
        "patient_Account_Number": (
            "Patient account number",
            "The patient's account number with the provider.",
        ),
        "resolution": ("Resolution", "How the grievance was resolved."),
        "resolution_Date": ("Resolution carried out", "When the resolution was carried out."),
        "resolution_Type": ("Resolution type", "The outcome, such as UPHELD, OVERTURN or WITHDRAWN."),
        "subscriber_ID": (
            "Subscriber ID",
            "The subscriber's ID, as on the member's card (without the member number).",
        ),
        "provider_ID": ("Provider ID", "The provider the grievance is about, if any."),
    },
    "ClaimPromptPay": {
        "claimPromptPay_Key": ("Prompt-pay number", "The number this system gave the prompt-pay rule."),
        "division_ID": ("Division ID", "The division this rule applies to."),
        "group_ID": ("Group ID", "The group this rule applies to."),
        "plan_ID": ("Plan ID", "The plan this rule applies to."),
        "prompt_Pay_Duration": ("Pay within", "How many days, months or years claims must be paid within."),
        "prompt_Pay_Duration_Type": ("Pay within (unit)", "D for days, M for months, Y for years."),
        "tax_ID": ("Provider tax ID", "The provider's tax (federal) ID this rule applies to."),
        "entry_User": ("Added by", "Who added this rule."),
    },
    "Auth": {
        "auth_Number": ("Auth number", "The authorization's number."),
        "actual_From": ("Used from", "The first day the authorization was used."),
        "actual_Location": ("Location used", "Where the service was given."),
        "actual_Thru": ("Used through", "The last day the authorization was used."),
        "additional_Visits": (
            "Additional visits",
            "No longer used: extra visits are now added with an auth adjustment.",
        ),
        "amount_Actual": ("Amount used", "How much of the approved amount has been used."),
        "amount_Approved": ("Amount approved", "The amount approved."),
        "amount_Denied": ("Amount denied", "The amount denied."),
        "amount_Requested": ("Amount requested", "The amount requested."),
        "approved_By": ("Decided by", "Who approved, pended or denied the authorization."),
        "approved_Date": (
            "Decided on",
            "When the authorization was approved, pended or denied (see its status).",
        ),
        "approved_Frequency": ("Approved frequency", "How often the service is approved, such as weekly."),
        "approved_From": ("Approved from", "The first day the approval covers."),
        "approved_Location": ("Approved location", "Where the service is approved to be given."),
        "approved_Thru": ("Approved through", "The last day the approval covers."),
        "assigned_User": ("Assigned to", "The user working on this authorization."),
        "audit_Flag": ("Audit flag", "A mark used in custom reports."),
        "auth_Code": ("Auth code", "A code for the authorization, such as STD, RETRO or URGENT."),
        "auth_Type": ("Auth type", "The kind of authorization, such as INPAT or OUTPAT."),
        "auto_Accident": ("Auto accident", "Tick when the authorization is related to a car accident."),
        "bodyCode_ID": ("Body code", "No longer used."),
        "careManager_Key": (
            "Care manager",
            "The care manager responsible for this authorization (their number).",
        ),
        "case_Index_Actual": ("Case index (used)", "Identifies the case index for the usage."),
        "case_Index_Approved": ("Case index (approved)", "Identifies the case index for the approval."),
        "case_Index_Denied": ("Case index (denied)", "Identifies the case index for the denial."),
        "case_Index_Requested": ("Case index (requested)", "Identifies the case index for the request."),
        "case_Number": ("Case number", "The case this authorization belongs to."),
        "cityCode_ID": ("City code", "No longer used."),
        "closed": ("Closed", "No longer used: the status says whether an authorization is closed."),
        "drG_Category": ("DRG category", "The category of the DRG code."),
        "drG_Code": ("DRG code", "The diagnosis-related group (DRG) of the authorization."),
        "daily_Living": ("Affects daily living", "Whether the condition affects the patient's daily living."),
        "denied_From": ("Denied from", "The first day the denial covers."),
        "denied_Thru": ("Denied through", "The last day the denial covers."),
        "discharge_Date": ("Discharged on", "The day the patient was discharged."),
        "federal_ID": ("Provider federal ID", "The provider's federal (tax) ID."),
        "ivR_Flag": (
            "Started by phone (IVR)",
            "Tick when the authorization was started through the phone system (IVR).",
        ),
        "injury_Date": ("Injury date", "The day the injury happened."),
        "monthly_Amount": ("Monthly amount", "An amount used in custom reports."),
        "narrative": ("Narrative", "No longer used: notes are kept in the notes area."),
        "new_Or_Extended": (
            "New or extended",
            "Whether this is a new authorization or an extension of an earlier one.",
        ),
        "notes": ("Notes", "Anything else worth knowing about this authorization."),
        "ordered_By_ID": ("Ordered by (ID)", "The ID of the provider who ordered the service."),
        "ordered_By_Name": ("Ordered by", "The name of the provider who ordered the service."),
        "other_Coverage_Primary": (
            "Other coverage primary",
            "A mark used in custom reports: whether other coverage pays first.",
        ),
        "other_Insurance": ("Other insurance", "Tick when the member has other insurance."),
        "payee_ID": ("Payee ID", "Who is paid for the service."),
        "previous_Auth": ("Previous auth", "No longer used: an auth adjustment links authorizations now."),
        "previous_Treatment": ("Previous treatment", "Tick when treatment was given before."),
        "prior_Auth": ("Prior auth", "The number of an earlier authorization this one follows."),
        "provider_ID": ("Provider ID", "The provider who gives the service."),
        "radiating_Pain": ("Radiating pain", "Whether the patient has radiating pain."),
        "range_Of_Motion": ("Range of motion affected", "Whether the patient's range of motion is affected."),
        "received_Date": ("Received", "When the plan received the authorization request."),
        "referred_By_ID": ("Referred by (ID)", "The ID of the referring provider."),
        "referred_By_Name": ("Referred by", "The name of the referring provider."),
        "region": ("Region", "A region code used in custom reports."),
        "reinsNotification_Date": (
            "Reinsurance notice on",
            "The day the reinsurance notice is (or was) sent.",
        ),
        "requested_Frequency": ("Requested frequency", "How often the service is requested, such as weekly."),
        "requested_From": ("Requested from", "The first day the request covers."),
        "requested_Location": ("Requested location", "Where the service is requested to be given."),
        "requested_Thru": ("Requested through", "The last day the request covers."),
        "service_Code": ("Service code", "The code of the service."),
        "service_Type": ("Service type", "The kind of service, such as MEDICAL or SURGICAL."),
        "status": ("Status", "Where the authorization stands, such as APPROVED, PENDED or DENIED."),
        "subscriber_ID": (
            "Subscriber ID",
            "The subscriber's ID, as on the member's card (without the member number).",
        ),
        "tPlan_DownLoaded": ("Treatment plan downloaded", "Whether the treatment plan was downloaded."),
        "tPlan_DownLoaded_Date": ("Treatment plan downloaded on", "When the treatment plan was downloaded."),
        "tPlan_DownLoaded_User": ("Treatment plan downloaded by", "Who downloaded the treatment plan."),
        "tPlan_Printed": ("Treatment plan printed", "Tick when the treatment plan has been printed."),
        "tPlan_Printed_Date": ("Treatment plan printed on", "When the treatment plan was printed."),
        "total_Actual": ("Total used", "No longer used."),
        "total_Approved": ("Total approved", "No longer used."),
        "total_Requested": ("Total requested", "No longer used."),
        "total_Unit_Type": ("Total unit type", "No longer used."),
        "treatment_Type": ("Treatment type", "The kind of treatment, such as PT, OT or CHIRO."),
        "type_Of_Service": ("Type of service", "No longer used."),
        "unit_Type": ("Unit type", "What one unit of the service is, such as a visit or a day."),
        "units_Actual": ("Units used", "How many of the approved units have been used."),
        "units_Approved": ("Units approved", "How many units were approved."),
        "units_Denied": ("Units denied", "How many units were denied."),
        "units_Requested": ("Units requested", "How many units were requested."),
        "urgent": ("Urgent", "Tick when the request is urgent (expedited)."),
        "visits_Actual": ("Visits used", "How many visits have been used."),
        "visits_Approved": ("Visits approved", "How many visits were approved."),
        "visits_Requested": ("Visits requested", "How many visits were requested."),
        "visits_To_Date": ("Visits to date", "How many visits have been used so far."),
        "work_Related": ("Work related", "Tick when the authorization is related to work."),
    },
}

# Codes: a small vocabulary, entered in upper case. ``KNOWN_CODES`` are offered even before any
# record uses them (VBA's usual values; each plan configures its own, so any value is kept).
CODE_FIELDS = {
    "CareCase": {"case_Status", "case_Reason", "case_Assign_Type", "case_Close_Reason"},
    "CareCaseClinicalTrial": {
        "careCaseClinicalTrialStudyPhase_ID",
        "careCaseClinicalTrialArm_ID",
        "careCaseClinicalTrialReason_ID",
    },
    "Grievance": {
        "grievance_Status",
        "grievance_Type",
        "grievance_Category",
        "grievance_Source",
        "issue_Type",
        "resolution_Type",
        "admin_Change_Type",
    },
    "ClaimPromptPay": {"prompt_Pay_Duration_Type"},
    "Auth": {
        "status",
        "auth_Code",
        "auth_Type",
        "service_Type",
        "service_Code",
        "treatment_Type",
        "unit_Type",
        "drG_Category",
        "approved_Frequency",
        "requested_Frequency",
        "actual_Location",
        "approved_Location",
        "requested_Location",
        "region",
        "audit_Flag",
    },
}
KNOWN_CODES = {
    "grievance_Status": ["OPEN", "PENDING", "REVIEW", "RESOLVED", "CLOSED"],
    "resolution_Type": ["UPHELD", "OVERTURN", "WITHDRAWN"],
    "case_Status": ["OPEN", "ACTIVE", "PENDING", "CLOSED"],
    "status": ["OPEN", "PENDED", "APPROVED", "DENIED"],
    "prompt_Pay_Duration_Type": ["D", "M", "Y"],
    "careCaseClinicalTrialStudyPhase_ID": ["PHASE1", "PHASE2", "PHASE3", "PHASE4"],
}
# Y/N flags: VBA keeps "Y" or "N" in a one- or two-character column; staff tick a box.
YES_NO_FIELDS = {
    "Auth": {"auto_Accident", "work_Related", "other_Insurance", "ivR_Flag", "tPlan_Printed"},
}
# Date-only facts: a day, not a moment (from the fields' VBA descriptions: "Day when ...", an
# injury, a discharge, the days a service range covers).
DATE_ONLY_FIELDS = {
    "CareCase": {"assessment_Date", "case_Start_Date", "case_End_Date", "eligibility_Verified"},
    "Grievance": {"issue_Date", "admin_Change_Date"},
    "Auth": {
        "injury_Date",
        "discharge_Date",
        "requested_From",
        "requested_Thru",
        "approved_From",
        "approved_Thru",
        "denied_From",
        "denied_Thru",
        "actual_From",
        "actual_Thru",
        "reinsNotification_Date",
    },
}
# (earlier, later): the later one should not come before the earlier one. Staff may confirm
# past the warning: the API accepts any order, and VBA's history has such records.
DATE_ORDER = {
    "CareCase": [("case_Start_Date", "case_End_Date")],
    "Grievance": [
        ("issue_Date", "grievance_Received"),
        ("grievance_Received", "grievance_Filed"),
        ("grievance_Received", "grievance_Resolved"),
        ("grievance_Received", "resolution_Date"),
    ],
    "Auth": [
        ("requested_From", "requested_Thru"),
        ("approved_From", "approved_Thru"),
        ("denied_From", "denied_Thru"),
        ("actual_From", "actual_Thru"),
        ("injury_Date", "discharge_Date"),
    ],
}


def _entity(model):
    return model if isinstance(model, str) else model.__name__


def _entry(model, name):
    entry = ENTITIES.get(_entity(model), {}).get(name) or COMMON.get(name)
    if entry is None:
        raise KeyError(f"{_entity(model)}.{name} has no label: add it to vbaproject/spec/labels.py")
    return entry


def field_label(model, name):
    """``DRG category``: how staff call the field (sentence case, acronyms kept)."""
    return _entry(model, name)[0]


def field_help(model, name):
    """What the field means at work, for staff."""
    return _entry(model, name)[1]


def lower_label(model, name):
    """The label inside a sentence or a heading: ``status``, ``DRG category``, ``ID`` kept upper."""
    label = field_label(model, name)
    first = label.split(" ", 1)[0]
    if first.isupper() or (len(first) > 1 and first[1].isupper()):
        return label
    return label[:1].lower() + label[1:]


def has_label(model, name):
    try:
        _entry(model, name)
    except KeyError:
        return False
    return True


def is_code(model, name):
    return name in CODE_FIELDS.get(_entity(model), ())


def is_yes_no(model, name):
    return name in YES_NO_FIELDS.get(_entity(model), ())


def is_date_only(model, name):
    return name in DATE_ONLY_FIELDS.get(_entity(model), ())


def date_order(model):
    return DATE_ORDER.get(_entity(model), [])


def normalise_code(value):
    """A code as VBA keeps it: trimmed, inner spaces single, upper case (``" upheld "`` → ``UPHELD``)."""
    if value is None:
        return None
    return " ".join(str(value).split()).upper()
