"""A plain one-at-a-time model of the batch routes' rules (README, *For API consumers*), for the
property tests to check against.

It knows only the few rules the generated items can break, and applies items strictly in
order to a dict of rows: the obviously-correct reference the set-based engine must agree with.
"""

import copy
from dataclasses import dataclass, field

ABSENT = object()
REJECTED = "REJECT"  # the test database's trigger refuses this value like a constraint (400)
EXPLODES = "KABOOM"  # ... and fails unexpectedly on this one (500)
TRACKED = ("subscriber_ID", "member_Seq")


@dataclass
class Case:
    key_name: str
    integer_key: bool
    initial: dict  # key -> {tracked field: value}
    items: list
    statuses: list = field(default_factory=list)
    final: dict = field(default_factory=dict)  # key (or ("assigned", index)) -> tracked values
    # key (or ("assigned", index)) -> [(action, old tracked values, new tracked values)], in order
    history: dict = field(default_factory=dict)


def _errors(case, item):
    if not isinstance(item, dict):
        return True
    if "bogus" in item:
        return True
    key = item.get(case.key_name, ABSENT)
    if case.integer_key and key is not ABSENT and (key is None or key < 0):
        return True
    if not case.integer_key and isinstance(key, str) and len(key) > 20:
        return True
    return any(
        isinstance(item.get(name), str) and len(item[name]) > limit
        for name, limit in (("subscriber_ID", 9), ("member_Seq", 2))
    )


def run(case):
    """Fill ``case.statuses``, ``case.final`` and ``case.history`` by applying the items one at a time."""
    state = copy.deepcopy(case.initial)
    for index, item in enumerate(case.items):
        if _errors(case, item):
            case.statuses.append(400)
            continue
        values = {name: item.get(name) for name in TRACKED}
        if values["subscriber_ID"] == REJECTED:
            case.statuses.append(400)
            continue
        if values["subscriber_ID"] == EXPLODES:
            case.statuses.append(500)
            continue
        key = item.get(case.key_name, ABSENT)
        if key in (ABSENT, 0, None, ""):
            key = ("assigned", index)
        old = state.get(key)
        case.statuses.append(201 if old is None else 200)
        case.history.setdefault(key, []).append(("create" if old is None else "update", old, values))
        state[key] = values
    case.final = state
    return case


def with_options(case, all_or_none=False, validate_only=False):
    """``case`` as the batch options change it (``vbaproject.engine.options``): with
    ``allOrNone`` and a failing item, every other item answers 424 and nothing is written; with
    ``validateOnly`` the answers stay and nothing is written."""
    failed = any(status >= 300 for status in case.statuses)
    if all_or_none and failed:
        case.statuses = [424 if status < 300 else status for status in case.statuses]
    if validate_only or (all_or_none and failed):
        case.final = copy.deepcopy(case.initial)
        case.history = {}
    return case
