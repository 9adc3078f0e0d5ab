"""The VBAPI resource family of any entity: list, create, read, update, delete, and batches.

Entity apps declare their routes with the helpers here, in VBAPI's paths::

    routes = [
        *resource_routes("grievances", Grievance),
        batch_routes("grievances-batch", Grievance, delete=True),
    ]

A route may bind entity fields from the path, ``care-plans/{carePlan_Key}/cases``: the lists
and reads see only the records with that value, and every write takes it from the path.

Writes go through the batch engine (``upsert_batch``), so a single record follows exactly the
rules of a batch item and a 400 says exactly what the batch item's ``body`` would:

- ``POST`` creates: with the key left out (or 0, or an empty auth number) the server assigns
  one; a key that exists already is a 409, decided by the insert itself (the engine's
  ``create_only`` mode), so a concurrent writer cannot turn a POST into an update.
- ``PUT .../{key}`` replaces the record (404 when there is none); the body's key may be left
  out, 0 or the path's key, anything else is a 400.
- ``DELETE .../{key}`` deletes it (200, ``data`` null); a record others still refer to is a 409.
- ``DELETE ...-batch`` deletes the records an array names: 207, one result per item.
"""

import re

from django.db import IntegrityError, router, transaction
from django.db.models import ProtectedError
from django.urls import path
from rest_framework import exceptions, status

from vbaproject.api_lists import BadRequest, paginate, pagination_header, records
from vbaproject.api_views import BatchUpsertViewSet, audit_username, batch_items
from vbaproject.batch import LOOKUP_CHUNK, result, upsert_batch
from vbaproject.entities import entity_spec
from vbaproject.envelope import envelope_response
from vbaproject.validation import Invalid, converter, key_reader, names_for

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the stored records."
    default_code = "conflict"


def _asks_for_a_key(key_field, value):
    """Whether ``value`` is a key value asking the server to assign one (0; no or empty number)."""
    try:
        return key_reader(key_field)(value) is None
    except Invalid:
        return False


class EntityViewSet(BatchUpsertViewSet):
    """Every VBAPI operation on one entity; a route maps the methods it offers to these actions."""

    path_fields = ()  # entity fields bound by the route, such as ("carePlan_Key",)

    # Reading the path --------------------------------------------------------------------------

    @property
    def spec(self):
        return entity_spec(self.model)

    @property
    def noun(self):
        return self.model._meta.verbose_name

    def path_values(self):
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

    def path_key(self):
        """The record key named by the path; a value no record can have is a plain 404."""
        key = self.kwargs[self.spec.key.name]
        try:
            if key_reader(self.spec.key)(key) is not None:
                return key
        except Invalid:
            pass
        raise self.not_found(key)

    def not_found(self, key):
        return exceptions.NotFound(f"There is no {self.noun} {key} in this database.")

    def queryset(self):
        """The records this route can see: all of them, or those the path binds."""
        return self.model._default_manager.filter(**self.path_values())

    def object_body(self, request):
        item = request.data
        if not isinstance(item, dict):
            raise exceptions.ParseError(f"The body must be a JSON object: one {self.noun}.")
        return item

    def with_path_values(self, item):
        """``item`` with the fields bound by the path set from it (whatever the item said)."""
        item = dict(item)
        for name in self.path_fields:
            for raw in names_for(item, name):
                del item[raw]
            item[name] = self.kwargs[name]
        return item

    # Answers ---------------------------------------------------------------------------------

    def record(self, key):
        rows = records(self.spec, self.queryset().filter(pk=key))
        if not rows:
            raise self.not_found(key)
        return rows[0]

    def write_one(self, request, item, created_status, create_only=False):
        """Apply one item through the batch engine and answer its outcome as a single record."""
        (outcome,) = upsert_batch(self.model, [item], user=audit_username(request), create_only=create_only)
        if outcome["status"] == 400:
            raise BadRequest(outcome["body"])
        if outcome["status"] == 409:
            raise Conflict(
                f"There is a {self.noun} {outcome['id'][0]['value']} already: PUT it to change it, or "
                f"leave {self.spec.key.name} out to have a new key assigned."
            )
        if outcome["status"] >= 500:
            raise exceptions.APIException(outcome["body"])  # 500, in the envelope like any error
        return envelope_response(self.record(outcome["id"][0]["value"]), status=created_status)

    # Actions ---------------------------------------------------------------------------------

    def list(self, request, *args, **kwargs):
        rows, pagination = paginate(request, self.queryset(), self.model, tuple(self.path_fields))
        return envelope_response(rows, headers=pagination_header(pagination))

    def retrieve(self, request, *args, **kwargs):
        return envelope_response(self.record(self.path_key()))

    def create(self, request, *args, **kwargs):
        self.path_values()
        item = self.with_path_values(self.object_body(request))
        return self.write_one(request, item, status.HTTP_201_CREATED, create_only=True)

    def update(self, request, *args, **kwargs):
        key = self.path_key()
        # The check and the write in one transaction, the row locked: a record deleted meanwhile
        # is a 404, never silently created again.
        with transaction.atomic(using=router.db_for_write(self.model)):
            if not self.queryset().select_for_update().filter(pk=key).exists():
                raise self.not_found(key)
            return self.replace(request, key)

    def replace(self, request, key):
        item = self.with_path_values(self.object_body(request))
        key_name = self.spec.key.name
        for raw in names_for(item, key_name):
            value = item.pop(raw)
            same = value == key and type(value) is type(key)
            if not same and not _asks_for_a_key(self.spec.key, value):
                raise BadRequest(
                    f"{key_name}: the body names {value!r} but the path names {key!r}; "
                    "a record's key cannot be changed"
                )
        item[key_name] = key
        return self.write_one(request, item, status.HTTP_200_OK)

    def destroy(self, request, *args, **kwargs):
        key = self.path_key()
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                deleted, _ = self.queryset().filter(pk=key).delete()
        except ProtectedError as exc:
            count = len(set(exc.protected_objects))
            kinds = sorted({obj._meta.verbose_name_plural for obj in exc.protected_objects})
            raise Conflict(
                f"The {self.noun} {key} cannot be deleted: {count} of its {' and '.join(kinds)} "
                "still refer to it. Delete them or point them elsewhere first."
            ) from None
        except IntegrityError:
            raise Conflict(
                f"The {self.noun} {key} cannot be deleted: other records still refer to it."
            ) from None
        if not deleted:
            raise self.not_found(key)
        return envelope_response(None)

    def put_batch(self, request, *args, **kwargs):
        if self.path_fields:
            self.path_values()
            items = batch_items(request, self.model)
            # Items that are not objects stay as they are, for the engine's own 400.
            items[:] = [self.with_path_values(i) if isinstance(i, dict) else i for i in items]
        return super().put_batch(request, *args, **kwargs)

    def delete_batch(self, request, *args, **kwargs):
        """Delete the records an array of entities names: 207, one result per item, in order."""
        items = batch_items(request, self.model)
        key_name = self.spec.key.name
        results = [None] * len(items)
        wanted = {}  # key -> indexes of the items naming it, in order
        for index, item in enumerate(items):
            key, error = self.key_to_delete(item)
            if error:
                results[index] = result(key_name, key, 400, error)
            else:
                wanted.setdefault(key, []).append(index)
        keys = list(wanted)
        found = set()
        with transaction.atomic(using=router.db_for_write(self.model)):
            queryset = self.queryset()
            for start in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[start : start + LOOKUP_CHUNK]
                found.update(queryset.filter(pk__in=chunk).values_list("pk", flat=True))
            found_keys = sorted(found)
            try:
                for start in range(0, len(found_keys), LOOKUP_CHUNK):
                    queryset.filter(pk__in=found_keys[start : start + LOOKUP_CHUNK]).delete()
            except ProtectedError:
                raise Conflict(
                    f"Some of these {self.model._meta.verbose_name_plural} are still referred to by "
                    "other records; nothing was deleted."
                ) from None
        for key, indexes in wanted.items():
            # As if applied one at a time: the first item naming a record deletes it.
            for turn, index in enumerate(indexes):
                if turn == 0 and key in found:
                    results[index] = result(key_name, key, 200, "Deleted")
                else:
                    results[index] = result(key_name, key, 404, "Not found")
        return envelope_response(results, status=207)

    def key_to_delete(self, item):
        """(key, None) for an item naming a record by its key, else (key as sent, message)."""
        key_field = self.spec.key
        if not isinstance(item, dict):
            return None, "the item must be a JSON object"
        names = names_for(item, key_field.name)
        if not names:
            return None, f"{key_field.name}: is required"
        if len(names) > 1:
            return None, f"{key_field.name}: given more than once (field names ignore case)"
        value = item[names[0]]
        try:
            if key_reader(key_field)(value) is None:
                return value, f"{key_field.name}: must name a record (0 or empty asks for a new key)"
        except Invalid as exc:
            return value, f"{key_field.name}: {exc}"
        return value, None


def _viewset(model, path_fields):
    name = f"{model.__name__}{''.join(f.title().replace('_', '') for f in path_fields)}ViewSet"
    return type(name, (EntityViewSet,), {"model": model, "path_fields": path_fields})


def _django_route(route, model):
    """``care-plans/{carePlan_Key}/cases`` as a Django route, and the entity fields it binds."""
    spec = entity_spec(model)
    bound = []

    def converter(match):
        field = spec.by_lower_name[match.group(1).lower()]
        assert field.name == match.group(1), f"{match.group(1)} is spelt {field.name} in {model.__name__}"
        bound.append(field.name)
        return f"<{'int' if field.kind == 'integer' else 'str'}:{field.name}>"

    return _PLACEHOLDER.sub(converter, route), tuple(bound)


def resource_routes(route, model, *, batch_put=False):
    """The collection route (GET list, POST create) and the record route (GET, PUT, DELETE).

    ``batch_put`` also puts the batch upsert on the collection route (VBAPI's ``PUT /auths``).
    """
    spec = entity_spec(model)
    collection, bound = _django_route(route, model)
    record, _ = _django_route(f"{route}/{{{spec.key.name}}}", model)
    viewset = _viewset(model, bound)
    name = model._meta.model_name
    actions = {"get": "list", "post": "create", **({"put": "put_batch"} if batch_put else {})}
    return [
        path(collection, viewset.as_view(actions), name=f"{name}-list"),
        path(
            record,
            viewset.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
            name=f"{name}-detail",
        ),
    ]


def batch_routes(route, model, *, delete=False):
    """The batch route: PUT upserts an array of entities; with ``delete``, DELETE removes them."""
    django_route, bound = _django_route(route, model)
    viewset = _viewset(model, bound)
    name = f"{model._meta.model_name}-{'-'.join(f.lower() for f in bound)}-batch" if bound else None
    actions = {"put": "put_batch", **({"delete": "delete_batch"} if delete else {})}
    return path(django_route, viewset.as_view(actions), name=name or f"{model._meta.model_name}-batch")
