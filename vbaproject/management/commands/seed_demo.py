"""Create the demo superuser and demo records, so that every admin screen shows something."""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from vbaproject.batch import upsert_batch
from vbaproject.client_databases import client_database_names, using_client_database
from vbaproject.sample_data import sample_item

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create the demo superuser and fill empty client databases with demo records."

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
        self.stdout.write(self.style.SUCCESS(f"Demo superuser: {DEMO_USERNAME} / {DEMO_PASSWORD}"))
