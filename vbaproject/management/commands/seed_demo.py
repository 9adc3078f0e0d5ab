"""Create the demo superuser, a demo API key and demo records, so every screen shows something.

The API key is shown only when it is created, so each run revokes the previous demo key and
prints a fresh one. Records are written through the batch engine, every entity of the registry
(``vbaproject.apps``) in turn; a record that refers to another entity names one made before it.
"""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from vbaproject.accounts.services import api_key_create, api_keys_revoke
from vbaproject.apps import entity_models
from vbaproject.db.routing import client_database_names, using_client_database
from vbaproject.engine.upsert import upsert_batch
from vbaproject.history.context import writing_as
from vbaproject.history.models import Via
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.sample_data import sample_item

DEMO_KEY_NAME = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


def seed_database(rows, rng):
    """``rows`` sample records of every entity in the selected client database."""
    for model in entity_models():
        references = {
            field.name: list(target._default_manager.values_list("pk", flat=True))
            for field, target in entity_spec(model).references
        }
        items = [
            sample_item(model, rng, **{name: rng.choice(keys) for name, keys in references.items() if keys})
            for _ in range(rows)
        ]
        upsert_batch(model, items, user=DEMO_USERNAME)


class Command(BaseCommand):
    help = "Create the demo superuser and a fresh demo API key; fill empty client databases with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=40, help="records per entity (default 40)")

    def handle(self, *args, rows, **options):
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        for name in client_database_names():
            with using_client_database(name):
                if any(model._default_manager.exists() for model in entity_models()):
                    self.stdout.write(f"{name}: already has data, left alone")
                    continue
                with writing_as(DEMO_USERNAME, Via.COMMAND):
                    seed_database(rows, random.Random(name))
                self.stdout.write(f"{name}: {rows} demo records per entity")
        api_keys_revoke(DEMO_KEY_NAME)
        _, key = api_key_create(DEMO_KEY_NAME, client_database_names())
        first = client_database_names()[0]
        self.stdout.write(self.style.SUCCESS(f"Demo superuser: {DEMO_USERNAME} / {DEMO_PASSWORD}"))
        self.stdout.write(self.style.SUCCESS(f"Demo API key:   {key}"))
        self.stdout.write(
            "Log in to the API:\n"
            f"  curl -s -X POST http://127.0.0.1:8000/vbasoftware/user-authentication "
            f"-H 'x-api-key: {key}' -H 'vbasoftware-database: {first}' -u {DEMO_USERNAME}:{DEMO_PASSWORD}"
        )
