"""factory-boy factories for what the tests build: users, API keys and entity records.

Users and API keys are made the way the operator's commands and the admin make them, through
``vbaproject.accounts.services``; entity records are written straight through the ORM into a
client database, with audit values from long ago (``OLD``, by ``OLD_USER``) so that a test can
tell them from what a write sets.
"""

import datetime as dt
import functools
import random

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from vbaproject.accounts.services import api_key_create, user_set_databases
from vbaproject.apps import entity_app_labels
from vbaproject.db.routing import using_client_database
from vbaproject.models import ApiKey
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.sample_data import sample_item

PASSWORD = "a-long-test-password"  # every factory user's, unless given
OLD = dt.datetime(2023, 5, 6, 7, 8, 9, tzinfo=dt.UTC)  # the records' entry_Date and update_Date
OLD_USER = "api-user"  # ... and their entry_User and update_User


class UserFactory(factory.django.DjangoModelFactory):
    """A user of the control database; ``databases=[...]`` grants client databases."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def databases(user, create, names, **kwargs):
        if create and names:
            user_set_databases(user, list(names))


class StaffFactory(UserFactory):
    """An active staff user with every entity permission (a superuser needs none)."""

    is_staff = True

    @factory.post_generation
    def entity_permissions(user, create, extracted, **kwargs):
        if create and not user.is_superuser:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label__in=entity_app_labels())
            )


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key made by ``api_key_create``; the key itself, never stored, is on ``.key``."""

    class Meta:
        model = ApiKey

    name = factory.Sequence(lambda n: f"key-{n}")
    databases = factory.LazyFunction(lambda: ["demo", "other"])
    expiry_date = None

    @classmethod
    def _create(cls, model_class, name, databases, expiry_date):
        api_key, key = api_key_create(name, databases, expiry_date)
        api_key.key = key
        return api_key


class RecordFactory(factory.django.DjangoModelFactory):
    """An entity record made straight through the ORM, with ``sample_item`` values.

    ``database`` is the client database (``None``: the one selected where it is called);
    ``rng`` draws the sample values (seeded by the factory's sequence unless given). Given
    values override the sample's; a reference to another entity gets a record of its own.
    """

    class Meta:
        abstract = True

    database = None
    rng = factory.Sequence(lambda n: random.Random(n))
    entry_Date = OLD
    entry_User = OLD_USER
    update_Date = OLD
    update_User = OLD_USER

    @classmethod
    def _create(cls, model_class, database, rng, **values):
        values = {**sample_item(model_class, rng), **values}
        if database is None:
            return model_class.objects.create(**values)
        with using_client_database(database):
            return model_class.objects.create(**values)


@functools.cache
def record_factory(model):
    """The ``RecordFactory`` of the entity ``model``: ``record_factory(Grievance)(database="demo")``."""
    spec = entity_spec(model)
    declarations = {"Meta": type("Meta", (), {"model": model})}
    if not spec.integer_key:  # the server assigns integer keys; others need one
        declarations[spec.key.name] = factory.LazyAttribute(lambda record: f"{record.rng.randrange(10**9)}")
    for field, target in spec.references:
        declarations[field.name] = factory.SubFactory(
            record_factory(target),
            database=factory.SelfAttribute("..database"),
            rng=factory.SelfAttribute("..rng"),
        )
    return type(f"{model.__name__}Factory", (RecordFactory,), declarations)


def make_record(model, database=None, rng=None, **values):
    """A record of ``model`` from its factory: ``make_record(Grievance, "demo", issue="x")``."""
    if rng is not None:
        values["rng"] = rng
    return record_factory(model)(database=database, **values)
