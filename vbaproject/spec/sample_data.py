"""Plausible, valid records for any entity, made from its spec: demo data, tests and benchmarks.

Values follow each field's kind and limits; a few name patterns (statuses, types, IDs) get
values a person would recognise on screen.
"""

import datetime as dt
import random

from vbaproject.spec.entities import FieldKind, entity_spec

_VOCABULARY = {
    "grievance_Status": ["OPEN", "PENDING", "REVIEW", "RESOLVED", "CLOSED"],
    "grievance_Type": ["QUALITY", "ACCESS", "BILLING", "SERVICE"],
    "grievance_Category": ["CLINICAL", "ADMIN", "PHARMACY"],
    "grievance_Source": ["PHONE", "MAIL", "PORTAL"],
    "issue_Type": ["DELAY", "DENIAL", "RUDENESS", "COST"],
    "resolution_Type": ["UPHELD", "OVERTURN", "WITHDRAWN"],
    "case_Status": ["OPEN", "ACTIVE", "CLOSED", "PENDING"],
    "case_Reason": ["DIABETES", "CHF", "COPD", "PREGNANCY"],
    "case_Assign_Type": ["USER", "TEAM"],
    "status": ["APPROVED", "PENDED", "DENIED", "OPEN"],
    "auth_Type": ["INPAT", "OUTPAT", "DME", "HOMEHLTH"],
    "service_Type": ["MEDICAL", "SURGICAL", "THERAPY"],
    "treatment_Type": ["PT", "OT", "CHIRO"],
    "prompt_Pay_Duration_Type": ["D", "M", "Y"],
    "case_Close_Reason": ["GOALS MET", "DISENROLLED", "DECLINED", "TRANSFERRED"],
    "auth_Code": ["STD", "RETRO", "URGENT"],
    "careCaseClinicalTrialStudyPhase_ID": ["PHASE1", "PHASE2", "PHASE3", "PHASE4"],
    "careCaseClinicalTrialArm_ID": ["ARM-A", "ARM-B", "PLACEBO"],
    "careCaseClinicalTrialReason_ID": ["ELIGIBLE", "REFERRED", "SELF"],
}
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
# Grievances in these statuses are still open: no resolution yet.
_OPEN_GRIEVANCE_STATUSES = {"OPEN", "PENDING", "REVIEW"}
_RESOLUTION_FIELDS = ("grievance_Resolved", "resolution_Date", "resolution_Type", "resolution")


def _string(field, rng):
    if field.name in _VOCABULARY:
        return rng.choice(_VOCABULARY[field.name])
    limit = field.max_length or 40
    if field.name.endswith("_ID"):
        return f"{field.name[0].upper()}{rng.randrange(10**6):06d}"[:limit]
    if field.name == "member_Seq":
        return f"{rng.randrange(1, 10):02d}"
    if limit <= 2:
        return rng.choice("YN")[:limit]
    words = ["follow", "up", "member", "called", "about", "claim", "review", "provider", "noted"]
    return " ".join(rng.choice(words) for _ in range(8))[:limit].strip() or "x"


def sample_value(field, rng):
    """A valid JSON value for ``field``."""
    if field.kind == FieldKind.INTEGER:
        return rng.randrange(1, 100)
    if field.kind == FieldKind.NUMBER:
        return round(rng.uniform(0, 5000), 2)
    if field.kind == FieldKind.BOOLEAN:
        return rng.random() < 0.3
    if field.kind == FieldKind.DATETIME:
        moment = _EPOCH + dt.timedelta(days=rng.randrange(0, 730), minutes=rng.randrange(0, 1440))
        return moment.isoformat().replace("+00:00", "Z")
    return _string(field, rng)


def sample_item(model, rng=None, fill=0.8, **overrides):
    """A valid JSON item for ``model``: required fields always, others with probability ``fill``.

    The key is left out (so the server assigns one) unless given in ``overrides``; references
    to other entities are left null unless given.
    """
    rng = rng or random.Random()
    item = {}
    for field in entity_spec(model).client_fields:
        if field.is_key or field.model_field.is_relation:
            continue
        if field.required or rng.random() < fill:
            item[field.name] = sample_value(field, rng)
    if item.get("grievance_Status") in _OPEN_GRIEVANCE_STATUSES:
        for name in _RESOLUTION_FIELDS:
            item.pop(name, None)
    item.update(overrides)
    return item
