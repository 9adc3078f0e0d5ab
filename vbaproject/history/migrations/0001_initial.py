from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Change",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("at", models.DateTimeField(help_text="When the change was written.")),
                (
                    "database",
                    models.CharField(help_text="The client database the record is in.", max_length=63),
                ),
                (
                    "entity",
                    models.CharField(help_text="The entity: Grievance, Auth, CareCase ...", max_length=64),
                ),
                ("record_key", models.CharField(help_text="The record's key, as text.", max_length=64)),
                (
                    "action",
                    models.CharField(
                        choices=[("create", "created"), ("update", "changed"), ("delete", "deleted")],
                        max_length=8,
                    ),
                ),
                (
                    "changes",
                    models.JSONField(
                        default=dict,
                        help_text=(
                            "Field name to [old, new]: the fields an update changed; every field a create set or a "
                            "delete removed. The audit fields are not repeated here."
                        ),
                    ),
                ),
                (
                    "username",
                    models.CharField(blank=True, help_text="Who made the change.", max_length=150, null=True),
                ),
                (
                    "api_key",
                    models.CharField(
                        blank=True,
                        help_text="The name of the API key the change came through.",
                        max_length=50,
                        null=True,
                    ),
                ),
                (
                    "activity_id",
                    models.CharField(
                        blank=True,
                        help_text="The activity ID of the request that made it.",
                        max_length=64,
                        null=True,
                    ),
                ),
                (
                    "via",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("api", "the API"),
                            ("admin", "the admin"),
                            ("command", "a management command"),
                        ],
                        help_text="Through which application.",
                        max_length=16,
                        null=True,
                    ),
                ),
            ],
            options={
                "verbose_name": "change",
                "verbose_name_plural": "history of changes",
                "db_table": "vba_history",
                "indexes": [
                    models.Index(fields=["entity", "record_key", "-id"], name="vba_history_record"),
                    models.Index(fields=["at"], name="vba_history_at"),
                ],
            },
        ),
    ]
