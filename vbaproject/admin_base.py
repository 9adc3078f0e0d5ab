"""The ModelAdmin and inline every entity's admin starts from, derived from the entity spec.

- Change forms are grouped into sections by a short declarative mapping (section title to
  field names or ``fnmatch`` patterns) on each admin; fields no section claims land in
  "Other", fields whose VBA description says they are no longer used in a collapsed legacy
  section, and the audit fields in a read-only "Record" section.
- Audit fields are kept by the server exactly as on the API: entry_* set when a record is
  added, update_* on every save, user names cut to the column's length.
- Forms apply the API's own validator (``vbaproject.validation``) on top of the model's
  rules, so the admin accepts exactly what the API accepts.
- Entity screens need a client database: without one (see ``admin_database``) every
  permission is refused.
"""

import datetime as dt
import fnmatch

from django import forms
from django.contrib import admin
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from vbaproject.admin_actions import export_csv
from vbaproject.client_databases import ENTITY_APPS
from vbaproject.entities import entity_spec
from vbaproject.keys import allocate_keys
from vbaproject.validation import validator_for

LEGACY_MARKERS = ("no longer in use", "no longer used")
LEGACY_SECTION = "No longer in use"
RECORD_SECTION = "Record"
OTHER_SECTION = "Other"
LONG_TEXT = 512  # string fields at least this long get a text area


def is_legacy(field):
    """The VBA description says the field is no longer used."""
    description = field.description.lower()
    return any(marker in description for marker in LEGACY_MARKERS)


def _rank(name, patterns):
    for index, pattern in enumerate(patterns):
        if fnmatch.fnmatchcase(name, pattern):
            return index
    return None


def build_fieldsets(model, sections, names):
    """Group the form's field ``names`` into fieldsets by meaning.

    ``sections`` is a sequence of ``(title, patterns)``; a field goes to the first section
    with a matching pattern, ordered by the pattern it matched, then by the API's order. The
    key leads the first section; legacy fields go to a collapsed section and audit fields
    to "Record", whatever the patterns say; the rest to "Other".
    """
    spec = entity_spec(model)
    position = {f.name: i for i, f in enumerate(spec.fields)}
    by_name = {f.name: f for f in spec.fields}
    groups = {title: [] for title, _ in sections}
    key, other, legacy, audit = [], [], [], []
    for name in sorted(names, key=lambda n: position.get(n, len(position))):
        field = by_name.get(name)
        if field is None:
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
    fieldsets = [(title, {"fields": fields}) for title, fields in ordered if fields]
    if other:
        fieldsets.append((OTHER_SECTION, {"fields": other}))
    if legacy:
        fieldsets.append(
            (
                LEGACY_SECTION,
                {
                    "fields": legacy,
                    "classes": ["collapse"],
                    "description": "Fields VBA no longer uses; kept for the records that have them.",
                },
            )
        )
    if audit:
        fieldsets.append(
            (RECORD_SECTION, {"fields": audit, "description": "Kept by the server on every save."})
        )
    return fieldsets


def _json_value(value):
    """A cleaned form value as the API would receive it in JSON."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value


class EntityForm(forms.ModelForm):
    """A model form that also applies the API's validator to the values it carries.

    The key is left to the form: its uniqueness check, and its absence on a new record.
    """

    def clean(self):
        cleaned = super().clean()
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


def audit_user(model, request):
    """The user name for the audit fields, cut to the column's length (as the batch engine does)."""
    fields = {f.name: f for f in entity_spec(model).fields}
    user = request.user.get_username()
    entry, update = fields["entry_User"].max_length, fields["update_User"].max_length
    return user[:entry] if entry else user, user[:update] if update else user


def stamp_audit(obj, request, adding, now=None):
    """Set the audit fields as the API does: entry_* when added, update_* on every save."""
    now = now or timezone.now()
    entry_user, update_user = audit_user(type(obj), request)
    if adding:
        obj.entry_Date, obj.entry_User = now, entry_user
    obj.update_Date, obj.update_User = now, update_user


def save_entity(obj, adding):
    """Save ``obj``; an added record without a string key gets one assigned, as on the API."""
    model = type(obj)
    spec = entity_spec(model)
    if not (adding and spec.key.kind == "string" and not obj.pk):
        obj.save(force_insert=adding)
        return
    alias = router.db_for_write(model)
    for _attempt in range(5):
        obj.pk = allocate_keys(connections[alias], model, 1)[0]
        try:
            with transaction.atomic(using=alias):
                obj.save(force_insert=True)
            return
        except IntegrityError:
            # Another writer took the key between allocating and inserting: draw again.
            if model._base_manager.filter(pk=obj.pk).exists():
                continue
            raise
    raise IntegrityError(f"Could not assign a free key to a new {model._meta.verbose_name}.")


def _has_database(request):
    return getattr(request, "vba_database", None) is not None


class EntityFormMixin:
    """What entity admins and entity inlines share: forms, widgets, sections, audit, permissions."""

    form = EntityForm
    sections = ()  # (title, [field names or fnmatch patterns]) pairs; see build_fieldsets
    text_rows = 3

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        long_string = isinstance(db_field, models.CharField) and (db_field.max_length or 0) >= LONG_TEXT
        if long_string or isinstance(db_field, models.TextField):
            kwargs["widget"] = forms.Textarea(attrs={"rows": self.text_rows, "cols": 80})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        spec = entity_spec(self.model)
        readonly = [f.name for f in spec.fields if f.is_audit]
        if obj is not None and spec.key.model_field.editable:
            readonly.insert(0, spec.key.name)  # a record's key never changes
        return [*super().get_readonly_fields(request, obj), *readonly]

    def get_fieldsets(self, request, obj=None):
        if self.fieldsets:
            return self.fieldsets
        return build_fieldsets(self.model, self.sections, self.get_fields(request, obj))

    def has_view_permission(self, request, obj=None):
        return _has_database(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return _has_database(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return _has_database(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _has_database(request) and super().has_delete_permission(request, obj)


class EntityAdmin(EntityFormMixin, admin.ModelAdmin):
    """The admin of one entity: audit fields read-only and kept by the server, as on the API."""

    actions = [export_csv]
    list_per_page = 50
    show_full_result_count = False  # no second COUNT(*) over a whole, possibly huge, table
    save_on_top = True

    def has_module_permission(self, request):
        return _has_database(request) and super().has_module_permission(request)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        key = entity_spec(self.model).key
        if obj is None and key.kind == "string" and key.name in form.base_fields:
            # As on the API, a new record without a key gets one assigned.
            form.base_fields[key.name].required = False
            form.base_fields[key.name].help_text = "Leave empty to have the next free number assigned."
        return form

    def save_model(self, request, obj, form, change):
        stamp_audit(obj, request, adding=not change)
        save_entity(obj, adding=not change)

    def save_formset(self, request, form, formset, change):
        if formset.model._meta.app_label not in ENTITY_APPS:
            return super().save_formset(request, form, formset, change)
        now = timezone.now()
        for obj in formset.save(commit=False):
            adding = obj._state.adding
            stamp_audit(obj, request, adding=adding, now=now)
            save_entity(obj, adding=adding)
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()
        return None


class EntityInline(EntityFormMixin, admin.StackedInline):
    """An inline of an entity on its parent's page, with the same rules as its own admin."""

    extra = 0
    show_change_link = True
    text_rows = 2
