from vbaproject import apps


class GrievancesConfig(apps.EntityAppConfig):
    name = "grievances"
    verbose_name = "Grievances"
