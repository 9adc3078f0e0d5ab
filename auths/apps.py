from vbaproject import apps


class AuthsConfig(apps.EntityAppConfig):
    name = "auths"
    verbose_name = "Authorizations"
