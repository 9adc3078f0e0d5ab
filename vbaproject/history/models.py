"""One row per change of one entity record; written by the database's triggers, never by Python."""

from django.db import models


class Action(models.TextChoices):
    CREATE = "create", "created"
    UPDATE = "update", "changed"
    DELETE = "delete", "deleted"


class Via(models.TextChoices):
    API = "api", "the API"
    ADMIN = "admin", "the admin"
    COMMAND = "command", "a management command"


class Change(models.Model):
    """A change of one record: created, changed (the fields that changed, old and new) or deleted."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(help_text="When the change was written.")
    database = models.CharField(max_length=63, help_text="The client database the record is in.")
    entity = models.CharField(max_length=64, help_text="The entity: Grievance, Auth, CareCase ...")
    record_key = models.CharField(max_length=64, help_text="The record's key, as text.")
    action = models.CharField(max_length=8, choices=Action.choices)
    changes = models.JSONField(
        default=dict,
        help_text=(
            "Field name to [old, new]: the fields an update changed; every field a create set or a "
            "delete removed. The audit fields are not repeated here."
        ),
    )
    username = models.CharField(max_length=150, null=True, blank=True, help_text="Who made the change.")
    api_key = models.CharField(
        max_length=50, null=True, blank=True, help_text="The name of the API key the change came through."
    )
    activity_id = models.CharField(
        max_length=64, null=True, blank=True, help_text="The activity ID of the request that made it."
    )
    via = models.CharField(
        max_length=16, null=True, blank=True, choices=Via.choices, help_text="Through which application."
    )

    class Meta:
        db_table = "vba_history"
        verbose_name = "change"
        verbose_name_plural = "history of changes"
        indexes = [
            models.Index(fields=["entity", "record_key", "-id"], name="vba_history_record"),
            models.Index(fields=["at"], name="vba_history_at"),
        ]

    def __str__(self):
        return f"{self.entity} {self.record_key} {self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"
