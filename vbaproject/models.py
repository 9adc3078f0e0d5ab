"""Control-database models of the shared machinery: which client databases a user may use."""

from django.conf import settings
from django.db import models


class UserDatabase(models.Model):
    """One client database a (non-superuser) user may work on, in the admin and through the API.

    Superusers may use every configured client database without a grant. A grant naming a
    database that is no longer configured is ignored (see ``vbaproject.permissions``).
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
