"""Import a CSV or XLSX file into an entity from its admin list: upload, preview, apply.

Staff receive spreadsheets daily. On an entity's list, *Import* takes a file whose header row
names API fields (in any case; the CSV export's own header row round-trips), shows a preview
with every row's outcome, and applies it.

Every row's outcome is the batch route's own: the rows become the items of a batch (each cell
read as the JSON value its field takes) and go through the batch engine
(``vbaproject.engine.upsert.upsert_batch``), the same validation and per-item answer as
``PUT`` on the batch route: 201 created, 200 updated, 400 with the API's message. The preview
runs the engine with ``validateOnly`` (``vbaproject.engine.options``: one outer transaction,
rolled back), so the database's own checks are part of it; *Apply* runs it again for real,
either writing the rows that pass (the batch route's default) or, with *all or none*, nothing
if any row fails (``allOrNone``). Because the engine writes, everything it guarantees holds:
the audit fields, assigned keys, references, and the history, which records each row as an
``admin`` write by the user (the admin site's ``writing_as``).

Why not django-import-export: its admin mixin gives upload, preview and confirm, but its row
pipeline builds model instances and saves them one by one through its ``Resource``
(``import_row`` → ``save_instance`` → ``Model.save``), with its own field widgets and error
messages. That is a second path into the tables, beside the engine: the API's validator, its
messages, key assignment, chunked writes and the per-item outcomes would all be bypassed or
imitated. Reading the files is the only part that would be reused, and for that the standard
``csv`` module and ``openpyxl`` (what tablib uses for XLSX) are enough, so it is not a
dependency. The CSV export stays ``vbaproject.admin.actions``.

The uploaded file is kept server-side between preview and apply (``PendingImport``, in the
control database, so any app host serves the apply), keyed by a random token and tied to the
user, the database and the entity; the apply takes it (deletes it) before writing, so the same
upload is never applied twice, and a client never posts the rows back. An apply the database
stopped before anything was written (``WriteCutShort``) puts it back, to be tried again; one
cut short part-way answers *partly applied*, each row with its own outcome (``NOT_WRITTEN``,
``UNKNOWN``), rather than rewriting the rows that were. Limits: the file's size
(``VBA_IMPORT_MAX_BYTES``, under the admin's request-body limit) and its rows
(``VBA_BATCH_MAX_ITEMS``, as a batch). Importing needs the add and change permissions on the
entity, and the database (the site's rule).

Cells become JSON values as the CSV export writes them: empty is null (``""`` for a string
field that may not be null), ``true``/``false``, numbers, ISO 8601 date-times; text the
export protected from spreadsheets with a leading apostrophe (``'=...``) loses it. A
date-time without an offset, such as ``2024-06-03 18:30`` or an XLSX date cell, is read in the
user's time zone (``vbaproject.timezones``), as a date typed in the admin's form would be; the
export's own ``...Z`` values keep their UTC.
"""

import csv
import dataclasses
import datetime as dt
import io
import secrets
import zipfile
import zoneinfo
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from vbaproject.admin.actions import FORMULA_STARTS
from vbaproject.engine.options import BatchOptions, upsert_with_options
from vbaproject.engine.outcomes import RETRY_LATER, ItemOutcome, Outcome, WriteCutShort
from vbaproject.engine.upsert import upsert_batch
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.validation import asks_for_a_key, key_as_sent
from vbaproject.timezones import zone_name_for

PENDING_FOR = timedelta(hours=24)  # an upload not applied within this long is dropped
XLSX_MAGIC = b"PK\x03\x04"
SKIP_INVALID = "skip"
ALL_OR_NONE = "all"


class ImportFileError(ValueError):
    """The file cannot be imported at all (its format, header, size or row count); says why."""


@dataclasses.dataclass
class Row:
    number: int  # the row's number in the file, the header being row 1
    item: dict | None  # the batch item, or None when the row itself is malformed
    error: str | None = None


@dataclasses.dataclass
class ParsedFile:
    rows: list
    columns: list  # the API names of the file's columns
    ignored: list  # columns the server keeps (audit fields): read, not imported


# --- reading files ------------------------------------------------------------------------------


def _csv_rows(content):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # Excel's "CSV" (not "CSV UTF-8")
    if "\x00" in text:
        raise ImportFileError("The file is neither a CSV text file nor an XLSX workbook.")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise ImportFileError(f"The CSV file cannot be read: {exc}.") from None


def _xlsx_rows(content):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"The XLSX workbook cannot be read ({exc}).") from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


def file_rows(content):
    """The rows of a CSV or XLSX file (told apart by content, not by name): lists of cells."""
    return _xlsx_rows(content) if content.startswith(XLSX_MAGIC) else _csv_rows(content)


def _empty(cell):
    return cell is None or (isinstance(cell, str) and cell.strip() == "")


def _header(model, cells):
    """The API fields the header's cells name, in order (``None`` for a column to skip)."""
    spec = entity_spec(model)
    names = [("" if c is None else str(c)).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ImportFileError("The file is empty: its first row must name the API fields of its columns.")
    unknown = [
        n or f"(column {i + 1} has no name)"
        for i, n in enumerate(names)
        if n.lower() not in spec.by_lower_name
    ]
    if unknown:
        raise ImportFileError(
            f"Unknown columns: {', '.join(unknown)}. The first row must name the columns by their API "
            f"field names, as the CSV export writes them ({', '.join(f.name for f in spec.fields[:4])}, ...)."
        )
    fields = [spec.by_lower_name[n.lower()] for n in names]
    seen, repeated = set(), []
    for field in fields:
        if field.name in seen:
            repeated.append(field.name)
        seen.add(field.name)
    if repeated:
        raise ImportFileError(f"Columns given more than once (names ignore case): {', '.join(repeated)}.")
    return fields


def _text(cell):
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # an ID a spreadsheet took for a number
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()
    return str(cell)


def cell_value(field, cell, zone):
    """A cell as the JSON value of ``field``; a value the field cannot take is passed on as it is,
    for the engine's own message."""
    if _empty(cell):
        if field.kind == FieldKind.STRING and not field.nullable and not field.is_key:
            return ""
        return None
    kind = field.kind
    if kind == FieldKind.STRING:
        text = _text(cell)
        if text[:1] == "'" and text[1:2] and text[1:].startswith(FORMULA_STARTS):
            return text[1:]  # the export's guard against spreadsheet formulas
        return text
    if isinstance(cell, bool):
        return cell
    if kind == FieldKind.DATETIME:
        if isinstance(cell, dt.datetime):
            moment = cell
        elif isinstance(cell, dt.date):
            moment = dt.datetime.combine(cell, dt.time())
        else:
            text = str(cell).strip()
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                return text  # not ISO 8601 (or with " UTC"): the engine reads it or says why
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.isoformat()
    if isinstance(cell, int | float):
        if kind == FieldKind.INTEGER:
            return int(cell) if float(cell).is_integer() else cell
        return float(cell) if kind == FieldKind.NUMBER else cell
    text = str(cell).strip()
    if kind == FieldKind.BOOLEAN:
        return {"true": True, "false": False}.get(text.lower(), text)
    try:
        if kind == FieldKind.INTEGER:
            number = float(text) if "." in text else int(text)
            return int(number) if float(number).is_integer() else text
        return float(text)
    except (ValueError, OverflowError):
        return text


def parse_file(model, content, zone_name, max_rows=None):
    """The file's rows as batch items of ``model``; raises ``ImportFileError`` for a file that
    cannot be imported at all."""
    max_rows = settings.VBA_BATCH_MAX_ITEMS if max_rows is None else max_rows
    zone = zoneinfo.ZoneInfo(zone_name)
    rows = file_rows(content)
    header = next(rows, None)
    if header is None:
        raise ImportFileError("The file is empty: its first row must name the API fields of its columns.")
    fields = _header(model, header)
    width = len(fields)
    parsed = []
    for number, cells in enumerate(rows, start=2):
        if all(_empty(cell) for cell in cells):
            continue
        if len(parsed) == max_rows:
            raise ImportFileError(
                f"The file has more than {max_rows} rows; at most {max_rows} are imported at once "
                "(VBA_BATCH_MAX_ITEMS): split it."
            )
        extra = [cell for cell in cells[width:] if not _empty(cell)]
        if extra:
            parsed.append(Row(number, None, f"the row has {len(cells)} cells, the header names {width}"))
            continue
        item = {
            field.name: cell_value(field, cell, zone)
            for field, cell in zip(fields, cells, strict=False)
            if not field.is_audit and not (field.is_key and _empty(cell))  # no key: one is assigned
        }
        parsed.append(Row(number, item))
    if not parsed:
        raise ImportFileError("The file has a header row but no rows to import.")
    return ParsedFile(
        rows=parsed,
        columns=[f.name for f in fields if not f.is_audit],
        ignored=[f.name for f in fields if f.is_audit],
    )


# --- running the engine ------------------------------------------------------------------------


@dataclasses.dataclass
class RowResult:
    number: int
    sent_key: object
    outcome: ItemOutcome
    member: str | None

    @property
    def ok(self):
        return 200 <= self.outcome.status < 300

    @property
    def new_key(self):
        """No key in the row: the server assigns one."""
        return self.sent_key is None or self.sent_key == "" or self.sent_key == 0


def run_import(model, parsed, username, options):
    """Every row's outcome under ``options``: the engine's, one per row, in file order."""
    spec = entity_spec(model)
    good = [row for row in parsed.rows if row.error is None]
    items = [row.item for row in good]
    engine_options = options
    if options.all_or_none and len(good) < len(parsed.rows):
        engine_options = BatchOptions(validate_only=True)  # a malformed row fails the whole file
    outcomes = upsert_with_options(
        model, items, engine_options, lambda: upsert_batch(model, items, user=username)
    )
    by_number = {row.number: outcome for row, outcome in zip(good, outcomes, strict=True)}
    results = []
    for row in parsed.rows:
        if row.error is not None:
            outcome = ItemOutcome(row.number, None, Outcome.INVALID, row.error)
        else:
            outcome = by_number[row.number]
            if engine_options is not options and 200 <= outcome.status < 300:
                sent = key_as_sent(row.item, spec.key)
                key = 0 if sent is None or asks_for_a_key(spec.key, sent) else sent
                outcome = ItemOutcome(outcome.index, key, Outcome.NOT_APPLIED)
        item = row.item or {}
        subscriber, seq = item.get("subscriber_ID"), item.get("member_Seq")
        member = f"{subscriber}-{seq}" if subscriber and seq else subscriber
        results.append(RowResult(row.number, key_as_sent(item, spec.key), outcome, member))
    return results


def summary(results):
    """How many rows had each outcome; ``cut_short``: rows the database's loss left not written,
    or not known to be (the engine's ``NOT_WRITTEN`` and ``UNKNOWN``), which are no row's error."""
    counts = {"created": 0, "updated": 0, "failed": 0, "not_applied": 0, "cut_short": 0}
    for result in results:
        kind = result.outcome.kind
        if kind is Outcome.CREATED:
            counts["created"] += 1
        elif kind is Outcome.UPDATED:
            counts["updated"] += 1
        elif kind is Outcome.NOT_APPLIED:
            counts["not_applied"] += 1
        elif kind in RETRY_LATER:
            counts["cut_short"] += 1
        else:
            counts["failed"] += 1
    return counts


# --- the admin's views --------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="A CSV or XLSX file. Its first row names the columns by their API field names, "
        "in any case: the CSV export's header row. Audit columns (entry_*, update_*) are ignored.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.VBA_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; at most {limit:,} are imported at once "
                "(VBA_IMPORT_MAX_BYTES): split it."
            )
        return upload


class ApplyForm(forms.Form):
    on_error = forms.ChoiceField(
        choices=[
            (SKIP_INVALID, "Write the rows that pass; skip the rows with errors"),
            (ALL_OR_NONE, "All or none: write nothing if any row fails"),
        ],
        initial=SKIP_INVALID,
        widget=forms.RadioSelect,
        label="Rows with errors",
    )


class ImportMixin:
    """*Import* on an entity's admin list: ``import/`` (upload) and ``import/<token>/`` (preview,
    apply). The list's *Import* button is ``templates/admin/change_list_object_tools.html``."""

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "import/<str:token>/",
                wrap(self.import_preview_view),
                name="{}_{}_import_preview".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if self.has_import_permission(request):
            extra_context = {**(extra_context or {}), "vba_import_url": self._import_url("import")}
        return super().changelist_view(request, extra_context)

    def _import_url(self, view, *args):
        info = self.opts.app_label, self.opts.model_name
        return reverse(f"admin:{info[0]}_{info[1]}_{view}", args=args, current_app=self.admin_site.name)

    def _context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "changelist_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            ),
            "import_url": self._import_url("import"),
            **extra,
        }

    def _render(self, request, template, context, status=200):
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context, status=status)

    def _pending(self, request, token):
        from vbaproject.models import PendingImport

        return PendingImport.objects.filter(
            token=token,
            user=request.user,
            database=self.admin_site.database,
            entity=self.opts.label_lower,
            created__gte=timezone.now() - PENDING_FOR,
        )

    def _cut_short(self, request, title, exc, pending):
        """The page of a preview or apply the database stopped before anything was written; the
        upload is still pending, so *Try again* is this page."""
        context = self._context(request, title, step="failed", error=exc.detail, file_name=pending.file_name)
        context["retry_url"] = request.path
        return self._render(request, "admin/vba_import_result.html", context, status=503)

    def import_view(self, request):
        """Upload: the file is read (a file that cannot be imported is refused here), kept, and
        the preview shown."""
        from vbaproject.models import PendingImport

        if not self.has_import_permission(request):
            raise PermissionDenied
        noun = self.opts.verbose_name_plural
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            content = upload.read()
            zone = zone_name_for(request.user)
            try:
                parse_file(self.model, content, zone)
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                PendingImport.objects.filter(created__lt=timezone.now() - PENDING_FOR).delete()
                pending = PendingImport.objects.create(
                    token=secrets.token_urlsafe(32),
                    user=request.user,
                    database=self.admin_site.database,
                    entity=self.opts.label_lower,
                    file_name=(upload.name or "upload")[-255:],
                    time_zone=zone,
                    content=content,
                )
                return HttpResponseRedirect(self._import_url("import_preview", pending.token))
        status = 400 if request.method == "POST" else 200
        context = self._context(request, f"Import {noun}", form=form, step="upload")
        return self._render(request, "admin/vba_import.html", context, status=status)

    def import_preview_view(self, request, token):
        """GET: every row's outcome as ``validateOnly`` gives it; POST: apply, and the outcomes."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        pending = self._pending(request, token).first()
        if pending is None:
            messages.warning(
                request, "That import was applied already, or has expired: upload the file again."
            )
            return HttpResponseRedirect(self._import_url("import"))
        parsed = parse_file(self.model, bytes(pending.content), pending.time_zone)
        username = request.user.get_username()
        noun = self.opts.verbose_name_plural
        if request.method == "POST":
            form = ApplyForm(request.POST)
            if form.is_valid():
                # Taken before writing: a second click (or tab) finds nothing to apply.
                if not self._pending(request, token).delete()[0]:
                    messages.warning(request, "That import was applied already.")
                    return HttpResponseRedirect(self._import_url("import"))
                options = BatchOptions(all_or_none=form.cleaned_data["on_error"] == ALL_OR_NONE)
                try:
                    results = run_import(self.model, parsed, username, options)
                except WriteCutShort as exc:
                    # Nothing was written: the upload is put back, for this page to apply it again.
                    pending.save(force_insert=True)
                    return self._cut_short(request, f"Import {noun}: not applied", exc, pending)
                counts = summary(results)
                context = self._context(
                    request,
                    f"Import {noun}: {'partly applied' if counts['cut_short'] else 'applied'}",
                    step="applied",
                    results=results,
                    counts=counts,
                    file_name=pending.file_name,
                    all_or_none=options.all_or_none,
                    change_view=f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                )
                status = 503 if counts["cut_short"] else 200
                return self._render(request, "admin/vba_import_result.html", context, status=status)
        else:
            form = ApplyForm()
        try:
            results = run_import(self.model, parsed, username, BatchOptions(validate_only=True))
        except WriteCutShort as exc:
            return self._cut_short(request, f"Import {noun}: preview", exc, pending)
        context = self._context(
            request,
            f"Import {noun}: preview",
            step="preview",
            form=form,
            results=results,
            counts=summary(results),
            parsed=parsed,
            file_name=pending.file_name,
            time_zone=pending.time_zone,
        )
        return self._render(request, "admin/vba_import_preview.html", context)
