"""Lists of any entity: paging, sorting and filters, all derived from the entity spec.

``GET`` on a collection route takes:

- ``page`` (1-based, default 1) and ``pageSize`` (default 100, at most 1,000); the answer
  carries the ``x-pagination`` header, JSON ``{"TotalCount", "TotalPages", "CurrentPage",
  "PageSize", "TotalCountExact", "NextCursor"}``. A page past the end is an empty ``data: []``.
- ``after``: the ``NextCursor`` of the previous page, instead of ``page``: keyset paging, as fast
  on page 5,000 as on page 2 and safe while records are added (every record present throughout
  is answered exactly once, in order). A cursor belongs to its list: the same path, filters and
  ``sortBy``; anything else is a 400. Offsets are bounded: a ``page`` that starts past
  ``OFFSET_MAX`` records of a list longer than that is a 400 that says to use ``after``.
- ``sortBy``: ``field:desc,other:asc`` over any field (direction optional, ascending by
  default); nulls sort first ascending and last descending on every backend (null is the
  smallest value), and the key breaks ties in the direction of the last sort field, so pages
  never overlap and a sort on one indexed field, either way, is a walk of its ``SortIndex``
  (``vbaproject.db.indexes``).
- filters, through a django-filter ``FilterSet`` built from the spec by one rule: an exact
  match on every key, reference and code-like field (integer or string fields named
  ``*_Key``, ``*_ID``, ``*_Type``, ``*_Status``, ``*_Category``, ``*_Code``, ``*_Reason``,
  ``*_Source``, ``*_Seq``, ``*_Number``, and ``status``), and an inclusive range
  ``<field>_from`` / ``<field>_to`` on every date-time field. Values follow the body rules:
  integers within 32 bits, ISO 8601 date-times (a plain date is midnight UTC).

``TotalCount`` is exact up to ``EXACT_COUNT_MAX`` records (counted with ``LIMIT``, so never
more than that many rows are read); past it, on PostgreSQL, it is the planner's estimate for
the filtered list (``EXPLAIN``: no scan), and ``TotalCountExact`` is false; when the estimate
is over ten times the limit, nothing is counted. An exact
``COUNT(*)`` of millions of rows was most of a page's time. SQLite always counts exactly.

Parameter names match case-insensitively, like field names in bodies. An unknown parameter,
a parameter given twice or a bad value is a 400 that says which and why.
"""

import base64
import binascii
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass

import django_filters
import orjson
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL

from vbaproject.api.exceptions import BadRequest
from vbaproject.selectors import entity_records
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.validation import INT_MAX, INT_MIN, Invalid, parse_datetime

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
PAGINATION_HEADER = "x-pagination"
EXACT_COUNT_MAX = 10_000  # TotalCount is exact up to here, estimated past it (PostgreSQL)
OFFSET_MAX = 10_000  # records a page may start after; past it, the cursor (``after``)
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
            f"Default: {spec.key.name} ascending. The key breaks ties in the direction of the last field.",
        ),
        ListParameter(
            "after",
            FieldKind.STRING,
            f"Instead of page: the NextCursor of the previous page's {PAGINATION_HEADER} header, for "
            "the page after it (keyset paging: fast at any depth, no record skipped or repeated while "
            "records are added). Give the same filters and sortBy as for that page. Pages starting past "
            f"{OFFSET_MAX:,} records are only reached this way.",
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


def _sort(spec, raw):
    """((field, descending), ...) as ``sortBy`` asks, ending with the key (see the module doc)."""
    by_lower = spec.by_lower_name
    sort, seen = [], set()
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
        sort.append((field, direction == "desc"))
    keyed = [n for n, (field, _) in enumerate(sort) if field.name == spec.key.name]
    if keyed:  # the key is unique: nothing after it changes the order
        return tuple(sort[: keyed[0] + 1])
    return (*sort, (spec.key, sort[-1][1] if sort else False))


def _order_by(sort):
    """ORDER BY of ``sort``: nulls smallest, as the SortIndexes are built. The key (last, never
    null) is a plain ASC or DESC, as it is in those indexes and the primary key's: the planner does
    not know that NULLS FIRST on a NOT NULL column changes nothing."""
    *fields, (key, key_desc) = sort
    return [
        *(
            F(f.attname).desc(nulls_last=True) if desc else F(f.attname).asc(nulls_first=True)
            for f, desc in fields
        ),
        F(key.attname).desc() if key_desc else F(key.attname).asc(),
    ]


def _error_text(errors):
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def paginate(request, queryset, model, path_fields=()):
    """Filter, sort and cut ``queryset`` as the request asks: (rows as records, x-pagination dict)."""
    spec = entity_spec(model)
    query = _query(request, list_parameters(model, path_fields))
    after = query.pop("after", None)
    if after is not None and query.get("page") is not None:
        raise BadRequest("after: give either page or after, not both")
    page, size = _page_and_size(query)
    raw_sort = query.pop("sortBy", None)
    sort = _sort(spec, raw_sort)
    filterset = filterset_for(model, path_fields)(data=query, queryset=queryset)
    if not filterset.is_valid():
        raise BadRequest(_error_text(filterset.errors))
    listed = filterset.qs
    scope = _scope(request.path, sort, query)
    position = None
    if after is not None:
        page, position = _read_cursor(after, scope, sort, model)
    total, exact = count(listed)
    pagination = {
        "TotalCount": total,
        "TotalPages": math.ceil(total / size),
        "CurrentPage": page,
        "PageSize": size,
        "TotalCountExact": exact,
        "NextCursor": None,
    }
    offset = (page - 1) * size
    if position is None and exact and offset >= total:
        return [], pagination
    if position is None and offset > OFFSET_MAX:
        raise BadRequest(
            f"page: pages starting past {OFFSET_MAX:,} records are reached with after= (the NextCursor "
            f"of the {PAGINATION_HEADER} header), not with page"
        )
    rows = _page(listed, sort, position, offset, size)
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        pagination["NextCursor"] = _cursor(scope, page + 1, [last[field.name] for field, _ in sort])
    return rows, pagination


def count(queryset):
    """(TotalCount, whether exact) of ``queryset``: see the module doc. On PostgreSQL the planner's
    estimate comes first (a plan, no scan): ten times past the limit it answers alone, as counting
    even 10,001 wide rows cost a large table's list more than the page itself."""
    if connections[queryset.db].vendor != "postgresql":
        return queryset.count(), True
    plan = queryset.order_by().explain(format="json")
    estimate = round(json.loads(plan)[0]["Plan"]["Plan Rows"])
    if estimate > 10 * EXACT_COUNT_MAX:
        return estimate, False
    counted = queryset.order_by().values("pk")[: EXACT_COUNT_MAX + 1].count()
    if counted <= EXACT_COUNT_MAX:
        return counted, True
    return max(estimate, EXACT_COUNT_MAX + 1), False


def _page(listed, sort, position, offset, size):
    """Up to ``size + 1`` records (the extra one tells whether a next page exists)."""
    spec = entity_spec(listed.model)
    ordered = listed.order_by(*_order_by(sort))
    if position is None:
        return entity_records(spec, ordered[offset : offset + size + 1])
    rows = []
    for segment in _after(listed, sort, position):
        rows += entity_records(spec, segment.order_by(*_order_by(sort))[: size + 1 - len(rows)])
        if len(rows) > size:
            break
    return rows


def _after(listed, sort, values):
    """Querysets, in list order, of the records after ``values`` (the sort fields of a record).

    One field and the key (a sort on one field, or the default sort on the key alone) is the
    indexed case: a row comparison ``(f, key) > (v, k)`` that a SortIndex serves in order, and the
    nulls, which sort apart, as a second segment read only when the first runs out. Any other
    sort is one lexicographic condition, correct but not index-shaped.
    """
    connection = connections[listed.db]
    if len(sort) == 1:
        (key, desc), (k,) = sort[0], values
        return [listed.filter(**{f"{key.attname}__{'lt' if desc else 'gt'}": k})]
    if len(sort) == 2:
        (field, desc), (key, _) = sort
        v, k = values
        column, key_column = (connection.ops.quote_name(f.column) for f in (field, key))
        after_key = {f"{key.attname}__{'lt' if desc else 'gt'}": k}
        if v is None:
            nulls = listed.filter(**{f"{field.attname}__isnull": True}, **after_key)
            return [nulls] if desc else [nulls, listed.filter(**{f"{field.attname}__isnull": False})]
        model_field = listed.model._meta.get_field(field.attname)
        key_field = listed.model._meta.get_field(key.attname)
        row = RawSQL(
            f"({column}, {key_column}) {'<' if desc else '>'} (%s, %s)",
            [
                model_field.get_db_prep_value(v, connection, prepared=False),
                key_field.get_db_prep_value(k, connection, prepared=False),
            ],
            output_field=BooleanField(),
        )
        rest = listed.filter(row)
        return [rest, listed.filter(**{f"{field.attname}__isnull": True})] if desc else [rest]
    condition, equal = Q(pk__in=[]), Q()
    for (field, desc), v in zip(sort, values, strict=True):
        name = field.attname
        if v is None:
            beyond = None if desc else Q(**{f"{name}__isnull": False})
            same = Q(**{f"{name}__isnull": True})
        else:
            beyond = (
                Q(**{f"{name}__lt": v}) | Q(**{f"{name}__isnull": True}) if desc else Q(**{f"{name}__gt": v})
            )
            same = Q(**{name: v})
        if beyond is not None:
            condition |= equal & beyond
        equal &= same
    return [listed.filter(condition)]


# Cursors: opaque to clients, base64url of JSON {"s": scope, "p": page, "v": sort values}. The scope
# is a digest of the path, the filters and the sort, so a cursor is refused on another list.


def cursor_for(model, path, page, values, sort_by=None, filters=None):
    """The ``after`` cursor that leads to ``page`` of the list at ``path`` (sorted by ``sort_by``,
    filtered by ``filters``: canonical parameter names), after a record whose sort fields (the key
    last) hold ``values``. For the benchmark and tests: clients get cursors from NextCursor."""
    sort = _sort(entity_spec(model), sort_by)
    return _cursor(_scope(path, sort, dict(filters or {})), page, list(values))


def _scope(path, sort, filters):
    text = json.dumps([path, [[f.name, d] for f, d in sort], sorted((k, str(v)) for k, v in filters.items())])
    return hashlib.blake2s(text.encode(), digest_size=8).hexdigest()


def _cursor(scope, page, values):
    # orjson: date-times with their microseconds (Django's JSON encoder cuts them to milliseconds).
    text = orjson.dumps({"s": scope, "p": page, "v": values}, default=str)
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _read_cursor(raw, scope, sort, model):
    """(page, sort values) of cursor ``raw`` of this list, or a 400."""
    try:
        raw = raw.strip()
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        page, values = data["p"], data["v"]
        valid = data["s"] == scope and isinstance(page, int) and 1 < page <= INT_MAX
        if not valid or not isinstance(values, list) or len(values) != len(sort):
            raise ValueError
        values = [
            None if v is None else model._meta.get_field(field.attname).to_python(v)
            for (field, _), v in zip(sort, values, strict=True)
        ]
    except (ValueError, TypeError, KeyError, binascii.Error, ValidationError):
        raise BadRequest(
            "after: not a cursor of this list (give the NextCursor of a page with the same path, "
            "filters and sortBy)"
        ) from None
    return page, values


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
    """The page of an ordered ``queryset`` by offset, exactly counted (short lists: a record's changes)."""
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
