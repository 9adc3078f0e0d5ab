from vbaproject import apps


class ClaimsConfig(apps.EntityAppConfig):
    name = "claims"
    verbose_name = "Claims"
