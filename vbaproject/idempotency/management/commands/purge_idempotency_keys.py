"""Delete expired Idempotency-Key records from every client database.

A key is remembered for ``VBA_IDEMPOTENCY_TTL`` seconds; past that a retry runs anew whether
or not its record is still there, so the records are only space. Run this daily (cron, or a
systemd timer: README, *For API consumers*).
"""

from django.core.management.base import BaseCommand

from vbaproject.db.routing import client_database_names
from vbaproject.idempotency.services import purge_expired


class Command(BaseCommand):
    help = "Delete expired Idempotency-Key records (VBA_IDEMPOTENCY_TTL) from every client database."

    def add_arguments(self, parser):
        parser.add_argument("--database", action="append", help="only this client database (repeatable)")

    def handle(self, *args, **options):
        for database in options["database"] or client_database_names():
            deleted = purge_expired(database)
            self.stdout.write(f"{database}: {deleted} expired Idempotency-Key record(s) deleted")
