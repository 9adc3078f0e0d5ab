"""The project's apps, and the one registry of entity apps.

An entity app is a Django app whose ``AppConfig`` is an ``EntityAppConfig``: its models are
entities, served by the API and the admin, stored in every client database. The apps are
listed once, in ``settings.INSTALLED_APPS``; the router, the API's URLs, the OpenAPI document,
the demo data, the benchmark and the tests all ask this registry rather than naming them again.

A ``ClientDatabaseAppConfig`` that is not an entity app (the history of changes) also lives in
every client database, beside the entities it describes, but is not served as an entity.
"""

import functools

from django.apps import AppConfig, apps


class VbaProjectConfig(AppConfig):
    """The shared machinery: database routing, the batch engine, the API, accounts, the admin.

    ``default = True``: this module defines several configs, and without it Django would use a
    plain ``AppConfig`` for ``vbaproject`` and never call ``ready``.
    """

    name = "vbaproject"
    verbose_name = "VBA project"
    default = True

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from vbaproject.accounts.credentials import connect_signals
        from vbaproject.db import limits

        connect_signals()  # a change to an API key, user or grant ends cached credentials at once

        # Every new session of a client database gets its timeouts, except while it is migrated.
        connection_created.connect(limits.apply_session_limits, dispatch_uid="vba_session_limits")
        pre_migrate.connect(limits.lift_limits, dispatch_uid="vba_lift_limits")
        post_migrate.connect(limits.restore_limits, dispatch_uid="vba_restore_limits")


class ClientDatabaseAppConfig(AppConfig):
    """An app whose tables live in every client database, never in the control database."""


class EntityAppConfig(ClientDatabaseAppConfig):
    """The base of every entity app's config. Its ``api`` module declares its routes.

    An entity app imports this module rather than the class, so that its ``apps`` module holds
    one config class and Django picks it without ``default = True``.
    """


@functools.cache
def entity_app_labels():
    """The labels of the installed entity apps (computed once the app registry is ready)."""
    apps.check_apps_ready()
    return frozenset(config.label for config in apps.get_app_configs() if isinstance(config, EntityAppConfig))


def is_entity_app(label):
    return label in entity_app_labels()


@functools.cache
def client_app_labels():
    """The labels of the apps whose tables live in the client databases: entities and their history."""
    apps.check_apps_ready()
    return frozenset(
        config.label for config in apps.get_app_configs() if isinstance(config, ClientDatabaseAppConfig)
    )


def is_client_app(label):
    return label in client_app_labels()


def entity_apps():
    """The entity apps' configs, in ``INSTALLED_APPS`` order."""
    return [config for config in apps.get_app_configs() if isinstance(config, EntityAppConfig)]


def entity_models():
    """The entity models, in app order and, within an app, in declaration order.

    A model that refers to another comes after it (a care case before its clinical trials),
    so filling them in this order never names a record that does not exist yet.
    """
    return [model for config in entity_apps() for model in config.get_models()]
