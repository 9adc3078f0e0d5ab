"""Control-database models of the shared machinery: which client databases a user may use."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
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


class TokenGeneration(models.Model):
    """The generation of a user's ID tokens: every token carries the one current when it was
    issued (its ``gen`` claim), and a token of an older generation is refused.

    Bumped whenever the user's active flag changes (``_end_tokens_on_activation_change``), so a
    deactivated user's tokens stay dead after the user is reactivated: reactivation does not
    revive them. (A password change ends tokens through their ``pwd`` claim.) No row: generation 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="vba_token_generation",
    )
    generation = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "ID token generation"

    def __str__(self):
        return f"{self.user_id}: generation {self.generation}"


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="vba_note_activation_change")
def _note_activation_change(sender, instance, raw=False, using=None, update_fields=None, **kwargs):
    """Before a user is saved: whether its active flag is about to change (one read by key)."""
    instance._vba_activation_changed = False
    if raw or instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        return
    stored = sender._default_manager.using(using).filter(pk=instance.pk).values_list("is_active", flat=True)
    stored = list(stored)
    instance._vba_activation_changed = bool(stored) and stored[0] != instance.is_active


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="vba_end_tokens_on_activation_change")
def _end_tokens_on_activation_change(sender, instance, raw=False, using=None, **kwargs):
    """After a user's active flag changed (either way): a new token generation."""
    if raw or not getattr(instance, "_vba_activation_changed", False):
        return
    instance._vba_activation_changed = False
    generations = TokenGeneration.objects.using(using)
    if not generations.filter(user_id=instance.pk).update(generation=models.F("generation") + 1):
        generations.get_or_create(user_id=instance.pk, defaults={"generation": 1})


# --- The admin's per-user settings and pending imports (vbaproject.timezones, vbaproject.admin.imports) ---


def plan_time_zone():
    """The plan's time zone (``VBA_PLAN_TIME_ZONE``): every user's until they choose another."""
    return settings.VBA_PLAN_TIME_ZONE


class UserProfile(models.Model):
    """A user's own settings for the admin: the time zone dates are shown and entered in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="vba_profile"
    )
    time_zone = models.CharField(
        max_length=64,
        default=plan_time_zone,
        help_text="The time zone the admin shows and reads dates and times in (an IANA name).",
    )

    class Meta:
        verbose_name = "user profile"

    def __str__(self):
        return f"{self.user_id}: {self.time_zone}"


class PendingImport(models.Model):
    """A file uploaded for import, kept between its preview and its apply (``vbaproject.admin.imports``).

    In the control database, so every app host sees it; taken (deleted) by the apply that uses it.
    """

    token = models.CharField(max_length=43, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    database = models.CharField(max_length=63)
    entity = models.CharField(max_length=100, help_text="app_label.model_name")
    file_name = models.CharField(max_length=255)
    time_zone = models.CharField(max_length=64, help_text="The zone its date-times without one are read in.")
    content = models.BinaryField()
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "pending import"

    def __str__(self):
        return f"{self.file_name} for {self.entity} in {self.database}"
