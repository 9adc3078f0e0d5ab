"""The batch options integrators ask for: ``allOrNone`` and ``validateOnly`` (VBAPI extensions).

Both are query parameters of the PUT batch routes, off by default (README, *The batch options*):

- ``allOrNone=true``, as Salesforce's composite API: if any item fails, nothing is written. The
  failing items keep their own answer; every other item answers ``NOT_APPLIED`` (424).
- ``validateOnly=true``: every item is checked exactly as a real call would check it, the
  database's own checks (constraints, triggers) included, and nothing is written. The answers
  are those the real call would give.

Both need the database to judge the items without keeping what it did, so both run the engine
unchanged inside one outer transaction on the client database: the engine's chunk transactions
(and its item-by-item replay) become savepoints, and at the end the outer transaction is rolled
back (``validateOnly``, or ``allOrNone`` with a failure) or committed. Sequences are not
transactional: keys the server assigned during a rolled-back call are used up, not reused.

Nothing is committed before the end, so a write cut short part-way (the engine's per-item
``NOT_WRITTEN`` or ``UNKNOWN``, which are true only of committed chunks) wrote nothing: the whole
request fails with 503. A connection lost during the final COMMIT is asked about on a fresh
connection (``txid_status``), as the engine does for its own transactions.
"""

import logging
from dataclasses import dataclass

from django.db import DatabaseError, connections, router, transaction

from vbaproject.engine.outcomes import DatabaseUnavailable, ItemOutcome, Outcome, partly_written
from vbaproject.engine.upsert import LOST, classify, txid_status
from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.validation import asks_for_a_key, key_as_sent

logger = logging.getLogger(__name__)

ALL_OR_NONE = "allOrNone"
VALIDATE_ONLY = "validateOnly"
_BOOLEANS = {"true": True, "false": False}


class BadOption(ValueError):
    """A batch option's value is not ``true`` or ``false`` (a 400)."""


@dataclass(frozen=True, slots=True)
class BatchOptions:
    all_or_none: bool = False
    validate_only: bool = False

    @classmethod
    def from_query(cls, params):
        """The options in ``params`` (a QueryDict): names ignore case, values are true or false."""
        values = {}
        for name, attribute in ((ALL_OR_NONE, "all_or_none"), (VALIDATE_ONLY, "validate_only")):
            sent = [v for raw in params if raw.lower() == name.lower() for v in params.getlist(raw)]
            if not sent:
                continue
            if len(sent) > 1 or sent[0].strip().lower() not in _BOOLEANS:
                raise BadOption(f"{name}: must be true or false, once (got {', '.join(sent)!s})")
            values[attribute] = _BOOLEANS[sent[0].strip().lower()]
        return cls(**values)

    @property
    def transactional(self):
        return self.all_or_none or self.validate_only


NO_OPTIONS = BatchOptions()


def _succeeded(outcome):
    return 200 <= outcome.status < 300


def upsert_with_options(model, items, options, write):
    """The outcomes of ``write()`` (the engine applying ``items`` to ``model``) under ``options``."""
    if not options.transactional:
        return write()
    key_field = entity_spec(model).key
    # The keys as sent, before the engine releases the items: a NOT_APPLIED item answers it.
    sent = [key_as_sent(item, key_field) for item in items] if options.all_or_none else None
    alias = router.db_for_write(model)
    connection = connections[alias]
    tx = None
    failed = committing = False
    try:
        with recorded_transaction(alias) as tx:
            outcomes = write()
            if partly_written(outcomes):
                # "Written" meant "released as a savepoint": nothing is committed.
                raise DatabaseUnavailable("the write was cut short; nothing was written")
            failed = not all(map(_succeeded, outcomes))
            if options.validate_only or (options.all_or_none and failed):
                transaction.set_rollback(True, using=alias)
            committing = True
    except DatabaseError as exc:  # at COMMIT: the items were all written, or none was
        if not committing or classify(connection, tx.raw, exc) is not LOST:
            raise
        status = txid_status(connection, tx.txid)
        logger.warning(
            "connection lost during a batch's outer COMMIT (%s); transaction %s: %s", exc, tx.txid, status
        )
        if status == "aborted":
            raise DatabaseUnavailable(str(exc)) from exc
        if status is None:
            outcomes = [
                ItemOutcome(o.index, o.key, Outcome.UNKNOWN) if _succeeded(o) else o for o in outcomes
            ]
    if options.all_or_none and failed:
        outcomes = [o if not _succeeded(o) else _not_applied(o, sent[o.index], key_field) for o in outcomes]
    return outcomes


def _not_applied(outcome, sent, key_field):
    """An item that would have been written but was not: its key as sent (0 for one to assign)."""
    key = outcome.key if sent is not None and not asks_for_a_key(key_field, sent) else 0
    return ItemOutcome(outcome.index, key, Outcome.NOT_APPLIED)
