"""The entity changelists on tables of millions of rows: counts, filters, search and drill-down that
read an index, never the whole table.

A client database holds millions of auths and hundreds of thousands of grievances. Django's
changelist, left to itself, reads the whole table several times per page: an exact ``COUNT(*)``
(101 ms on a million rows, 273 ms on three million), a ``SELECT DISTINCT`` per list filter and
per drill-down level, and a search of ``UPPER(col::text) LIKE`` on every search field OR'ed,
the integer key included, which no index serves. What this module does instead:

- **Counts** (``EstimatedCountPaginator``): exact up to ``VBA_ADMIN_EXACT_COUNT`` (10,000) rows,
  counted as ``COUNT(*)`` over at most that many plus one; past it the planner's estimate
  (``pg_class.reltuples`` for the whole table, the ``EXPLAIN`` row estimate for a filtered
  list), shown as "about N" (``Estimate``). SQLite counts exactly.
- **Filter choices** (``CodeValuesFilter``): a code column's distinct values by a loose index
  scan, a recursive query that jumps from one value to the next in the column's index: one
  index probe per distinct value, at most ``MAX_CHOICES``. Without an index leading with the
  column (or on SQLite) it is Django's ``SELECT DISTINCT``.
- **Drill-down** (``date_hierarchy``): the years between the first and last date (one index
  probe at each end), then one query asking per year, month or day whether a row falls in it,
  each an index range probe that stops at the first row, instead of ``SELECT DISTINCT
  date_trunc(...)`` over every row.
- **Search** (``search_q``): each field matched the way its index answers it: an integer field
  (the grievance key) exactly, as an integer, and only when the term is one; a string field by
  Django's case-insensitive prefix, ``UPPER(col) LIKE 'TERM%'``, which the field's
  ``UPPER(col) text_pattern_ops`` index serves (each field its own index, combined by a
  BitmapOr); the terms are ANDed as in Django.

Which index serves what is read from the models' ``Meta.indexes`` (``leading_index``): the
indexes live in the migrations, and ``tests/test_admin_at_scale.py`` checks the plans.
"""

import datetime as dt
import json

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import date_hierarchy as django_date_hierarchy
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import F, Q
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.translation import gettext as _

MAX_CHOICES = 500  # a filter with more distinct values than this is not a list of codes
INT_RANGES = {
    "SmallIntegerField": 2**15,
    "IntegerField": 2**31,
    "AutoField": 2**31,
    "PositiveIntegerField": 2**31,
    "PositiveSmallIntegerField": 2**15,
    "BigIntegerField": 2**63,
    "BigAutoField": 2**63,
    "SmallAutoField": 2**15,
}


def exact_count_limit():
    """Up to this many rows a changelist counts exactly; past it, it estimates."""
    return int(getattr(settings, "VBA_ADMIN_EXACT_COUNT", 10_000))


class Estimate(int):
    """A row count the planner estimated: compares and pages as a number, shows as "about N"."""

    def __str__(self):
        return f"about {int(self):,}"


def _connection(queryset):
    return connections[queryset.db]


def _planner_estimate(queryset):
    """The planner's row estimate for ``queryset``: the table's ``reltuples`` when unfiltered."""
    connection = _connection(queryset)
    with connection.cursor() as cursor:
        if not queryset.query.where and not queryset.query.distinct:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
            if row and row[0] >= 0:  # -1: never vacuumed or analysed
                return int(row[0])
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(queryset, limit=None):
    """The exact number of rows up to ``limit``; past it the planner's estimate (an ``Estimate``).

    The exact part is ``COUNT(*)`` over a ``LIMIT limit + 1`` subquery: it stops after
    ``limit + 1`` rows whatever the table's size. SQLite always counts exactly.
    """
    limit = exact_count_limit() if limit is None else limit
    if _connection(queryset).vendor != "postgresql":
        return queryset.count()
    counted = queryset.order_by()[: limit + 1].count()
    if counted <= limit:
        return counted
    return Estimate(max(limit + 1, _planner_estimate(queryset)))


class EstimatedCountPaginator(Paginator):
    """The changelist's paginator: its count is ``bounded_count`` (exact, or "about N")."""

    @cached_property
    def count(self):
        return bounded_count(self.object_list)


# Which index serves a column ------------------------------------------------------------------


def leading_index(model, name):
    """How the btree whose first column is ``name`` sorts it: ``"nulls first"`` or ``"nulls last"``
    for ascending order, or ``None`` when no plain index (no expression, condition or opclass)
    leads with it. The primary key and unique fields have one (PostgreSQL's default order)."""
    from vbaproject.db.indexes import SortIndex

    field = model._meta.get_field(name)
    for index in model._meta.indexes:
        if not index.fields or index.condition is not None or index.opclasses:
            continue
        first, order = index.fields_orders[0]
        if first != name:
            continue
        if isinstance(index, SortIndex):
            return "nulls last" if order == "DESC" else "nulls first"
        return "nulls first" if order == "DESC" else "nulls last"
    if field.primary_key or field.unique:
        return "nulls last"
    return None


def _ascending(name, nulls):
    """``ORDER BY name ASC`` as the index of ``leading_index`` stores it."""
    return F(name).asc(nulls_first=True) if nulls == "nulls first" else F(name).asc(nulls_last=True)


def _descending(name, nulls):
    """``ORDER BY name DESC``: that index read backwards."""
    return F(name).desc(nulls_last=True) if nulls == "nulls first" else F(name).desc(nulls_first=True)


# Filter choices ---------------------------------------------------------------------------------


def distinct_values(queryset, name, limit=MAX_CHOICES):
    """The distinct non-null values of ``name`` in ``queryset``'s table, in order, by a loose index
    scan: ``limit`` index probes at most, however many rows there are. ``None`` when no index
    leads with the column or the database is not PostgreSQL (the caller falls back)."""
    model = queryset.model
    connection = _connection(queryset)
    nulls = leading_index(model, name)
    if connection.vendor != "postgresql" or nulls is None or queryset.query.where:
        return None
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(model._meta.get_field(name).column)
    order = f"{column} ASC {nulls.upper()}"
    sql = (
        f"WITH RECURSIVE loose(value, n) AS ("
        f" (SELECT {column}, 1 FROM {table} WHERE {column} IS NOT NULL ORDER BY {order} LIMIT 1)"
        f" UNION ALL"
        f" SELECT (SELECT {column} FROM {table} WHERE {column} > loose.value ORDER BY {order} LIMIT 1),"
        f" loose.n + 1 FROM loose WHERE loose.value IS NOT NULL AND loose.n < %s"
        f") SELECT value FROM loose WHERE value IS NOT NULL"
        f" UNION ALL (SELECT NULL FROM {table} WHERE {column} IS NULL LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        values = [row[0] for row in cursor.fetchall()]
    return values


class CodeValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter on a field's distinct values, its choices read by ``distinct_values`` (a loose
    index scan) instead of ``SELECT DISTINCT`` over the whole table."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        lookup = self.lookup_choices  # Django's lazy SELECT DISTINCT, not run yet
        if "__" not in field_path:
            values = distinct_values(lookup.model._default_manager.all(), field.name)
            if values is not None:
                self.lookup_choices = values


def values_filter(title):
    """A ``CodeValuesFilter`` on a field, under a short ``title``."""

    class TitledValuesFilter(CodeValuesFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledValuesFilter


def code_filters(model, names):
    """``list_filter`` with each plain string field name given the ``CodeValuesFilter``."""
    filters = []
    for item in names:
        if isinstance(item, str) and "__" not in item:
            try:
                field = model._meta.get_field(item)
            except FieldDoesNotExist:
                field = None
            if isinstance(field, models.CharField) and not field.choices:
                item = (item, CodeValuesFilter)
        filters.append(item)
    return filters


# Search -----------------------------------------------------------------------------------------


def _integer(term, field):
    bound = INT_RANGES.get(field.get_internal_type())
    if bound is None or not term.lstrip("-").isdigit() or len(term) > 20:
        return None
    value = int(term)
    return value if -bound <= value < bound else None


def search_q(model, spec, term):
    """The condition one search field puts on one term, or ``None`` when the term cannot match it.

    ``=field``: exact (an integer field only for a whole number in its range, compared as an
    integer, not ``key::text``); ``^field``: case-insensitive prefix; ``@field``: full text;
    a bare name: case-insensitive contains (what Django does).
    """
    kind = {"=": "exact", "^": "prefix", "@": "search"}.get(spec[:1], "contains")
    path = spec[1:] if kind != "contains" else spec
    field = get_fields_from_path(model, path)[-1]
    if field.is_relation:
        field = field.target_field
    if field.get_internal_type() in INT_RANGES:
        value = _integer(term, field)
        return None if value is None else Q((path, value))
    if not isinstance(field, models.CharField | models.TextField):
        return Q((f"{path}__iexact", term)) if kind == "exact" else None
    lookup = {"exact": "iexact", "prefix": "istartswith", "search": "search", "contains": "icontains"}[kind]
    return Q((f"{path}__{lookup}", term))


def search(model, search_fields, queryset, search_term):
    """``ModelAdmin.get_search_results`` with each field matched as its index serves it (see the
    module doc): ``(queryset, may_have_duplicates)``."""
    terms = [
        unescape_string_literal(bit) if bit and bit[0] in {'"', "'"} and bit[-1] == bit[0] else bit
        for bit in smart_split(search_term)
    ]
    terms = [term for term in terms if term]
    if not search_fields or not terms:
        return queryset, False
    for term in terms:
        condition = Q()
        matched = False
        for spec in search_fields:
            q = search_q(model, spec, term)
            if q is not None:
                condition |= q
                matched = True
        queryset = queryset.filter(condition) if matched else queryset.none()
    paths = [spec.lstrip("=^@") for spec in search_fields]
    return queryset, any(lookup_spawns_duplicates(model._meta, path) for path in paths)


# The drill-down ---------------------------------------------------------------------------------


def _aware(value, is_datetime):
    if not is_datetime:
        return value
    value = dt.datetime.combine(value, dt.time())
    return timezone.make_aware(value) if settings.USE_TZ else value


def _ends(queryset, name, nulls):
    """The first and last value of ``name`` in ``queryset``: one index probe at each end."""
    present = queryset.filter(**{f"{name}__isnull": False}).values_list(name, flat=True)
    first = present.order_by(_ascending(name, nulls)).first()
    last = present.order_by(_descending(name, nulls)).first()
    return first, last


def _occupied(queryset, name, buckets, is_datetime, nulls):
    """Which ``(start, end)`` buckets hold at least one row of ``queryset``: one query of one row,
    a scalar subquery per bucket reading the date's index in its order from the bucket's start
    up to the first row. (Not ``EXISTS``: PostgreSQL drops the order inside it and may then pick
    a Seq Scan it expects to stop early, which reads every row of the years before the bucket
    when rows were entered in date order.)"""
    if not buckets:
        return []
    connection = _connection(queryset)
    parts, params = [], []
    for start, end in buckets:
        probe = (
            queryset.filter(
                **{f"{name}__gte": _aware(start, is_datetime), f"{name}__lt": _aware(end, is_datetime)}
            )
            .order_by(_ascending(name, nulls))
            .values(name)[:1]
        )
        sql, probe_params = probe.query.get_compiler(connection=connection).as_sql()
        parts.append(f"({sql})")
        params.extend(probe_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        found = cursor.fetchone()
    return [bucket for bucket, first in zip(buckets, found, strict=True) if first is not None]


def _next_month(day):
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def date_hierarchy(cl):
    """What Django's ``{% date_hierarchy %}`` shows, without reading every row (see the module doc).

    Its choices are the years, months or days that hold rows of the filtered list, as Django's;
    the date field needs an index (``leading_index``), else Django's own tag answers.
    """
    name = cl.date_hierarchy
    model = cl.model
    if "__" in name or leading_index(model, name) is None:
        return django_date_hierarchy(cl)
    nulls = leading_index(model, name)
    is_datetime = isinstance(model._meta.get_field(name), models.DateTimeField)
    year_field, month_field, day_field = f"{name}__year", f"{name}__month", f"{name}__day"
    year, month, day = (cl.params.get(f) for f in (year_field, month_field, day_field))
    year, month, day = (v[-1] if isinstance(v, list) else v for v in (year, month, day))

    def link(filters):
        return cl.get_query_string(filters, [f"{name}__"])

    queryset = cl.queryset
    if not (year or month or day):
        first, last = _ends(queryset, name, nulls)
        if first is None:
            return {"show": True, "back": None, "choices": []}
        if is_datetime:
            first, last = (timezone.localtime(v) if timezone.is_aware(v) else v for v in (first, last))
        if first.year == last.year:
            year = first.year
            if first.month == last.month:
                month = first.month
        else:
            buckets = [(dt.date(y, 1, 1), dt.date(y + 1, 1, 1)) for y in range(first.year, last.year + 1)]
            return {
                "show": True,
                "back": None,
                "choices": [
                    {"link": link({year_field: str(start.year)}), "title": str(start.year)}
                    for start, _ in _occupied(queryset, name, buckets, is_datetime, nulls)
                ],
            }
    try:
        year, month, day = int(year), int(month) if month else None, int(day) if day else None
        if day:
            chosen = dt.date(year, month, day)
        else:
            dt.date(year, month or 1, 1)
    except (TypeError, ValueError):
        return django_date_hierarchy(cl)
    if day:
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if month:
        start = dt.date(year, month, 1)
        days = [
            (start + dt.timedelta(days=d), start + dt.timedelta(days=d + 1))
            for d in range((_next_month(start) - start).days)
        ]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: begin.day}),
                    "title": capfirst(formats.date_format(begin, "MONTH_DAY_FORMAT")),
                }
                for begin, _ in _occupied(queryset, name, days, is_datetime, nulls)
            ],
        }
    months = [(dt.date(year, m, 1), _next_month(dt.date(year, m, 1))) for m in range(1, 13)]
    return {
        "show": True,
        "back": {"link": link({}), "title": _("All dates")},
        "choices": [
            {
                "link": link({year_field: year, month_field: begin.month}),
                "title": capfirst(formats.date_format(begin, "YEAR_MONTH_FORMAT")),
            }
            for begin, _ in _occupied(queryset, name, months, is_datetime, nulls)
        ],
    }


class EntityChangeList(ChangeList):
    """Django's ChangeList; its drill-down (``vba_date_hierarchy``) is ``date_hierarchy`` above."""

    @cached_property
    def vba_date_hierarchy(self):
        return date_hierarchy(self)
