"""The VBAPI views: the client database from the header, and every operation on an entity.

An entity app declares one viewset per entity in its ``api`` module, in DRF's vocabulary::

    class GrievanceViewSet(EntityViewSet):
        model = Grievance

and its routes with ``vbaproject.api.routes``. Views read the request (``get_queryset``,
``get_object``, the body), hand writes to the engine through ``perform_*`` hooks, and render
the engine's outcomes; a single record follows exactly the rules of a batch item, so a 400
says exactly what the batch item's ``body`` would (README, *Reading and fixing single records*):

- ``POST`` creates: with the key left out (or 0, or an empty auth number) the server assigns
  one; a key that exists already is a 409, decided by the insert itself (the engine's
  ``create_only`` mode), so a concurrent writer cannot turn a POST into an update.
- ``PUT .../{key}`` replaces the record (404 when there is none); the body's key may be left
  out, 0 or the path's key, anything else is a 400.
- ``DELETE .../{key}`` deletes it (200, ``data`` null); a record others still refer to is a 409.
- ``PUT ...-batch`` upserts an array, ``DELETE ...-batch`` deletes one: 207, one result per item.
- ``GET .../{key}/history`` reads the record's history (``vbaproject.history``), paged as lists.

Every write action runs through ``idempotently``: with an ``Idempotency-Key`` header it is
applied at most once, and a retry gets the first answer again (``vbaproject.idempotency``).

A viewset's ``path_fields`` are entity fields bound by its route
(``care-plans/{carePlan_Key}/cases``): its queryset sees only the records with that value, and
every write takes it from the path.
"""

import functools

from django.conf import settings
from django.db import connections, router, transaction
from rest_framework import exceptions, status, viewsets

from vbaproject.accounts.permissions import caller_databases
from vbaproject.api.content import ContentNegotiation, JsonArray, JsonParser, JsonRenderer
from vbaproject.api.envelope import envelope_response, multi_code_response
from vbaproject.api.exceptions import (
    DATABASE_HEADER,
    RETRY_AFTER_SECONDS,
    BadRequest,
    Conflict,
    DatabaseAtCapacity,
    DatabaseForbidden,
    DatabaseHeaderMissing,
    PayloadTooLarge,
    ServiceUnavailable,
)
from vbaproject.api.lists import paginate, paginate_ordered, pagination_header
from vbaproject.db import bulkheads
from vbaproject.db.routing import is_client_database, release_client_database, select_client_database
from vbaproject.engine.delete import Protected, delete_batch, delete_record
from vbaproject.engine.journal import NO_JOURNAL
from vbaproject.engine.options import BadOption, BatchOptions, upsert_with_options
from vbaproject.engine.outcomes import RETRY_LATER, ItemOutcome, Outcome, partly_written
from vbaproject.engine.upsert import upsert_batch
from vbaproject.history.context import reset_write_context, set_write_context
from vbaproject.history.models import Via
from vbaproject.history.selectors import change_as_api, record_history, with_changes
from vbaproject.idempotency.services import idempotent_response
from vbaproject.selectors import entity_records
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.validation import Invalid, asks_for_a_key, converter, key_reader, names_for


def may_use_database(request, name):
    """Whether this caller may work on the client database ``name``: it must be configured and
    allowed for both the request's API key and its user (``vbaproject.accounts.permissions``)."""
    return is_client_database(name) and name in caller_databases(request)


def audit_username(request):
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else "anonymous"


def release_request(view, request, response):
    """Cut the reference cycles a DRF request leaves behind, once its answer is sent.

    The view, the request and the response refer to each other (``view.request``,
    ``request.parser_context``, ``response.renderer_context``), and the request holds the
    parsed body: left to the garbage collector, a batch's items would outlive the request by
    however long it takes to run. Django calls this when it closes the response.
    """
    request._full_data = request._data = request._files = None
    request.parser_context = None
    response.renderer_context = None
    view.request = view.response = view.args = view.kwargs = view.headers = None


class VbaViewSet(viewsets.ViewSet):
    """Selects the client database named in the header for the whole of the request."""

    parser_classes = [JsonParser]
    renderer_classes = [JsonRenderer]
    content_negotiation_class = ContentNegotiation

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        name = request.headers.get(DATABASE_HEADER, "").strip()
        if not name:
            raise DatabaseHeaderMissing()
        if not may_use_database(request, name):
            raise DatabaseForbidden()
        self.database = name
        self._database_token = select_client_database(name)
        # Who writes, for the history: the user, through the API, with this API key.
        self._context_token = set_write_context(audit_username(request), Via.API, api_key=request.auth.name)
        # A slot of the database's bulkhead (its cap of concurrent requests), or a 503 at once.
        try:
            self._bulkhead_slot = bulkheads.enter(name)
        except bulkheads.AtCapacity:
            raise DatabaseAtCapacity(name, bulkheads.RETRY_AFTER_SECONDS) from None

    def finalize_response(self, request, response, *args, **kwargs):
        self.leave_bulkhead()
        token = getattr(self, "_database_token", None)
        if token is not None:
            release_client_database(token)
            reset_write_context(self._context_token)
            self._database_token = None
        response = super().finalize_response(request, response, *args, **kwargs)
        response._resource_closers.append(functools.partial(release_request, self, request, response))
        return response

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            self.leave_bulkhead()  # also when an exception escaped before finalize_response

    def leave_bulkhead(self):
        slot = getattr(self, "_bulkhead_slot", None)
        if slot is not None:
            self._bulkhead_slot = None
            slot.leave()


class EntityViewSet(VbaViewSet):
    """Every VBAPI operation on one entity; a route maps the HTTP methods it offers to these actions."""

    model = None
    path_fields = ()  # entity fields bound by the route, such as ("carePlan_Key",)

    @property
    def spec(self):
        return entity_spec(self.model)

    @property
    def noun(self):
        return self.model._meta.verbose_name

    # Reading the request ---------------------------------------------------------------------

    def get_path_values(self):
        """The entity fields bound by the path, checked by the field's own rules (400 otherwise)."""
        values = {}
        for name in self.path_fields:
            field = self.spec.by_lower_name[name.lower()]
            value = self.kwargs[name]
            try:
                converter(field)(value)
            except Invalid as exc:
                raise BadRequest(f"{name}: {exc}") from None
            values[field.attname] = value
        return values

    def get_queryset(self):
        """The records this route can see: all of them, or those the path binds."""
        return self.model._default_manager.filter(**self.get_path_values())

    def get_key(self):
        """The record key named by the path; a value no record can have is a plain 404."""
        key = self.kwargs[self.spec.key.name]
        try:
            if key_reader(self.spec.key)(key) is not None:
                return key
        except Invalid:
            pass
        raise self.not_found(key)

    def get_object(self, key=None):
        """The record the path names, as the API represents it (JSON names, raw values); 404."""
        key = self.get_key() if key is None else key
        rows = entity_records(self.spec, self.get_queryset().filter(pk=key))
        if not rows:
            raise self.not_found(key)
        return rows[0]

    def not_found(self, key):
        return exceptions.NotFound(f"There is no {self.noun} {key} in this database.")

    def get_item(self):
        """The body as one entity: a JSON object, with the path's fields set from the path."""
        item = self.request.data
        if not isinstance(item, dict):
            raise exceptions.ParseError(f"The body must be a JSON object: one {self.noun}.")
        return self.with_path_values(item)

    def get_items(self):
        """The body as a batch: a JSON array within the limits (400, 413), path fields set from the path."""
        if self.path_fields:
            self.get_path_values()
        items = self.request.data
        if not isinstance(items, JsonArray | list):
            raise exceptions.ParseError(f"The body must be a JSON array of {self.noun} objects.")
        if len(items) > settings.VBA_BATCH_MAX_ITEMS:
            raise PayloadTooLarge(
                f"The batch has {len(items)} items; at most {settings.VBA_BATCH_MAX_ITEMS} are accepted "
                f"(VBA_BATCH_MAX_ITEMS)."
            )
        if self.path_fields:
            # Items that are not objects stay as they are, for the engine's own 400.
            def bind(item):
                return self.with_path_values(item) if isinstance(item, dict) else item

            return items.map(bind) if isinstance(items, JsonArray) else [bind(i) for i in items]
        return items

    def with_path_values(self, item):
        """A copy of ``item`` with the fields bound by the path set from it (whatever the item said)."""
        item = dict(item)
        for name in self.path_fields:
            for raw in names_for(item, name):
                del item[raw]
            item[name] = self.kwargs[name]
        return item

    # Writes: the engine's ----------------------------------------------------------------------

    def idempotently(self, perform):
        """The answer of ``perform(journal)``, at most once per ``Idempotency-Key`` (when sent)."""
        return idempotent_response(self, perform)

    def perform_upsert(self, items, create_only=False, journal=NO_JOURNAL):
        """Apply ``items`` through the batch engine; its ``ItemOutcome`` per item.

        The engine frees each parsed item as it validates it (``release_items``), and records
        what it wrote in ``journal`` (an ``Idempotency-Key``'s attempt).
        """
        return upsert_batch(
            self.model,
            items,
            user=audit_username(self.request),
            release_items=True,
            create_only=create_only,
            journal=journal,
        )

    def journaled(self, journal, delete):
        """``delete()``'s outcomes, recorded in ``journal`` in the deletes' own transaction; or,
        when an earlier attempt recorded them, those."""
        if journal is NO_JOURNAL:
            return delete()  # its own recorded transaction; no outer one (and savepoint) needed
        if journal.done:
            return [journal.done[index] for index in range(len(journal.done))]
        database = router.db_for_write(self.model)
        with transaction.atomic(using=database):
            outcomes = delete()
            journal.record(connections[database], outcomes)
        return outcomes

    def perform_destroy(self, key, journal=NO_JOURNAL):
        """Delete the record with ``key``; whether there was one (409 when others refer to it)."""

        def delete():
            found = delete_record(self.get_queryset(), key)
            return [ItemOutcome(0, key, Outcome.DELETED if found else Outcome.NOT_FOUND)]

        try:
            (outcome,) = self.journaled(journal, delete)
        except Protected as exc:
            raise Conflict(str(exc)) from None
        return outcome.kind is Outcome.DELETED

    def perform_batch_destroy(self, items, journal=NO_JOURNAL):
        try:
            return self.journaled(journal, lambda: delete_batch(self.get_queryset(), items))
        except Protected as exc:
            raise Conflict(str(exc)) from None

    def write_one(self, item, created_status, create_only=False, journal=NO_JOURNAL):
        """Apply one item through the engine and answer its outcome as a single record."""
        (outcome,) = self.perform_upsert([item], create_only=create_only, journal=journal)
        if outcome.kind is Outcome.INVALID:
            raise BadRequest(outcome.body)
        if outcome.kind is Outcome.TAKEN:
            raise Conflict(
                f"There is a {self.noun} {outcome.key} already: PUT it to change it, or "
                f"leave {self.spec.key.name} out to have a new key assigned."
            )
        if outcome.kind is Outcome.FAILED:
            raise exceptions.APIException(outcome.body)  # 500, in the envelope like any error
        if outcome.kind in RETRY_LATER:
            raise ServiceUnavailable(outcome.body)  # 503 with Retry-After
        return envelope_response(self.get_object(outcome.key), status=created_status)

    def multi_code_response(self, outcomes):
        # Cut short after some items were written: the rest are 503s, to be sent again later.
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if partly_written(outcomes) else None
        return envelope_response(
            multi_code_response(outcomes, self.spec.key.name), status=207, headers=headers
        )

    # Actions -----------------------------------------------------------------------------------

    def list(self, request, *args, **kwargs):
        rows, pagination = paginate(request, self.get_queryset(), self.model, tuple(self.path_fields))
        return envelope_response(rows, headers=pagination_header(pagination))

    def retrieve(self, request, *args, **kwargs):
        return envelope_response(self.get_object())

    def create(self, request, *args, **kwargs):
        self.get_path_values()
        item = self.get_item()
        return self.idempotently(
            lambda journal: self.write_one(item, status.HTTP_201_CREATED, create_only=True, journal=journal)
        )

    def update(self, request, *args, **kwargs):
        key = self.get_key()
        item = self.get_replacement(key)

        def perform(journal):
            # The check and the write in one transaction, the row locked: a record deleted
            # meanwhile is a 404, never silently created again.
            with transaction.atomic(using=router.db_for_write(self.model)):
                if not self.get_queryset().select_for_update().filter(pk=key).exists():
                    raise self.not_found(key)
                return self.write_one(item, status.HTTP_200_OK, journal=journal)

        return self.idempotently(perform)

    def get_replacement(self, key):
        """The body as the record ``key`` is to be: its key may be left out, 0 or the path's."""
        item = self.get_item()
        key_name = self.spec.key.name
        for raw in names_for(item, key_name):
            value = item.pop(raw)
            same = value == key and type(value) is type(key)
            if not same and not asks_for_a_key(self.spec.key, value):
                raise BadRequest(
                    f"{key_name}: the body names {value!r} but the path names {key!r}; "
                    "a record's key cannot be changed"
                )
        item[key_name] = key
        return item

    def destroy(self, request, *args, **kwargs):
        key = self.get_key()

        def perform(journal):
            if not self.perform_destroy(key, journal=journal):
                raise self.not_found(key)
            return envelope_response(None)

        return self.idempotently(perform)

    def history(self, request, *args, **kwargs):
        """The record's changes, newest first: who, when, how, from what to what (paged as lists)."""
        key = self.get_key()
        changes = record_history(self.model, key)
        if not self.get_queryset().filter(pk=key).exists() and (self.path_fields or not changes.exists()):
            raise self.not_found(key)  # a deleted record's trail stays readable where no path binds it
        page, pagination = paginate_ordered(request, changes)
        data = [change_as_api(self.model, entry, fields) for entry, fields in with_changes(self.model, page)]
        return envelope_response(data, headers=pagination_header(pagination))

    def get_batch_options(self):
        """The PUT batch route's ``allOrNone`` and ``validateOnly`` (``vbaproject.engine.options``)."""
        try:
            return BatchOptions.from_query(self.request.query_params)
        except BadOption as exc:
            raise BadRequest(str(exc)) from None

    def put_batch(self, request, *args, **kwargs):
        options = self.get_batch_options()
        items = self.get_items()

        def perform(journal):
            write = lambda: self.perform_upsert(items, journal=journal)  # noqa: E731
            return self.multi_code_response(upsert_with_options(self.model, items, options, write))

        return self.idempotently(perform)

    def delete_batch(self, request, *args, **kwargs):
        items = self.get_items()
        return self.idempotently(
            lambda journal: self.multi_code_response(self.perform_batch_destroy(items, journal=journal))
        )
