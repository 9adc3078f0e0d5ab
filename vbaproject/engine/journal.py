"""What a write has done so far, kept in the client database beside the rows it wrote.

The engine writes a batch in chunks, each in its own transaction. A retried request (the
``Idempotency-Key`` header, ``vbaproject.idempotency``) must neither write an item twice nor
forget what its first attempt answered, even when that attempt died half-way. So the engine
hands every committed item's outcome to a journal *inside the transaction that wrote it*: the
rows and the record of them commit together or not at all. A retry passes a journal whose
``done`` holds the outcomes of the items already written; the engine answers those from it and
writes only the rest.

``NO_JOURNAL`` is the journal of a write nobody will retry: it remembers nothing.
"""

from typing import Protocol

from vbaproject.engine.outcomes import ItemOutcome


class Journal(Protocol):
    done: dict[int, ItemOutcome]  # item index -> outcome, for the items written by an earlier attempt

    def record(self, connection, outcomes: list[ItemOutcome]) -> None:
        """Keep ``outcomes`` (items just written); called inside the writing transaction on ``connection``."""


class _NoJournal:
    done: dict[int, ItemOutcome] = {}

    def record(self, connection, outcomes):
        pass


NO_JOURNAL = _NoJournal()
