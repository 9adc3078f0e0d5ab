"""Record labels that say who: "Grievance 3 · S615226-01 · received 2024-05-01", not "Grievance 3".

The admin names a record by its ``str()`` everywhere Django names one: the change form's title
and breadcrumbs, the delete confirmation (and the list of what a delete takes with it), the
history page, the messages after a save, the case picker of a clinical trial (the raw-id
widget's label and the autocomplete's choices) and the home page's recent changes. So each
entity's ``__str__`` is ``record_label``: the noun and key, the member as the lists show it
(subscriber ID and member seq, ``S615226-01``) and the record's main date, each part only when
it has a value. Dates are days in the active time zone: the admin user's own (the admin's
middleware activates it), UTC elsewhere. A ``__str__`` changes no schema.
"""

from django.utils import timezone

SEPARATOR = " · "


def member_label(obj):
    """The member as people write it: subscriber ID and member sequence, ``S0012345-01``."""
    subscriber, seq = getattr(obj, "subscriber_ID", None), getattr(obj, "member_Seq", None)
    if not subscriber:
        return None
    return f"{subscriber}-{seq}" if seq else subscriber


def day(value):
    """A date-time as its day in the active time zone, ``2024-05-01``; ``None`` for none."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.date().isoformat()


def record_label(noun, key, obj=None, date_name=None, date_word=None, extra=()):
    """``Noun key · member · date_word day · extra...``, leaving out the parts without a value."""
    parts = [f"{noun} {key}" if key is not None else f"New {noun.lower()}"]
    if obj is not None:
        member = member_label(obj)
        if member:
            parts.append(member)
        when = day(getattr(obj, date_name, None)) if date_name else None
        if when:
            parts.append(f"{date_word} {when}" if date_word else when)
    parts.extend(str(part) for part in extra if part)
    return SEPARATOR.join(parts)
