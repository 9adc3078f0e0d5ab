"""Admin actions shared by the entity admins.

The CSV export streams: a client database may hold millions of rows, and a file built whole in
memory inside the request took 1.1 GB and 97 s for a million grievances (killed by gunicorn's
30 s timeout). The answer is a ``StreamingHttpResponse`` whose rows are read while they are
sent, in constant memory:

- on PostgreSQL the database writes the CSV itself: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``
  over the selected rows, each column formatted in SQL exactly as ``csv_value`` formats it
  (``copy_column``), and the rows relayed in blocks of about 64 KB as they come (a million
  grievances in seconds, not minutes);
- elsewhere (SQLite) ``csv_rows`` reads 2,000 rows at a time (``.iterator``) through the
  Python ``csv`` writer.

Both write the same bytes for the same rows (``tests/test_admin_at_scale.py`` compares them).
"Select all" across pages hands the action the changelist's query, never a list of keys.
"""

import csv
import datetime as dt
import io

from django.contrib import admin
from django.db import connections, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from vbaproject.db.routing import selected_client_database
from vbaproject.spec.entities import entity_spec

# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"): a text cell
# beginning with one of these is written with a leading apostrophe, which spreadsheets show as
# text and do not evaluate. Numbers are written as they are (a negative amount stays -5.00).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BLOCK_BYTES = 64 * 1024  # what the export sends at a time
CHUNK_ROWS = 2000  # rows fetched at a time by the Python writer
EXPORT_STATEMENT_TIMEOUT_MS = 3_600_000  # the export's COPY may outlast the usual statement limit


def csv_value(value):
    """A value as the API writes it: ISO 8601 UTC date-times, true/false, empty for null; text that
    a spreadsheet would take for a formula (``=HYPERLINK(...)``, ``@SUM(...)``) starts with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def csv_rows(model, queryset):
    """The header (the API field names, in the API's order) and one row per record."""
    fields = entity_spec(model).fields
    yield [f.name for f in fields]
    for values in queryset.values_list(*(f.attname for f in fields)).iterator(chunk_size=CHUNK_ROWS):
        yield [csv_value(v) for v in values]


def _python_blocks(model, queryset):
    """The CSV in blocks of about ``BLOCK_BYTES``, written by Python's ``csv`` module."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in csv_rows(model, queryset):
        writer.writerow(row)
        if buffer.tell() >= BLOCK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


_SQL_FORMULA_STARTS = ", ".join({"\t": "E'\\t'", "\r": "E'\\r'"}.get(c, f"'{c}'") for c in FORMULA_STARTS)


def copy_column(field, column):
    """SQL that formats ``column`` (a quoted name) as ``csv_value`` formats ``field``'s values."""
    internal = field.model_field.get_internal_type() if not field.model_field.is_relation else "IntegerField"
    if internal in ("CharField", "TextField"):
        # '' and NULL both empty and unquoted, as Python's csv module writes an empty string
        formula = f"left({column}, 1) IN ({_SQL_FORMULA_STARTS})"
        return f"CASE WHEN {formula} THEN '''' || {column} ELSE NULLIF({column}, '') END"
    if internal == "BooleanField":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if internal == "DateTimeField":
        # to_char writes six fraction digits always; Python's isoformat none when they are zero
        utc = f"({column} AT TIME ZONE 'UTC')"
        return f"replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"
    if internal == "DateField":
        return f"to_char({column}, 'YYYY-MM-DD')"
    if internal == "FloatField":
        # Python writes a whole float as 100.0 and switches to 1e+16 from 10**16; PostgreSQL as 100.
        return (
            f"CASE WHEN {column} = trunc({column}) AND abs({column}) < 1e16 "
            f"THEN trunc({column})::numeric::text || '.0' ELSE {column}::text END"
        )
    return f"{column}::text"


def _copy_blocks(model, queryset):
    """The CSV in blocks of about ``BLOCK_BYTES``, written by PostgreSQL's ``COPY ... TO STDOUT``."""
    fields = entity_spec(model).fields
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow([f.name for f in fields])
    yield header.getvalue().encode()
    connection = connections[queryset.db]
    inner = queryset.values_list(*(f.attname for f in fields))
    sql, params = inner.query.get_compiler(connection=connection).as_sql()
    # The subquery's columns are named by position: Django may label a foreign key's column by
    # its attname (case_Key_id), or join another table with a column of the same name.
    aliases = ", ".join(f"c{i}" for i in range(len(fields)))
    columns = ", ".join(copy_column(f, f"rows.c{i}") for i, f in enumerate(fields))
    copy_sql = f"COPY (SELECT {columns} FROM ({sql}) AS rows({aliases})) TO STDOUT (FORMAT csv)"
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {EXPORT_STATEMENT_TIMEOUT_MS}")
        with cursor.cursor.copy(copy_sql, params or None) as copy:
            block, size = [], 0
            for row in copy:
                # One row per block of COPY data: its last byte ends the record (a line break in
                # a value is inside quotes); Python's csv module and RFC 4180 end records with CRLF.
                row = bytes(row)
                block.append(row[:-1] + b"\r\n")
                size += len(row) + 1
                if size >= BLOCK_BYTES:
                    yield b"".join(block)
                    block, size = [], 0
            if block:
                yield b"".join(block)


def csv_blocks(model, queryset):
    """The export of ``queryset`` as CSV bytes, in blocks, read while they are sent."""
    if connections[queryset.db].vendor == "postgresql":
        return _copy_blocks(model, queryset)
    return _python_blocks(model, queryset)


@admin.action(description="Export the selected %(verbose_name_plural)s as CSV", permissions=["view"])
def export_csv(modeladmin, request, queryset):
    """Every field of the selected records, API field names as headers, streamed (see the module doc).

    The rows are read after the view has returned, outside the request's client database
    selection: the query is bound to that database here (``using``).
    """
    model = modeladmin.model
    database = modeladmin.admin_site.database
    queryset = queryset.using(selected_client_database())
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(csv_blocks(model, queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{model._meta.model_name}-{database}-{stamp}.csv"'
    )
    return response
