"""Lists of any entity: paging, sorting and filters, all derived from the entity spec.

``GET`` on a collection route takes:

- ``page`` (1-based, default 1) and ``pageSize`` (default 100, at most 1,000); the answer
  carries the ``x-pagination`` header, JSON ``{"TotalCount", "TotalPages", "CurrentPage",
  "PageSize"}``. A page past the end is an empty ``data: []``.
- ``sortBy``: ``field:desc,other:asc`` over any field (direction optional, ascending by
  default); nulls sort first ascending and last descending on every backend, and the key
  always breaks ties so pages never overlap.
- filters, through a django-filter ``FilterSet`` built from the spec by one rule: an exact
  match on every key, reference and code-like field (integer or string fields named
  ``*_Key``, ``*_ID``, ``*_Type``, ``*_Status``, ``*_Category``, ``*_Code``, ``*_Reason``,
  ``*_Source``, ``*_Seq``, ``*_Number``, and ``status``), and an inclusive range
  ``<field>_from`` / ``<field>_to`` on every date-time field. Values follow the body rules:
  integers within 32 bits, ISO 8601 date-times (a plain date is midnight UTC).

Parameter names match case-insensitively, like field names in bodies. An unknown parameter,
a parameter given twice or a bad value is a 400 that says which and why.
"""

import functools
import math
import re
from dataclasses import dataclass

import django_filters
import orjson
from django import forms
from django.db.models import F

from vbaproject.api.exceptions import BadRequest
from vbaproject.selectors import entity_records
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.validation import INT_MAX, INT_MIN, Invalid, parse_datetime

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
PAGINATION_HEADER = "x-pagination"
FILTERED_NAME = re.compile(r"(_ID|_Key|_Type|_Status|_Category|_Code|_Reason|_Source|_Seq|_Number)$|^status$")


def is_filtered(field):
    """Whether a list can be filtered on ``field`` with an exact match (see the module doc)."""
    return field.kind in (FieldKind.INTEGER, FieldKind.STRING) and bool(
        field.is_key or FILTERED_NAME.search(field.name)
    )


@dataclass(frozen=True)
class ListParameter:
    """One query parameter of a list: its name, JSON-ish kind and meaning (for the OpenAPI document)."""

    name: str
    kind: FieldKind  # INTEGER, STRING or DATETIME
    description: str
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    default: object = None


class _DateTimeField(forms.Field):
    """An ISO 8601 date-time, read exactly as a body's date-time is."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_datetime(value)
        except Invalid as exc:
            raise forms.ValidationError(str(exc)) from None


class _WholeNumberField(forms.IntegerField):
    """Digits only, as ``page`` and ``pageSize`` are read: Django's "1.0" means 1 is refused."""

    re_decimal = re.compile(r"(?!)")  # matches nothing, so no trailing ".0" is stripped


class _IntegerFilter(django_filters.Filter):
    field_class = _WholeNumberField


class _DateTimeFilter(django_filters.Filter):
    field_class = _DateTimeField


def _filters(spec, path_fields):
    """(parameter, django-filter filter) for every filter of ``spec``'s lists."""
    out = []
    for field in spec.fields:
        if field.name in path_fields:
            continue
        if is_filtered(field):
            description = f"Only records whose {field.name} is exactly this value."
            if field.kind == FieldKind.INTEGER:
                parameter = ListParameter(field.name, FieldKind.INTEGER, description, INT_MIN, INT_MAX)
                filter_ = _IntegerFilter(field_name=field.name, min_value=INT_MIN, max_value=INT_MAX)
                out.append((parameter, filter_))
            else:
                parameter = ListParameter(
                    field.name, FieldKind.STRING, description, max_length=field.max_length
                )
                out.append((parameter, django_filters.CharFilter(field_name=field.name, strip=False)))
        elif field.kind == FieldKind.DATETIME:
            for suffix, lookup, bound in (("_from", "gte", "on or after"), ("_to", "lte", "on or before")):
                description = f"Only records whose {field.name} is {bound} this date-time (ISO 8601)."
                parameter = ListParameter(field.name + suffix, FieldKind.DATETIME, description)
                out.append((parameter, _DateTimeFilter(field_name=field.name, lookup_expr=lookup)))
    return out


@functools.cache
def filterset_for(model, path_fields=()):
    """The django-filter ``FilterSet`` class of ``model``'s lists (fields bound by the path excluded)."""
    spec = entity_spec(model)
    declared = {parameter.name: filter_ for parameter, filter_ in _filters(spec, path_fields)}
    meta = type("Meta", (), {"model": model, "fields": []})
    return type(f"{model.__name__}FilterSet", (django_filters.FilterSet,), {**declared, "Meta": meta})


PAGING_PARAMETERS = (
    ListParameter("page", FieldKind.INTEGER, "The page to answer, from 1.", 1, INT_MAX, default=1),
    ListParameter(
        "pageSize",
        FieldKind.INTEGER,
        f"Records per page, at most {PAGE_SIZE_MAX}.",
        1,
        PAGE_SIZE_MAX,
        default=PAGE_SIZE_DEFAULT,
    ),
)


@functools.cache
def list_parameters(model, path_fields=()):
    """Every query parameter of ``model``'s lists, paging and sorting first."""
    spec = entity_spec(model)
    paging = [
        *PAGING_PARAMETERS,
        ListParameter(
            "sortBy",
            FieldKind.STRING,
            "Sort order: comma-separated field names, each optionally followed by :asc or :desc, "
            f"such as {spec.fields[1].name}:desc,{spec.key.name}:asc. Nulls sort first ascending. "
            f"Default: {spec.key.name} ascending.",
        ),
    ]
    return (*paging, *(parameter for parameter, _ in _filters(spec, path_fields)))


def _query(request, parameters):
    """The query string, names matched case-insensitively against the known ``parameters``."""
    known = {p.name.lower(): p.name for p in parameters}
    values, unknown = {}, []
    for raw_name, raw_values in request.query_params.lists():
        name = known.get(raw_name.lower())
        if name is None:
            unknown.append(raw_name)
        elif name in values or len(raw_values) > 1:
            raise BadRequest(f"{name}: given more than once (parameter names ignore case)")
        else:
            values[name] = raw_values[0]
    if unknown:
        raise BadRequest(f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    return values


def _whole_number(name, raw, low, high, default):
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"{name}: must be a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return value


def _ordering(spec, raw):
    by_lower = spec.by_lower_name
    ordering, seen = [], set()
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, _, direction = part.partition(":")
        field = by_lower.get(name.strip().lower())
        if field is None:
            raise BadRequest(f"sortBy: {name.strip()!r} is not a field of {spec.model.__name__}")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise BadRequest(f"sortBy: {part.strip()!r}: the direction must be asc or desc")
        if field.name in seen:
            raise BadRequest(f"sortBy: {field.name} is named more than once")
        seen.add(field.name)
        column = F(field.attname)
        ordering.append(column.desc(nulls_last=True) if direction == "desc" else column.asc(nulls_first=True))
    if spec.key.name not in seen:
        ordering.append(F(spec.key.attname).asc())
    return ordering


def _error_text(errors):
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def paginate(request, queryset, model, path_fields=()):
    """Filter, sort and cut ``queryset`` as the request asks: (rows as records, x-pagination dict)."""
    spec = entity_spec(model)
    query = _query(request, list_parameters(model, path_fields))
    page, size = _page_and_size(query)
    ordering = _ordering(spec, query.pop("sortBy", None))
    filterset = filterset_for(model, path_fields)(data=query, queryset=queryset)
    if not filterset.is_valid():
        raise BadRequest(_error_text(filterset.errors))
    rows, pagination = _cut(filterset.qs.order_by(*ordering), page, size)
    return entity_records(spec, rows), pagination


def paginate_ordered(request, queryset):
    """One page of an already ordered ``queryset`` (only ``page`` and ``pageSize`` are taken):
    (the page's objects, x-pagination dict)."""
    page, size = _page_and_size(_query(request, PAGING_PARAMETERS))
    rows, pagination = _cut(queryset, page, size)
    return list(rows), pagination


def _page_and_size(query):
    page = _whole_number("page", query.pop("page", None), 1, INT_MAX, 1)
    size = _whole_number("pageSize", query.pop("pageSize", None), 1, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT)
    return page, size


def _cut(queryset, page, size):
    total = queryset.count()
    offset = (page - 1) * size
    rows = queryset.none() if offset >= total else queryset[offset : offset + size]
    pagination = {
        "TotalCount": total,
        "TotalPages": math.ceil(total / size),
        "CurrentPage": page,
        "PageSize": size,
    }
    return rows, pagination


def pagination_header(pagination):
    return {PAGINATION_HEADER: orjson.dumps(pagination).decode()}
