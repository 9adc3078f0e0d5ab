from django.apps import AppConfig


class CarecasesConfig(AppConfig):
    name = "carecases"
    verbose_name = "Care management"
