"""Which client databases a caller may use: the one rule the admin and the API both apply,
and DRF's permission that every API route requires."""

from rest_framework.permissions import BasePermission

from vbaproject.db.config import CONTROL_DATABASE
from vbaproject.db.routing import client_database_names
from vbaproject.models import ApiKey, UserDatabase


def databases_for_user(user) -> list[str]:
    """The configured client databases ``user`` may use, in configuration order.

    Superusers may use every one; other active users those granted to them
    (``vbaproject.models.UserDatabase``); anonymous and inactive users none. Grants of
    databases no longer configured are ignored.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    names = client_database_names()
    if user.is_superuser:
        return names
    grants = UserDatabase.objects.using(CONTROL_DATABASE).filter(user_id=user.pk)
    granted = set(grants.values_list("database", flat=True))
    return [name for name in names if name in granted]


class IsApiCaller(BasePermission):
    """Both an API key and an active user were authenticated (authentication raises otherwise)."""

    def has_permission(self, request, view):
        user = request.user
        return (
            isinstance(request.auth, ApiKey) and user is not None and user.is_authenticated and user.is_active
        )


def caller_databases(request):
    """The client databases both the request's API key and its user may use (kept with the
    request's cached credentials, ``vbaproject.accounts.credentials``, while they last)."""
    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        return []
    cached = getattr(request, "vba_credentials", None)
    if cached is not None and cached.databases is not None:
        return cached.databases
    allowed_for_key = set(api_key.database_names())
    databases = [name for name in databases_for_user(request.user) if name in allowed_for_key]
    if cached is not None:
        cached.databases = databases
    return databases
