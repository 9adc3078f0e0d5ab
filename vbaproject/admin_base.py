"""The ModelAdmin every entity's admin starts from."""

from django.contrib import admin

from vbaproject.entities import entity_spec


class EntityAdmin(admin.ModelAdmin):
    """Audit fields shown read-only and kept by the server, as on the API."""

    def get_readonly_fields(self, request, obj=None):
        audit = [f.name for f in entity_spec(self.model).fields if f.is_audit]
        return [*super().get_readonly_fields(request, obj), *audit]

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        now = timezone.now()
        user = request.user.get_username()
        if not change:
            obj.entry_Date, obj.entry_User = now, user[:20]
        obj.update_Date, obj.update_User = now, user[:20]
        super().save_model(request, obj, form, change)
