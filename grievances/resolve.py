"""Resolving grievances in the admin: a confirmation page that asks for the resolution.

Like Django's delete confirmation: the bulk action *Resolve the selected grievances* (and the
*Resolve…* button of a grievance's form) shows the grievances it will resolve (their record
labels, status and due date) and asks for the resolution type and text; *Yes, resolve them*
writes through ``grievances.services.grievances_resolve`` (both dates, type, text and the status
RESOLVED together, recorded in the history as the user's admin write). Grievances already
resolved are listed as left alone. Nothing is written without the page's confirmation.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from vbaproject.admin.forms import CodeInput, code_suggestions

from .models import Grievance
from .queue import due_at, grievance_limits
from .services import grievances_resolve, unresolved_q

MAX_LISTED = 100  # the page lists at most this many grievances, then "and N more"


class ResolveForm(forms.Form):
    resolution_Type = forms.CharField(
        label="Resolution type",
        max_length=Grievance._meta.get_field("resolution_Type").max_length,
        help_text="How the grievance was resolved, such as UPHELD, OVERTURN or WITHDRAWN.",
    )
    resolution = forms.CharField(
        label="Resolution",
        max_length=Grievance._meta.get_field("resolution").max_length,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="What was done, as the member will be told.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resolution_Type"].widget = CodeInput(
            attrs={"autofocus": True}, suggestions=code_suggestions(Grievance, "resolution_Type")
        )


def resolve(model_admin, request, queryset, single=None):
    """The confirmation page for ``queryset``, or, when confirmed, the resolution and ``None`` (the
    action's caller then goes back to the list) or a redirect (``single``: back to its form)."""
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    confirmed = request.POST.get("post") == "yes"
    form = ResolveForm(request.POST if confirmed else None)
    if confirmed and form.is_valid():
        selected = queryset.count()
        changed = grievances_resolve(
            queryset,
            request.user.get_username(),
            form.cleaned_data["resolution_Type"],
            form.cleaned_data["resolution"],
        )
        skipped = selected - len(changed)
        n = len(changed)
        message = f"Resolved {n} grievance{'s' if n != 1 else ''}."
        if skipped:
            message += f" {skipped} {'were' if skipped != 1 else 'was'} resolved already."
        model_admin.message_user(request, message, messages.SUCCESS if changed else messages.WARNING)
        if single is not None:
            return HttpResponseRedirect(
                reverse(
                    f"admin:{Grievance._meta.app_label}_{Grievance._meta.model_name}_change",
                    args=[single.pk],
                    current_app=model_admin.admin_site.name,
                )
            )
        return None
    limits = grievance_limits()
    pending = list(queryset.filter(unresolved_q()).order_by("pk")[:MAX_LISTED])
    total = queryset.count()
    pending_count = queryset.filter(unresolved_q()).count() if len(pending) == MAX_LISTED else len(pending)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Resolve grievances" if single is None else f"Resolve {single}",
        "subtitle": None,
        "opts": Grievance._meta,
        "form": form,
        "rows": [(g, due_at(g.grievance_Received, g.grievance_Type, limits)) for g in pending],
        "more": pending_count - len(pending),
        "pending_count": pending_count,
        "already": total - pending_count,
        "single": single,
        "queryset": queryset if single is None else None,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "changelist_url": reverse(
            f"admin:{Grievance._meta.app_label}_{Grievance._meta.model_name}_changelist",
            current_app=model_admin.admin_site.name,
        ),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/grievances/resolve_confirmation.html", context)


def resolve_view(model_admin, request, object_id):
    """``<key>/resolve/``: the confirmation page for one grievance, from its change form."""
    obj = model_admin.get_object(request, object_id)
    if obj is None:
        return model_admin._get_obj_does_not_exist_redirect(request, Grievance._meta, object_id)
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    queryset = model_admin.get_queryset(request).filter(pk=obj.pk)
    return resolve(model_admin, request, queryset, single=obj)
