"""Which client databases a user may use: the one rule the admin and the API both apply."""

from vbaproject.client_databases import CONTROL_DATABASE, client_database_names


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
    from vbaproject.models import UserDatabase

    grants = UserDatabase.objects.using(CONTROL_DATABASE).filter(user_id=user.pk)
    granted = set(grants.values_list("database", flat=True))
    return [name for name in names if name in granted]
