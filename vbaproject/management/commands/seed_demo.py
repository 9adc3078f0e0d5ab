"""Create the demo superuser, a demo API key and demo records, so every screen shows something.

The API key is shown only when it is created, so each run revokes the previous demo key and
prints a fresh one.
"""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from vbaproject.batch import upsert_batch
from vbaproject.client_databases import client_database_names, using_client_database
from vbaproject.models import ApiKey
from vbaproject.sample_data import sample_item

DEMO_KEY_NAME = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


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
                if CareCase.objects.exists():
                    self.stdout.write(f"{name}: already has data, left alone")
                    continue
                rng = random.Random(name)
                for model in (CareCase, Grievance, ClaimPromptPay, Auth):
                    upsert_batch(model, [sample_item(model, rng) for _ in range(rows)], user=DEMO_USERNAME)
                case_keys = list(CareCase.objects.values_list("pk", flat=True))
                trials = [
                    sample_item(CareCaseClinicalTrial, rng, case_Key=rng.choice(case_keys))
                    for _ in range(rows)
                ]
                upsert_batch(CareCaseClinicalTrial, trials, user=DEMO_USERNAME)
                self.stdout.write(f"{name}: {rows} demo records per entity")
        ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked=False).update(revoked=True)
        _, key = ApiKey.objects.create_key(name=DEMO_KEY_NAME, databases=client_database_names())
        first = client_database_names()[0]
        self.stdout.write(self.style.SUCCESS(f"Demo superuser: {DEMO_USERNAME} / {DEMO_PASSWORD}"))
        self.stdout.write(self.style.SUCCESS(f"Demo API key:   {key}"))
        self.stdout.write(
            "Log in to the API:\n"
            f"  curl -s -X POST http://127.0.0.1:8000/vbasoftware/user-authentication "
            f"-H 'x-api-key: {key}' -H 'vbasoftware-database: {first}' -u {DEMO_USERNAME}:{DEMO_PASSWORD}"
        )
