"""Every change of a client database, for superusers: filtered by entity, action, user, API key,
application and date, searchable by record key and activity ID; each row links to the record's
history, which shows the values. Read-only: the history is written by the database's triggers,
never edited."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from vbaproject.admin.sites import register
from vbaproject.apps import entity_models

from .models import Change


@register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "entity", "record", "action", "username", "api_key", "via", "activity_id"]
    list_filter = ["entity", "action", "via", "username", "api_key", "at"]
    search_fields = ["=record_key", "=activity_id"]
    search_help_text = "A record's key, or a request's activity ID."
    date_hierarchy = "at"
    ordering = ["-at"]
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = [f.name for f in Change._meta.fields]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="record", ordering="record_key")
    def record(self, change):
        """The record's key, linked to its history page."""
        model = next((m for m in entity_models() if m.__name__ == change.entity), None)
        if model is None:
            return change.record_key
        try:
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_history",
                args=[change.record_key],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return change.record_key
        return format_html('<a href="{}">{}</a>', url, change.record_key)
