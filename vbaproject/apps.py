from django.apps import AppConfig


class VbaProjectConfig(AppConfig):
    """The shared machinery: database routing, key assignment, the batch engine, commands."""

    name = "vbaproject"
    verbose_name = "VBA project"
