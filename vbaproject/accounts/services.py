"""Writes to the control database's accounts: API keys and users' client-database grants.

The management commands and the admin call these; nothing else creates keys or grants.
"""

from django.db import transaction

from vbaproject.accounts.credentials import credentials_changed
from vbaproject.db.routing import client_database_names
from vbaproject.models import ApiKey, UserDatabase


def unknown_databases(names):
    """The names in ``names`` that are not configured client databases."""
    configured = client_database_names()
    return [name for name in names if name not in configured]


def user_set_databases(user, names):
    """Grant ``user`` exactly the client databases ``names`` (``vbaproject.models.UserDatabase``)."""
    with transaction.atomic():
        UserDatabase.objects.filter(user=user).exclude(database__in=names).delete()
        granted = set(UserDatabase.objects.filter(user=user).values_list("database", flat=True))
        UserDatabase.objects.bulk_create(
            UserDatabase(user=user, database=name) for name in names if name not in granted
        )
        credentials_changed()  # bulk_create sends no signal


def api_key_create(name, databases, expiry_date=None):
    """A new API key for ``databases``: ``(api_key, key)``; the key itself is never stored.

    Raises ``ValidationError`` when the name, the databases or the expiry are not acceptable.
    """
    api_key = ApiKey(name=name, databases=list(databases), expiry_date=expiry_date)
    api_key.full_clean(exclude=["id", "prefix", "hashed_key"])
    key = ApiKey.objects.assign_key(api_key)
    api_key.save()
    return api_key, key


def api_keys_revoke(name):
    """Revoke every unrevoked API key named ``name``; how many."""
    revoked = ApiKey.objects.filter(name=name, revoked=False).update(revoked=True)
    credentials_changed()  # an update sends no signal: end the cached credentials here
    return revoked
