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
    NOT_APPLIED = (424, "Not written: another item of this allOrNone batch failed")  # engine.options
    # The request was cut short (database lost, too slow) after other items were written:
    NOT_WRITTEN = (503, "Not written: the request was cut short before this item was saved; send it again")
    UNKNOWN = (
        503,
        "Unknown whether written: the database connection was lost while saving it; "
        "send it again with the same Idempotency-Key",
    )

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


RETRY_LATER = frozenset({Outcome.NOT_WRITTEN, Outcome.UNKNOWN})


def partly_written(outcomes):
    """Whether some items of a write were cut short: the answer then carries ``Retry-After``."""
    return any(o.kind in RETRY_LATER for o in outcomes)


class WriteCutShort(Exception):
    """The write stopped before anything was written; the whole request fails (503, ``Retry-After``)."""

    detail = "The client database cannot be reached right now; nothing was written. Try again shortly."


class DatabaseUnavailable(WriteCutShort):
    """The client database cannot be reached (or the connection was lost); nothing was written."""


class DatabaseTooSlow(WriteCutShort):
    """A lock or statement timeout, or the request's deadline, stopped the write; nothing was written."""

    detail = (
        "The client database did not answer in time (a lock held by another writer, or a slow "
        "statement); nothing was written. Try again shortly."
    )
