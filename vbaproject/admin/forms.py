"""The entity forms as staff use them: readable labels, codes, Y/N boxes, days, times, warnings, tabs.

Everything here is the admin's; the API is untouched. The models keep no ``choices=``: the API's
validator is derived from the models (``vbaproject.spec``), and VBAPI accepts any code, so the
vocabularies live in form fields only.

- **Labels and help texts** come from the label table, ``vbaproject.spec.labels``: form labels,
  list column headings and filter titles (``StaffAdminMixin``).
- **Codes** (statuses, types, phases) are text boxes with suggestions (an HTML ``datalist``) of
  the values in use plus VBA's usual ones, saved trimmed and in upper case: "upheld" is saved
  as ``UPHELD``, so filters never split on case. Any other value is still accepted, as on the API.
- **Y/N flags** (``auto_Accident``) are check boxes that save VBA's ``Y``/``N``; a flag left
  empty by VBA stays empty when the box is not touched.
- **Date-only facts** (an injury, a discharge, the days a service range covers) are one date
  box, saved at midnight UTC: what the API stores for a plain date (``2024-05-31``) and what VBA
  sends for a day. They are shown as that UTC day in every time zone (a day has no zone).
- **Times** are read as people type them: ``9am``, ``9:30 pm``, ``21:30``, ``0930``, ``noon``.
- **Cross-field warnings** (resolved before received, approved through before approved from):
  the form stops once with the warning beside the field and at the top, and a *Save anyway* box;
  ticked, it saves. The API accepts either order, so the admin never refuses it outright.
- **Tabs**: ``templates/admin/vba_change_form.html`` shows a long form's sections as tabs
  (``form_tabs = True``) or a jump list, every error listed at the top with a link to its field
  (whose tab opens), and the warning's *Save anyway* box.

This module imports nothing of ``vbaproject.admin.base`` (which builds on it).
"""

import datetime as dt
import functools
import re

from django import forms
from django.contrib import admin
from django.contrib.admin import widgets as admin_widgets
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from vbaproject.spec import labels

CONFIRM_FIELD = "vba_confirm_warnings"
SUGGESTIONS_LIMIT = 200  # codes offered per field
SUGGESTIONS_SAMPLE = 5_000  # without an index to jump through, the newest rows are read
SUGGESTIONS_TTL = 300  # seconds the values in use are remembered


# --- Codes -----------------------------------------------------------------------------------


class CodeInput(forms.TextInput):
    """A text box with a ``datalist`` of suggestions: the browser's own autocomplete, no script."""

    def __init__(self, attrs=None, suggestions=()):
        super().__init__(attrs)
        self.suggestions = list(suggestions)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if self.suggestions:
            context["widget"]["attrs"]["list"] = f"{context['widget']['attrs'].get('id', name)}-codes"
            context["widget"]["attrs"].setdefault("autocomplete", "off")
        return context

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        if not self.suggestions:
            return html
        list_id = f"{(attrs or {}).get('id', name)}-codes"
        options = format_html_join("", '<option value="{}">', ((code,) for code in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


class CodeField(forms.CharField):
    """A code: trimmed, inner spaces single, upper case; empty is empty."""

    def to_python(self, value):
        value = super().to_python(value)
        return labels.normalise_code(value) if value not in self.empty_values else value


def values_in_use(model, name):
    """The distinct values of a code field in the selected client database, at most
    ``SUGGESTIONS_LIMIT``: a loose index scan where an index leads with the column (PostgreSQL),
    else the newest ``SUGGESTIONS_SAMPLE`` rows. Remembered for ``SUGGESTIONS_TTL`` seconds."""
    from vbaproject.admin.scale import distinct_values
    from vbaproject.db.routing import selected_client_database

    database = selected_client_database()
    key = f"vba-codes:{database}:{model._meta.label}:{name}"
    found = cache.get(key)
    if found is not None:
        return found
    queryset = model._default_manager.all()
    try:
        # A savepoint: the change form is built inside the admin's transaction, which a failed
        # statement would otherwise leave aborted (PostgreSQL) for the rest of the page.
        with transaction.atomic(using=queryset.db):
            values = distinct_values(queryset, name, limit=SUGGESTIONS_LIMIT)
            if values is None:
                newest = queryset.order_by(f"-{model._meta.pk.name}").values_list(name, flat=True)
                values = list(newest[:SUGGESTIONS_SAMPLE])
    except DatabaseError:
        return []  # suggestions are a convenience: a form still opens without them
    found = sorted({labels.normalise_code(v) for v in values if v not in (None, "")})[:SUGGESTIONS_LIMIT]
    cache.set(key, found, SUGGESTIONS_TTL)
    return found


def code_suggestions(model, name):
    known = labels.KNOWN_CODES.get(name, [])
    return sorted({*known, *values_in_use(model, name)})


# --- Y/N flags --------------------------------------------------------------------------------

_YES = {"y", "yes", "true", "on", "1", "t"}


def is_yes(value):
    return (isinstance(value, bool) and value) or str(value).strip().lower() in _YES


class YesNoCheckbox(forms.CheckboxInput):
    """A check box for a ``Y``/``N`` column: ticked for ``Y``; a posted ``N`` is unticked."""

    def __init__(self, attrs=None):
        super().__init__(attrs, check_test=lambda value: value is not None and is_yes(value))

    def format_value(self, value):
        return None  # no value attribute: a ticked box posts "on", never the "N" it was shown with

    def value_from_datadict(self, data, files, name):
        return name in data and is_yes(data.get(name))


class YesNoField(forms.Field):
    """Saves ``Y`` when ticked, ``N`` when not. Never required: a box always says yes or no."""

    widget = YesNoCheckbox

    def __init__(self, **kwargs):
        kwargs["required"] = False
        kwargs.pop("max_length", None)
        kwargs.pop("min_length", None)
        kwargs.pop("empty_value", None)
        super().__init__(**kwargs)

    def to_python(self, value):
        return "Y" if is_yes(value) else "N"

    def has_changed(self, initial, data):
        was = None if initial in (None, "") else ("Y" if is_yes(initial) else "N")
        return (was or "N") != self.to_python(data)


# --- Days and times -------------------------------------------------------------------------


def utc_day(value):
    """The day a date-only value names: its UTC date (a plain date is midnight UTC)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if timezone.is_aware(value) else value.date()
    return value


class DateOnlyField(forms.DateField):
    """A day, saved as midnight UTC of that day."""

    widget = admin_widgets.AdminDateWidget

    def prepare_value(self, value):
        return utc_day(value)

    def clean(self, value):
        day = super().clean(value)
        return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)

    def has_changed(self, initial, data):
        try:
            return utc_day(initial) != self.to_python(data)
        except ValidationError:
            return True


_TIME = re.compile(
    r"^\s*(?P<hour>\d{1,2})(?:[:.h]?(?P<minute>\d{2}))?(?::(?P<second>\d{2}))?\s*"
    r"(?P<half>[ap])?\.?\s*(?:m\.?)?\s*$",
    re.IGNORECASE,
)
_WORDS = {"noon": dt.time(12), "midday": dt.time(12), "midnight": dt.time(0), "now": None}


def parse_time(text):
    """``9am`` → 09:00, ``9:30 pm`` → 21:30, ``21:30``, ``0930``, ``12am`` → 00:00, ``noon``;
    ``None`` when it is no time."""
    text = str(text).strip().lower()
    if text in _WORDS:
        return _WORDS[text] if text != "now" else timezone.localtime().time().replace(microsecond=0)
    match = _TIME.match(text)
    if not match:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    second, half = int(match["second"] or 0), (match["half"] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return dt.time(hour, minute, second)


class FlexibleTimeField(forms.TimeField):
    default_error_messages = {"invalid": "Enter a time such as 9am, 9:30 pm or 21:30."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.time):
            return value
        parsed = parse_time(value)
        if parsed is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


class FlexibleSplitDateTimeField(forms.SplitDateTimeField):
    """Django's date and time boxes, the time read as people type it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        date_field, time_field = self.fields
        flexible = FlexibleTimeField(required=time_field.required, localize=time_field.localize)
        flexible.error_messages["incomplete"] = time_field.error_messages.get("incomplete", "")
        self.fields = (date_field, flexible)

    default_error_messages = {
        **forms.SplitDateTimeField.default_error_messages,
        "invalid_time": "Enter a time such as 9am, 9:30 pm or 21:30.",
    }


# --- The form fields of one model field --------------------------------------------------


def staff_formfield(model, db_field, formfield):
    """``formfield`` as staff see it: the label table's label and help text, and the field kind
    (code, Y/N flag, day, flexible time). Returns the field to use."""
    name = db_field.name
    if formfield is None or not labels.has_label(model, name):
        return formfield
    common = {
        "label": labels.field_label(model, name),
        "help_text": labels.field_help(model, name),
        "required": formfield.required,
        "initial": formfield.initial,
    }
    if labels.is_yes_no(model, name):
        formfield = YesNoField(label=common["label"], help_text=common["help_text"])
    elif labels.is_code(model, name) and isinstance(formfield, forms.CharField):
        attrs = {k: v for k, v in formfield.widget.attrs.items() if k in ("maxlength", "size")}
        attrs.setdefault("size", 12)
        widget = CodeInput(attrs=attrs, suggestions=code_suggestions(model, name))
        formfield = CodeField(
            max_length=formfield.max_length,
            min_length=formfield.min_length,
            empty_value=formfield.empty_value,
            widget=widget,
            **common,
        )
    elif isinstance(db_field, models.DateTimeField) and labels.is_date_only(model, name):
        formfield = DateOnlyField(**common)
    elif type(formfield) is forms.SplitDateTimeField:
        formfield = FlexibleSplitDateTimeField(widget=formfield.widget, **common)
    else:
        formfield.label, formfield.help_text = common["label"], common["help_text"]
    return formfield


# --- The form ---------------------------------------------------------------------------------


def _day_of(model, name, value):
    if labels.is_date_only(model, name):
        return utc_day(value)
    return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()


def _out_of_order(model, earlier, later, first, then):
    """Whether ``then`` (of ``later``) comes before ``first`` (of ``earlier``): by day when
    either is a day, else by moment."""
    if labels.is_date_only(model, earlier) or labels.is_date_only(model, later):
        return _day_of(model, later, then) < _day_of(model, earlier, first)
    return then < first


class StaffFormMixin:
    """What every entity form adds (``EntityForm``'s first base): fields left untouched keep what
    they held, and dates out of order stop the save once with a warning staff can confirm."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vba_warnings = []
        if self._checks_dates():
            self.fields[CONFIRM_FIELD] = forms.BooleanField(
                required=False,
                label="Save anyway: I checked these dates and they are right",
            )

    def _checks_dates(self):
        model = self._meta.model
        return not self.prefix and any(
            a in self.fields and b in self.fields for a, b in labels.date_order(model)
        )

    def _keep_untouched(self, cleaned):
        """A Y/N box or a day not touched keeps the stored value (an empty flag, a day's time)."""
        instance = self.instance
        if instance is None or instance._state.adding:
            return
        changed = set(self.changed_data)
        for name, field in self.fields.items():
            if isinstance(field, YesNoField | DateOnlyField) and name not in changed and name in cleaned:
                cleaned[name] = getattr(instance, name)

    def _check_dates(self, cleaned):
        """Pairs out of order that this save touches: a record that came from VBA or the API with
        its dates so is not held up when someone edits another field."""
        model = self._meta.model
        adding = self.instance is None or self.instance._state.adding
        changed = set(self.changed_data)
        for earlier, later in labels.date_order(model):
            first, then = cleaned.get(earlier), cleaned.get(later)
            if first is None or then is None or earlier in self.errors or later in self.errors:
                continue
            if not adding and not {earlier, later} & changed:
                continue
            if _out_of_order(model, earlier, later, first, then):
                self.vba_warnings.append(
                    (
                        later,
                        f"{labels.field_label(model, later)} ({_day_of(model, later, then)}) is before "
                        f"{labels.lower_label(model, earlier)} ({_day_of(model, earlier, first)}).",
                    )
                )
        if self.vba_warnings and not cleaned.get(CONFIRM_FIELD):
            for name, message in self.vba_warnings:
                self.add_error(name, ValidationError(f"Check this date: {message}", code="date_order"))
            self.add_error(
                None,
                ValidationError(
                    "Some dates are out of order (see below). If they are right, tick "
                    "“Save anyway” and save again.",
                    code="date_order",
                ),
            )

    def clean(self):
        cleaned = super().clean()
        self._keep_untouched(cleaned)
        if CONFIRM_FIELD in self.fields:
            self._check_dates(cleaned)
        return cleaned


# --- The admin --------------------------------------------------------------------------------


def _model_field(model, name):
    if not isinstance(name, str):
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


@functools.cache
def staff_column(model, name, label):
    """A list column of a field under its label: a day for date-times (a date-only fact's UTC
    day, any other in the user's zone), ✓/✗ icons for booleans, else the value."""
    field = model._meta.get_field(name)
    boolean = isinstance(field, models.BooleanField)

    @admin.display(description=label, ordering=name, boolean=boolean or None)
    def column(obj):
        value = getattr(obj, name)
        if value is None or not isinstance(field, models.DateTimeField):
            return value
        day = _day_of(model, name, value)
        return format_html('<span style="white-space: nowrap">{}</span>', day.isoformat())

    column.__name__ = name
    return column


def _field_id(bound):
    """The id of the box the cursor goes to: the first of a date and time pair."""
    if isinstance(bound.field.widget, forms.MultiWidget):
        return f"{bound.auto_id}_0"
    return bound.id_for_label or bound.auto_id


def _names(line):
    return line if isinstance(line, list | tuple) else [line]


class StaffAdminMixin:
    """The entity admin's side (``EntityAdmin``'s first base): the form template with tabs, the
    error summary and the warning; list columns and filters under the label table's words."""

    change_form_template = "admin/vba_change_form.html"
    form_tabs = False  # sections as tabs (a long form); otherwise a jump list above them

    def get_list_display(self, request):
        columns = []
        explicit = getattr(self, "column_labels", {})
        for column in super().get_list_display(request):
            name = column if isinstance(column, str) else getattr(column, "__name__", None)
            if _model_field(self.model, name) is not None and labels.has_label(self.model, name):
                label = explicit.get(name) or labels.lower_label(self.model, name)
                column = staff_column(self.model, name, label)
            columns.append(column)
        return columns

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        for spec in changelist.filter_specs:
            path = getattr(spec, "field_path", None)
            if path and "__" not in path and labels.has_label(self.model, path):
                spec.title = labels.lower_label(self.model, path)
        return changelist

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        adminform = context.get("adminform")
        if adminform is not None:
            form = adminform.form
            sections, where = [], {}
            for index, fieldset in enumerate(adminform, start=1):
                names = [n for line in fieldset.fields for n in _names(line)]
                for name in names:
                    where[name] = index
                errors = sum(1 for n in names if n in form.errors)
                sections.append({"index": index, "name": fieldset.name or "Details", "errors": errors})
            summary = []
            for name, messages in form.errors.items():
                if name == forms.forms.NON_FIELD_ERRORS or name not in form.fields:
                    continue
                for message in messages:
                    summary.append(
                        {
                            "label": form.fields[name].label or name,
                            "message": message,
                            "id": _field_id(form[name]),
                            "section": where.get(name),
                        }
                    )
            context.update(
                vba_sections=sections,
                vba_tabs=self.form_tabs and len(sections) > 1,
                vba_error_summary=summary,
                vba_warnings=getattr(form, "vba_warnings", []),
                vba_confirm=form[CONFIRM_FIELD] if CONFIRM_FIELD in form.fields else None,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)
