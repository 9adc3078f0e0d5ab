"""Applying a write at most once per (API key, client database, ``Idempotency-Key``).

The header follows the IETF HTTP APIs working group's draft, as Stripe uses it (README, *For API
consumers: the batch routes*). ``idempotent_attempt`` decides what a request with the header
does, in the client database the write goes to:

- no record of the key (or only an expired one): a new attempt runs;
- a finished record with the same digest: the first answer again, byte for byte
  (``Replay``), with ``Idempotency-Replayed: true``;
- a record with another digest: ``KeyReused`` (422);
- a running record whose attempt is alive: ``InProgress`` (409, ``Retry-After``);
- a running record whose attempt died (a killed worker, a lost database backend, a 5xx
  answer): this attempt takes it over and *finishes what is missing*: the ``Attempt`` is the
  engine's journal (``vbaproject.engine.journal``), and its ``done`` holds the outcomes the
  dead attempt recorded, so those items are answered from it and not written again.

Exactly once rests on one rule: an attempt records the items it wrote (``Attempt.record``) in
the transaction that writes them, and only while it owns the key; a transaction of an attempt
that lost the key is rolled back. Owning the key is, on PostgreSQL, a session advisory lock
held on the writing connection for the whole attempt (it goes when the session goes: a
terminated backend or a killed worker frees the key at once); on SQLite (one host), the
``owner`` column, naming the process (pid and start time) and the attempt, and a dead process
owns nothing.

An answer is kept as final unless it is a 5xx or carries ``Retry-After`` (some items were cut
short): then the key stays running, unowned, and a retry finishes the write.
"""

import contextlib
import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions, status

from vbaproject.api.content import JsonRenderer
from vbaproject.engine.journal import NO_JOURNAL
from vbaproject.engine.outcomes import ItemOutcome, Outcome
from vbaproject.idempotency.digest import IDEMPOTENCY_HEADER, request_digest
from vbaproject.idempotency.models import IdempotentChunk, IdempotentRequest, State

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotency-Replayed"
MAX_KEY_LENGTH = 255
_LOCK_SPACE = 0x56424149  # "VBAI": the first int of the advisory lock, so other locks never clash


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        f"This {IDEMPOTENCY_HEADER} was used with a different request (method, path, query or body). "
        "Use a new key for a new request."
    )


class InProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry after Retry-After seconds."
    )
    wait = 1  # DRF's exception handler turns it into Retry-After


class BadKey(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters."


class LostOwnership(RuntimeError):
    """This attempt no longer owns its key (its session or process was taken for dead)."""


def idempotency_key(request):
    """The request's ``Idempotency-Key``, or None without the header; 400 when malformed."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise BadKey()
    return value


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: bytes


# Who runs an attempt, on SQLite ----------------------------------------------------------------


def _process_start(pid):
    """The process's start time (clock ticks since boot), telling it from a later one with its pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[19].decode()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: the pid alone
        return "-"


_PROCESS = (os.getpid(), _process_start(os.getpid()))


def _this_process():
    global _PROCESS
    if _PROCESS[0] != os.getpid():  # forked (gunicorn's workers fork the arbiter)
        _PROCESS = (os.getpid(), _process_start(os.getpid()))
    return _PROCESS


def _alive(owner):
    """Whether the process named in ``owner`` ("pid:start:token") still runs."""
    pid, start, _ = owner.split(":", 2)
    pid = int(pid)
    if (pid, start) == _this_process():
        return True  # this process: the attempt's thread releases the key when it ends
    found = _process_start(pid)
    if found == "-":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return found is not None and found == start


# The attempt -----------------------------------------------------------------------------------


class Attempt:
    """One attempt at a write under an ``Idempotency-Key``; the engine's journal.

    ``done`` holds the outcomes recorded by an earlier, dead attempt (empty for a first one).
    """

    def __init__(self, database, request_id, owner, done, lock):
        self.database = database
        self.request_id = request_id
        self.owner = owner
        self.done = done
        self._lock = lock

    def _check_owner(self, connection):
        """Inside a transaction on ``connection``: refuse to commit unless this attempt owns the key."""
        if self._lock is not None:
            if not self._lock.held_by(connection):
                raise LostOwnership("the connection that held the Idempotency-Key's lock is gone")
            return
        mine = IdempotentRequest.objects.using(connection.alias).filter(pk=self.request_id, owner=self.owner)
        if mine.update(owner=F("owner")) != 1:  # and, on SQLite, this transaction holds the write lock
            raise LostOwnership("another attempt took this Idempotency-Key over")

    def record(self, connection, outcomes):
        """Keep ``outcomes`` (items just written), in the transaction on ``connection`` that wrote them."""
        if not outcomes:
            return
        self._check_owner(connection)
        IdempotentChunk.objects.using(connection.alias).create(
            request_id=self.request_id, outcomes=[[o.index, o.key, o.kind.name, o.message] for o in outcomes]
        )

    def finish(self, status_code, body):
        """Keep the answer as final (and forget the chunks, now in the answer)."""
        connection = connections[self.database]
        with transaction.atomic(using=self.database):
            self._check_owner(connection)
            IdempotentRequest.objects.using(self.database).filter(pk=self.request_id).update(
                state=State.FINISHED, status=status_code, body=body, owner=None
            )
            IdempotentChunk.objects.using(self.database).filter(request_id=self.request_id).delete()

    def release(self):
        """End the attempt: the key is no longer owned (finished, or left for a retry to finish)."""
        if self._lock is not None:
            self._lock.release()
            return
        try:
            mine = IdempotentRequest.objects.using(self.database).filter(pk=self.request_id, owner=self.owner)
            mine.update(owner=None)
        except DatabaseError:
            logger.warning("could not release Idempotency-Key attempt %s", self.request_id, exc_info=True)


class _AdvisoryLock:
    """PostgreSQL: a session advisory lock on the request's connection, for the attempt."""

    def __init__(self, connection, api_key_id, key):
        self.connection = connection
        digest = hashlib.sha256(f"{api_key_id}\n{key}".encode()).digest()
        self.keys = (_LOCK_SPACE, int.from_bytes(digest[:4], "big") & 0x7FFFFFFF)
        self.backend_pid = None

    def acquire(self):
        self.connection.ensure_connection()
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", self.keys)
            taken = cursor.fetchone()[0]
        if taken:
            self.backend_pid = self.connection.connection.info.backend_pid
        return taken

    def held_by(self, connection):
        raw = connection.connection
        return raw is not None and not raw.closed and raw.info.backend_pid == self.backend_pid

    def release(self):
        if not self.held_by(self.connection):
            return  # the session is gone, and its lock with it
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.keys)
        except DatabaseError:
            logger.warning("could not release an Idempotency-Key lock; closing the connection", exc_info=True)
            self.connection.close()  # a closed session holds no lock


def _done_of(database, request_id):
    done = {}
    for chunk in IdempotentChunk.objects.using(database).filter(request_id=request_id).order_by("pk"):
        for index, key, kind, message in chunk.outcomes:
            done[index] = ItemOutcome(index, key, Outcome[kind], message)
    return done


def _claim(database, api_key_id, key, digest, owner, locked):
    """The key's record for this attempt: (request id, done), or a ``Replay``; raises 409/422."""
    requests = IdempotentRequest.objects.using(database)
    for _ in range(5):
        now = timezone.now()
        row = requests.filter(api_key_id=api_key_id, key=key).first()
        if row is None:
            try:
                with transaction.atomic(using=database):
                    row = requests.create(
                        api_key_id=api_key_id,
                        key=key,
                        digest=digest,
                        created=now,
                        expires=now + timedelta(seconds=settings.VBA_IDEMPOTENCY_TTL),
                        owner=owner,
                    )
            except IntegrityError:
                continue  # a concurrent first attempt inserted it: look again
            return row.pk, {}
        expired = row.expires <= now
        if not expired and row.digest != digest:
            raise KeyReused()
        if not expired and row.state == State.FINISHED:
            return Replay(row.status, bytes(row.body))
        if not locked and row.owner is not None and _alive(row.owner):
            raise InProgress()
        # Nobody runs it (on PostgreSQL: we hold its lock): start afresh if expired, else take it over.
        mine = requests.filter(pk=row.pk, owner=row.owner)
        if expired:
            mine.delete()
            continue
        if mine.update(owner=owner) == 1:
            return row.pk, _done_of(database, row.pk)
    raise InProgress()  # it keeps changing under us: a concurrent attempt is busy with it


@contextlib.contextmanager
def idempotent_attempt(database, api_key_id, key, digest):
    """Yield a ``Replay`` of the first answer, or an ``Attempt`` to run the write under.

    Raises ``KeyReused`` (422) and ``InProgress`` (409). The attempt ends (its key released)
    when the block does; call ``attempt.finish`` to keep the answer.
    """
    connection = connections[database]
    lock = _AdvisoryLock(connection, api_key_id, key) if connection.vendor == "postgresql" else None
    if lock is not None:
        known = IdempotentRequest.objects.using(database).filter(api_key_id=api_key_id, key=key).first()
        if known is not None and known.expires > timezone.now() and known.digest != digest:
            raise KeyReused()  # answered even while the first attempt runs
        if not lock.acquire():
            raise InProgress()
    pid, start = _this_process()
    owner = f"{pid}:{start}:{uuid.uuid4().hex}"
    try:
        claimed = _claim(database, api_key_id, key, digest, owner, locked=lock is not None)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    if isinstance(claimed, Replay):
        if lock is not None:
            lock.release()
        yield claimed
        return
    attempt = Attempt(database, claimed[0], owner, claimed[1], lock)
    try:
        yield attempt
    finally:
        attempt.release()


def is_final(response):
    """Whether an answer ends the request: not a 5xx, nor one asking to retry (``Retry-After``)."""
    return response.status_code < 500 and not response.has_header("Retry-After")


def _validate_only(request):
    return any(k.lower() == "validateonly" and v.lower() == "true" for k, v in request.query_params.items())


def idempotent_response(view, perform):
    """The answer of a write action: ``perform(journal)``, run under the request's
    ``Idempotency-Key`` when it has one (and is not ``validateOnly``, which writes nothing).

    ``view`` is the ``EntityViewSet``: its database, and DRF's ``handle_exception`` to answer
    an error as the API does, so that an error answer is kept (and replayed) as well.
    """
    request = view.request
    key = idempotency_key(request)
    if key is None or _validate_only(request):
        return perform(NO_JOURNAL)
    request.data  # the body is parsed, and hashed, before the key is looked at  # noqa: B018
    with idempotent_attempt(view.database, request.auth.pk, key, request_digest(request)) as attempt:
        if isinstance(attempt, Replay):
            response = HttpResponse(attempt.body, status=attempt.status, content_type=JsonRenderer.media_type)
            response[REPLAYED_HEADER] = "true"
            return response
        try:
            response = perform(attempt)
        except Exception as exc:  # answered as the API answers it, and kept when final
            response = view.handle_exception(exc)
        if is_final(response):
            body = JsonRenderer().render(response.data) if hasattr(response, "data") else response.content
            try:
                attempt.finish(response.status_code, body)
            except (
                DatabaseError,
                LostOwnership,
            ):  # the answer stands; a retry rebuilds it from the recorded items
                logger.warning("could not keep the answer of Idempotency-Key %r", key, exc_info=True)
        return response


def purge_expired(database, now=None):
    """Delete the expired keys of ``database`` (and their chunks); how many keys."""
    expired = IdempotentRequest.objects.using(database).filter(expires__lte=now or timezone.now())
    _, deleted = expired.delete()
    return deleted.get(IdempotentRequest._meta.label, 0)
