"""The ModelAdmin and inline every entity's admin starts from, derived from the entity spec.

- Change forms are grouped into sections by a short declarative mapping (section title to
  field names or ``fnmatch`` patterns) on each admin; fields no section claims land in
  "Other", fields whose VBA description says they are no longer used in a collapsed legacy
  section, and the audit fields in a read-only "Record" section.
- Audit fields are kept by the server exactly as on the API: entry_* set when a record is
  added, update_* on every save, user names cut to the column's length.
- Forms apply the API's own validator (``vbaproject.validation``) on top of the model's
  rules, so the admin accepts exactly what the API accepts.
- Entity admins are served by the site of each client database (``vbaproject.admin.sites``),
  which decides who may use it.
- Every write goes through the engine (``vbaproject.engine``): saves, inline saves and deletes;
  the history (``vbaproject.history``) records each, and a record's History page shows its
  trail. Django's own admin log is not kept for entities: it knows no databases.
- No silent overwrite: a change form remembers the record's ``update_Date`` (and its newest
  history entry) when it was opened; saving after someone else changed the record shows who
  changed what, and writes nothing.
"""

import datetime as dt
import fnmatch
import functools

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from vbaproject.admin.actions import export_csv
from vbaproject.admin.forms import StaffAdminMixin, StaffFormMixin, staff_formfield
from vbaproject.admin.imports import ImportMixin
from vbaproject.admin.scale import (
    EntityChangeList,
    EstimatedCountPaginator,
    code_filters,
    leading_index,
    search,
)
from vbaproject.apps import is_entity_app
from vbaproject.engine.delete import delete_records
from vbaproject.engine.records import save_record
from vbaproject.history.selectors import record_history, with_changes
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.validation import validator_for

LEGACY_MARKERS = ("no longer in use", "no longer used")
LEGACY_SECTION = "No longer in use"
RECORD_SECTION = "Record"
OTHER_SECTION = "Other"
LONG_TEXT = 512  # string fields at least this long get a text area


def is_legacy(field):
    """The VBA description says the field is no longer used."""
    description = field.description.lower()
    return any(marker in description for marker in LEGACY_MARKERS)


def admin_help_text(text):
    """The VBA description without its notes for API clients ("Note: ... required by the API")."""
    return str(text).split(" Note: ", 1)[0].split("Note: The database", 1)[0].strip()


def _rank(name, patterns):
    for index, pattern in enumerate(patterns):
        if fnmatch.fnmatchcase(name, pattern):
            return index
    return None


def is_long_text(field):
    """Shown as a text area: a text field, or a string field of ``LONG_TEXT`` characters or more."""
    return isinstance(field.model_field, models.TextField) or (field.max_length or 0) >= LONG_TEXT


def _rows(names, by_name, per_row):
    """Lay ``names`` out ``per_row`` to a line; a text area always gets a line of its own."""
    rows, line = [], []
    for name in names:
        field = by_name.get(name)
        if field is not None and is_long_text(field):
            rows += [tuple(line)] if line else []
            rows.append(name)
            line = []
            continue
        line.append(name)
        if len(line) == per_row:
            rows.append(tuple(line))
            line = []
    if line:
        rows.append(tuple(line))
    return [row[0] if isinstance(row, tuple) and len(row) == 1 else row for row in rows]


def build_fieldsets(model, sections, names, per_row=1, collapse_after=None):
    """Group the form's field ``names`` into fieldsets by meaning.

    ``sections`` is a sequence of ``(title, patterns)``; a field goes to the first section
    with a matching pattern, ordered by the pattern it matched, then by the API's order. The
    key leads the first section; legacy fields go to a collapsed section and audit fields
    to "Record", whatever the patterns say; the rest to "Other". Fields are laid out
    ``per_row`` to a line; sections after the first ``collapse_after`` start collapsed.
    """
    spec = entity_spec(model)
    position = {f.name: i for i, f in enumerate(spec.fields)}
    by_name = {f.name: f for f in spec.fields}
    groups = {title: [] for title, _ in sections}
    key, other, legacy, audit = [], [], [], []
    for name in sorted(names, key=lambda n: position.get(n, len(position))):
        field = by_name.get(name)
        if name == VERSION_FIELD:
            key.append(name)  # hidden: rides with the key in the first section
        elif field is None:
            other.append(name)
        elif field.is_key:
            key.append(name)
        elif field.is_audit:
            audit.append(name)
        elif is_legacy(field):
            legacy.append(name)
        else:
            for title, patterns in sections:
                rank = _rank(name, patterns)
                if rank is not None:
                    groups[title].append((rank, position[name], name))
                    break
            else:
                other.append(name)
    ordered = [(title, [n for *_, n in sorted(groups[title])]) for title, _ in sections]
    if ordered:
        ordered[0] = (ordered[0][0], key + ordered[0][1])
    else:
        other = key + other
    ordered = [(title, fields, {}) for title, fields in ordered if fields]
    if other:
        ordered.append((OTHER_SECTION, other, {}))
    if legacy:
        description = "Fields VBA no longer uses; kept for the records that have them."
        ordered.append((LEGACY_SECTION, legacy, {"classes": ["collapse"], "description": description}))
    if audit:
        ordered.append((RECORD_SECTION, audit, {"description": "Kept by the server on every save."}))
    fieldsets = []
    for index, (title, fields, options) in enumerate(ordered):
        options = {"fields": _rows(fields, by_name, per_row), **options}
        if collapse_after is not None and index >= collapse_after:
            options["classes"] = ["collapse"]
        fieldsets.append((title, options))
    return fieldsets


def _json_value(value):
    """A cleaned form value as the API would receive it in JSON."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value


VERSION_FIELD = "vba_version"


def record_version(obj):
    """What a change form remembers of the record it opened: its update_Date and newest change."""
    updated = getattr(obj, "update_Date", None)
    latest = record_history(type(obj), obj.pk).values_list("history_id", flat=True).first()
    return f"{updated.isoformat() if updated else ''}|{latest or 0}"


def _describe(entry, fields):
    """``carla (the API) at 2026-11-22 10:04:05 changed issue, subscriber_ID``."""
    how = entry.get_history_via_display() if entry.history_via else "outside the service"
    what = ", ".join(name for name, _, _ in fields) or "nothing visible"
    when = f"{timezone.localtime(entry.history_at):%Y-%m-%d %H:%M:%S}"
    return f"{entry.history_user or 'someone'} ({how}) at {when} {entry.get_history_action_display()} {what}"


class EntityForm(StaffFormMixin, forms.ModelForm):
    """A model form that also applies the API's validator to the values it carries, and refuses to
    overwrite a record someone else changed after the form was opened.

    The key is left to the form: its uniqueness check, and its absence on a new record.
    """

    vba_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Remembered when the form is shown; a posted form brings back what it was shown with.
        if not self.is_bound and self.instance.pk is not None and not self.instance._state.adding:
            self.initial.setdefault(VERSION_FIELD, record_version(self.instance))

    def check_unchanged(self):
        """Lock the record (the admin saves in this transaction) and compare it with the version opened."""
        instance = self.instance
        if instance.pk is None or instance._state.adding:
            return
        model = type(instance)
        opened = self.cleaned_data.get(VERSION_FIELD) or ""
        current = model._base_manager.select_for_update().filter(pk=instance.pk).first()
        noun = model._meta.verbose_name
        if current is None:
            raise forms.ValidationError(
                f"This {noun} was deleted after you opened it; nothing was saved.", code="deleted"
            )
        opened_updated, _, opened_change = opened.partition("|")
        updated = current.update_Date.isoformat() if getattr(current, "update_Date", None) else ""
        if opened and opened_updated == updated:
            return
        since = record_history(model, instance.pk).filter(history_id__gt=int(opened_change or 0))
        who = "; ".join(_describe(entry, fields) for entry, fields in reversed(with_changes(model, since)))
        raise forms.ValidationError(
            f"This {noun} was changed after you opened it: {who or 'by someone else'}. Nothing was saved: "
            "reload the page to see the current values, then make your change again.",
            code="changed",
        )

    def clean(self):
        cleaned = super().clean()
        self.check_unchanged()
        model = self._meta.model
        item = {
            f.name: _json_value(cleaned[f.name])
            for f in entity_spec(model).client_fields
            if not f.is_key and f.name in self.fields and f.name in cleaned
        }
        _, _, errors = validator_for(model)(item)
        for error in errors:
            name, _, message = error.partition(": ")
            if name in item and name not in self.errors:
                self.add_error(name, message[:1].upper() + message[1:] + ".")
        return cleaned


def _nowrap(text):
    return None if text is None else format_html('<span style="white-space: nowrap">{}</span>', text)


def member_label(obj):
    subscriber, seq = getattr(obj, "subscriber_ID", None), getattr(obj, "member_Seq", None)
    if not subscriber:
        return None
    return f"{subscriber}-{seq}" if seq else subscriber


def _is_datetime(model, name):
    if not isinstance(name, str):
        return False
    try:
        return isinstance(model._meta.get_field(name), models.DateTimeField)
    except FieldDoesNotExist:
        return False


@functools.cache
def _day_column(model, name, label=None):
    @admin.display(description=label or model._meta.get_field(name).verbose_name, ordering=name)
    def column(obj):
        value = getattr(obj, name)
        return None if value is None else _nowrap(timezone.localtime(value).date().isoformat())

    column.__name__ = name
    return column


@functools.cache
def _labelled_column(model, name, label):
    @admin.display(description=label, ordering=name)
    def column(obj):
        return getattr(obj, name)

    column.__name__ = name
    return column


class EntityFormMixin:
    """What entity admins and entity inlines share: forms, widgets, sections, audit, permissions."""

    form = EntityForm
    sections = ()  # (title, [field names or fnmatch patterns]) pairs; see build_fieldsets
    fields_per_row = 2
    collapse_after = None  # sections after the first this many start collapsed
    text_rows = 3

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        long_string = isinstance(db_field, models.CharField) and (db_field.max_length or 0) >= LONG_TEXT
        if long_string or isinstance(db_field, models.TextField):
            kwargs["widget"] = forms.Textarea(attrs={"rows": self.text_rows, "cols": 80})
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            formfield.help_text = admin_help_text(formfield.help_text)
        # The label table's words, and codes, Y/N boxes, days and times as staff enter them.
        return staff_formfield(self.model, db_field, formfield)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly  # nothing to show yet: the server sets them on saving
        spec = entity_spec(self.model)
        if spec.key.model_field.editable:
            readonly.append(spec.key.name)  # a record's key never changes
        return [*readonly, *(f.name for f in spec.fields if f.is_audit)]

    def get_fieldsets(self, request, obj=None):
        if self.fieldsets:
            return self.fieldsets
        return build_fieldsets(
            self.model,
            self.sections,
            self.get_fields(request, obj),
            per_row=self.fields_per_row,
            collapse_after=self.collapse_after,
        )


class EntityAdmin(StaffAdminMixin, ImportMixin, EntityFormMixin, admin.ModelAdmin):
    """The admin of one entity: audit fields read-only and kept by the server, as on the API."""

    actions = [export_csv]
    list_per_page = 50
    show_full_result_count = False  # no second COUNT(*) over a whole, possibly huge, table
    # Tables of millions of rows (vbaproject.admin.scale): counts exact up to a threshold, then
    # "about N"; filters, drill-down and search read indexes, never the whole table.
    paginator = EstimatedCountPaginator
    change_list_template = "admin/vba_change_list.html"
    save_on_top = True
    column_labels = {}  # list column headings for fields whose API names are long

    history_per_page = 50

    # The history (vbaproject.history) records every write, with its database; Django's admin
    # log would record admin writes only, matched to records by their key alone.
    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None

    def history_view(self, request, object_id, extra_context=None):
        """The record's trail, newest first: when, who, through what, and each field's old → new."""
        obj = self.get_object(request, object_id)
        key = obj.pk if obj is not None else object_id
        if obj is None and not record_history(self.model, key).exists():
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if obj is not None and not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        paginator = Paginator(record_history(self.model, key), self.history_per_page)
        page = paginator.get_page(request.GET.get("p"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj if obj is not None else f'{self.opts.verbose_name} {key} (deleted)'}",
            "subtitle": None,
            "opts": self.opts,
            "object": obj,
            "object_id": object_id,
            "page_obj": page,
            "changes": with_changes(self.model, page),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/vba_object_history.html", context)

    @admin.display(description="member", ordering="subscriber_ID")
    def member(self, obj):
        """The member as people write it: subscriber ID and member sequence, S0012345-01."""
        return _nowrap(member_label(obj))

    def get_list_display(self, request):
        """Date-time columns show the day only (2024-06-03): a list is scanned, not read.

        ``column_labels`` gives columns of long API names a short heading.
        """
        columns = []
        for name in super().get_list_display(request):
            if _is_datetime(self.model, name):
                name = _day_column(self.model, name, self.column_labels.get(name))
            elif name in self.column_labels:
                name = _labelled_column(self.model, name, self.column_labels[name])
            columns.append(name)
        return columns

    def get_ordering(self, request):
        """The declared ordering; else newest first by the drill-down date, then by key.

        Dates without a value go last, and the key breaks ties in the same direction: exactly
        the order of the date's ``(date, key)`` index read backwards (``leading_index``), so a
        page is the first rows of an index scan, not a sort of the whole table.
        """
        if self.ordering or not self.date_hierarchy:
            return super().get_ordering(request)
        key = entity_spec(self.model).key.name
        if leading_index(self.model, self.date_hierarchy) == "nulls last":
            return [models.F(self.date_hierarchy).desc(nulls_first=True), models.F(key).desc()]
        return [models.F(self.date_hierarchy).desc(nulls_last=True), models.F(key).desc()]

    def get_list_filter(self, request):
        """The declared filters, then one per date column of the list (in the list's order).

        A code column's filter reads its choices by a loose index scan (``CodeValuesFilter``).
        """
        declared = list(super().get_list_filter(request))
        dates = [
            name for name in self.list_display if _is_datetime(self.model, name) and name not in declared
        ]
        return code_filters(self.model, [*declared, *dates])

    def get_changelist(self, request, **kwargs):
        return EntityChangeList

    def get_search_results(self, request, queryset, search_term):
        """Each search field matched as its index serves it: the integer key exactly, IDs by prefix
        (``vbaproject.admin.scale.search``)."""
        return search(self.model, self.get_search_fields(request), queryset, search_term)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        key = entity_spec(self.model).key
        if obj is None and key.kind == FieldKind.STRING and key.name in form.base_fields:
            # As on the API, a new record without a key gets one assigned.
            form.base_fields[key.name].required = False
            form.base_fields[key.name].help_text = "Leave empty to have the next free number assigned."
        return form

    def save_model(self, request, obj, form, change):
        save_record(obj, request.user.get_username(), adding=not change)

    def delete_model(self, request, obj):
        delete_records(type(obj)._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        delete_records(queryset)

    def save_formset(self, request, form, formset, change):
        if not is_entity_app(formset.model._meta.app_label):
            return super().save_formset(request, form, formset, change)
        now = timezone.now()
        for obj in formset.save(commit=False):
            save_record(obj, request.user.get_username(), adding=obj._state.adding, now=now)
        if formset.deleted_objects:
            delete_records(
                formset.model._default_manager.filter(pk__in=[o.pk for o in formset.deleted_objects])
            )
        formset.save_m2m()
        return None


class EntityInline(EntityFormMixin, admin.StackedInline):
    """An inline of an entity on its parent's page, with the same rules as its own admin."""

    extra = 0
    show_change_link = True
    collapse_after = 1  # a parent page stays short: the first section open, the rest folded
    text_rows = 2
