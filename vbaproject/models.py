"""Control-database models of the shared machinery: which client databases a user may use."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from vbaproject.db.routing import client_database_names


class UserDatabase(models.Model):
    """One client database a (non-superuser) user may work on, in the admin and through the API.

    Superusers may use every configured client database without a grant. A grant naming a
    database that is no longer configured is ignored (see ``vbaproject.accounts.permissions``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="client_databases",
        help_text="The user the database is granted to.",
    )
    database = models.CharField(
        max_length=63,
        help_text="The client database's name: a key of VBA_DATABASES.",
    )

    class Meta:
        verbose_name = "client database grant"
        verbose_name_plural = "client database grants"
        constraints = [
            models.UniqueConstraint(fields=["user", "database"], name="vbaproject_userdatabase_unique"),
        ]

    def __str__(self):
        return f"{self.database} for {self.user}"


def validate_database_names(value):
    """A list of configured client database names (``VBA_DATABASES`` keys)."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Give a list of client database names.")
    configured = client_database_names()
    unknown = [name for name in value if name not in configured]
    if unknown:
        raise ValidationError(
            f"Not configured client databases: {', '.join(unknown)} (configured: {', '.join(configured)})."
        )


class ApiKey(AbstractAPIKey):
    """An application's API key (the ``x-api-key`` header) and the client databases it may use.

    djangorestframework-api-key keeps only a SHA-512 hash of the key and its 8-character
    prefix: the key itself is shown once, when it is created, and never again. A revoked key
    stays revoked; an expired one (``expiry_date``) stops working at that moment.
    """

    databases = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_database_names],
        help_text="The client databases (VBA_DATABASES names) this key may be used on.",
    )

    class Meta(AbstractAPIKey.Meta):
        abstract = False
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def database_names(self):
        """The databases this key may use; names no longer configured are ignored by the caller."""
        return [name for name in self.databases or [] if isinstance(name, str)]
