from vbaproject import apps


class CarecasesConfig(apps.EntityAppConfig):
    name = "carecases"
    verbose_name = "Care management"
