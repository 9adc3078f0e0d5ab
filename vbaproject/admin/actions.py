"""Admin actions shared by the entity admins."""

import csv
import datetime as dt
import io

from django.contrib import admin
from django.http import HttpResponse
from django.utils import timezone

from vbaproject.spec.entities import entity_spec

# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"): a text cell
# beginning with one of these is written with a leading apostrophe, which spreadsheets show as
# text and do not evaluate. Numbers are written as they are (a negative amount stays -5.00).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
    for values in queryset.values_list(*(f.attname for f in fields)).iterator(chunk_size=2000):
        yield [csv_value(v) for v in values]


@admin.action(description="Export the selected %(verbose_name_plural)s as CSV", permissions=["view"])
def export_csv(modeladmin, request, queryset):
    """Every field of the selected records, API field names as headers.

    The file is written out here, inside the request's client database selection: a lazy or
    streaming response would read the database after the selection has ended.
    """
    model = modeladmin.model
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(csv_rows(model, queryset))
    database = modeladmin.admin_site.database
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{model._meta.model_name}-{database}-{stamp}.csv"'
    )
    return response
