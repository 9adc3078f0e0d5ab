"""What the engine answers for each item of a write, as types rather than response dicts.

The API renders a list of ``ItemOutcome`` as VBAPI's ``MultiCodeResponse`` objects
(``vbaproject.api.envelope.multi_code_response``); a single-record route turns the one outcome
into its answer or its error.
"""

import enum
from dataclasses import dataclass
from typing import Any


class Outcome(enum.Enum):
    """The kind of an item's outcome: its HTTP status, and the body when it needs no message."""

    CREATED = (201, "Created")
    UPDATED = (200, "Updated")
    DELETED = (200, "Deleted")
    INVALID = (400, None)  # the item breaks a rule, or the database refused it
    NOT_FOUND = (404, "Not found")
    TAKEN = (409, None)  # create-only: a record has that key already
    FAILED = (500, None)  # unexpected; the message quotes the activity ID

    def __init__(self, status, body):
        self.status = status
        self.body = body


@dataclass(slots=True, frozen=True)
class ItemOutcome:
    index: int  # the item's position in the request
    key: Any  # the key written (assigned or as sent); as sent (or 0) when nothing was written
    kind: Outcome
    message: str | None = None  # why, for INVALID, TAKEN and FAILED

    @property
    def status(self):
        return self.kind.status

    @property
    def body(self):
        return self.message if self.message is not None else self.kind.body


class DatabaseUnavailable(Exception):
    """The client database cannot be reached; the whole request fails (503)."""
