"""The admin site's names, and the users' client-database grants on the User page."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from vbaproject.db.routing import client_database_names
from vbaproject.models import ApiKey, UserDatabase

admin.site.site_header = "VBA administration"
admin.site.site_title = "VBA admin"
admin.site.index_title = "Care cases, grievances, claims and auths"
admin.site.site_url = None  # the site is the admin (and the API): no "View site" link
admin.site.enable_nav_sidebar = False  # the change lists need the width more


class UserDatabaseForm(forms.ModelForm):
    class Meta:
        model = UserDatabase
        fields = ["database"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(name, name) for name in client_database_names()]
        current = self.instance.database if self.instance.pk else None
        if current and current not in dict(choices):
            choices.append((current, f"{current} (no longer configured)"))
        self.fields["database"] = forms.ChoiceField(
            choices=[("", "---------"), *choices],
            help_text=self.fields["database"].help_text,
        )


class UserDatabaseInline(admin.TabularInline):
    model = UserDatabase
    form = UserDatabaseForm
    extra = 0
    verbose_name = "client database"
    verbose_name_plural = "client databases (superusers may use every one)"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class VbaUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserDatabaseInline]


# --- API keys (the x-api-key header; see vbaproject/accounts/authentication.py) -----------------------

if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)  # unused: this project's keys are ApiKey, with their databases


class ApiKeyForm(forms.ModelForm):
    databases = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The client databases this key may be used on.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "databases", "expiry_date", "revoked"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "databases" in self.fields:  # a revoked key's databases are read-only: not a field
            self.fields["databases"].choices = [(name, name) for name in client_database_names()]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """Create (the key is shown once, in a message), name, limit to databases, expire, revoke."""

    form = ApiKeyForm
    list_display = ["prefix", "name", "databases", "created", "expiry_date", "_has_expired", "revoked"]
    list_filter = ["revoked", "created"]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "databases") if obj is not None and obj.revoked else fields
