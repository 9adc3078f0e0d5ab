"""Migrate the control database and every configured client database.

An SQLite database's folder is created first (``var/`` on a fresh clone), so that the demo and
a new client database need nothing made by hand.
"""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from vbaproject.db.config import CONTROL_DATABASE
from vbaproject.db.routing import client_database_names


class Command(BaseCommand):
    help = "Run migrate on the control database and on every client database in VBA_DATABASES."

    def handle(self, *args, **options):
        for alias in [CONTROL_DATABASE, *client_database_names()]:
            database = settings.DATABASES[alias]
            if database["ENGINE"].endswith("sqlite3") and database["NAME"] != ":memory:":
                Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
            self.stdout.write(self.style.MIGRATE_HEADING(f"Database {alias}:"))
            call_command("migrate", database=alias, interactive=False, verbosity=options["verbosity"])
