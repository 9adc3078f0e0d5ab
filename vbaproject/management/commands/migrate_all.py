"""Migrate the control database and every configured client database."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from vbaproject.client_databases import CONTROL_DATABASE, client_database_names


class Command(BaseCommand):
    help = "Run migrate on the control database and on every client database in VBA_DATABASES."

    def handle(self, *args, **options):
        for alias in [CONTROL_DATABASE, *client_database_names()]:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Database {alias}:"))
            call_command("migrate", database=alias, interactive=False, verbosity=options["verbosity"])
