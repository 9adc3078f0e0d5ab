"""The history tables: one per entity table, a copy of its row per change, written by triggers.

``<entity table>_history`` holds, for every create, update and delete of a row, the row as it
became (as it was, for a delete) and who, when and how. A copy of the row rather than a computed
difference keeps the triggers a plain ``INSERT ... SELECT`` (history costs the batch engine
little: README, *Performance*); what changed is read off two consecutive copies
(``vbaproject.history.selectors``). The tables are declared here from the entity models, so a
field added to an entity reaches its history table through ``makemigrations``.

``Change`` is the ``vba_history`` view over every history table: the trail of a whole database,
for browsing.
"""

from importlib import import_module

from django.apps import apps
from django.db import models

from vbaproject.apps import EntityAppConfig


class Action(models.TextChoices):
    CREATE = "create", "created"
    UPDATE = "update", "changed"
    DELETE = "delete", "deleted"


class Via(models.TextChoices):
    API = "api", "the API"
    ADMIN = "admin", "the admin"
    COMMAND = "command", "a management command"


class HistoryEntry(models.Model):
    """Who, when and how; the subclass adds the entity's fields, holding the row's values."""

    history_id = models.BigAutoField(primary_key=True)
    history_at = models.DateTimeField(help_text="When the change was written.")
    history_action = models.CharField(max_length=8, choices=Action.choices)
    history_database = models.CharField(max_length=63, help_text="The client database.")
    history_user = models.CharField(max_length=150, null=True, blank=True, help_text="Who made the change.")
    history_api_key = models.CharField(
        max_length=50, null=True, blank=True, help_text="The name of the API key it came through."
    )
    history_activity_id = models.CharField(
        max_length=64, null=True, blank=True, help_text="The activity ID of the request that made it."
    )
    history_via = models.CharField(
        max_length=16, null=True, blank=True, choices=Via.choices, help_text="Through which application."
    )

    class Meta:
        abstract = True


_DROPPED = ("primary_key", "unique", "db_index", "default", "db_default", "editable", "validators")


def _copy(field):
    """A nullable, unconstrained column of the same name and type as the entity's ``field``."""
    if field.is_relation:  # the key it refers to, as a plain integer: history outlives the record
        return models.IntegerField(null=True, blank=True, db_column=field.column, help_text=field.help_text)
    _, _, args, kwargs = field.deconstruct()
    kwargs = {k: v for k, v in kwargs.items() if k not in _DROPPED}
    kwargs.update(null=True, blank=True, db_column=field.column)
    if isinstance(field, models.AutoField):
        return models.IntegerField(**kwargs)
    return type(field)(*args, **kwargs)


def _history_model(model):
    key = model._meta.pk
    meta = type(
        "Meta",
        (),
        {
            "db_table": f"{model._meta.db_table}_history",
            "verbose_name": f"{model._meta.verbose_name} history",
            "verbose_name_plural": f"{model._meta.verbose_name} history",
            "indexes": [
                models.Index(
                    fields=[key.name, "-history_id"], name=f"hist_{model._meta.model_name[:18]}_key"
                ),
                models.Index(fields=["history_at"], name=f"hist_{model._meta.model_name[:18]}_at"),
            ],
        },
    )
    fields = {f.name: _copy(f) for f in model._meta.concrete_fields}
    attrs = {"__module__": __name__, "Meta": meta, "entity": model, **fields}
    return type(f"{model.__name__}History", (HistoryEntry,), attrs)


def _entity_models():
    """The entity models, read off the entity apps' models modules (the registry is not ready yet:
    this module is imported while Django loads the models, after the entity apps')."""
    found = []
    for config in apps.get_app_configs():
        if isinstance(config, EntityAppConfig):
            module = import_module(f"{config.name}.models")
            found += [
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, models.Model)
                and value._meta.app_label == config.label
                and not value._meta.abstract
            ]
    return found


HISTORY_MODELS = {model: _history_model(model) for model in _entity_models()}
globals().update({history.__name__: history for history in HISTORY_MODELS.values()})


def history_model(model):
    """The history model of the entity ``model``."""
    return HISTORY_MODELS[model]


class Change(models.Model):
    """One change of any record of the database: the ``vba_history`` view over the history tables."""

    id = models.CharField(primary_key=True, max_length=80)  # "<entity>:<history_id>"
    entity = models.CharField(max_length=64)
    history_id = models.BigIntegerField()
    record_key = models.CharField(max_length=64)
    at = models.DateTimeField()
    action = models.CharField(max_length=8, choices=Action.choices)
    database = models.CharField(max_length=63)
    username = models.CharField(max_length=150, null=True)
    api_key = models.CharField(max_length=50, null=True)
    activity_id = models.CharField(max_length=64, null=True)
    via = models.CharField(max_length=16, null=True, choices=Via.choices)

    class Meta:
        managed = False
        db_table = "vba_history"
        verbose_name = "change"
        verbose_name_plural = "history of changes"

    def __str__(self):
        return f"{self.entity} {self.record_key} {self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"
