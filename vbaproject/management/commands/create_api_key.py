"""``manage.py create_api_key NAME --databases a,b``: a new API key, printed once, on the last line."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vbaproject.accounts.services import api_key_create, unknown_databases
from vbaproject.db.routing import client_database_names


def database_list(raw):
    """``"a,b"`` → ``["a", "b"]``, each a configured client database, else a CommandError."""
    names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    unknown = unknown_databases(names)
    if unknown:
        raise CommandError(
            f"Unknown client database(s): {', '.join(unknown)}. Configured (VBA_DATABASES): "
            f"{', '.join(client_database_names())}."
        )
    return names


class Command(BaseCommand):
    help = (
        "Create an API key (the x-api-key header) for the given client databases. The key is "
        "printed alone on the last line of output; only its hash is stored, so it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="a name for the key: who or what uses it (at most 50 characters)")
        parser.add_argument(
            "--databases", required=True, help="comma-separated client databases the key may use"
        )
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument("--expires", help="when the key stops working, ISO 8601 (e.g. 2027-01-31T00:00Z)")
        expiry.add_argument("--expires-in-days", type=int, help="the key stops working after this many days")

    def handle(self, *args, name, databases, expires, expires_in_days, **options):
        names = database_list(databases)
        if not names:
            raise CommandError("--databases names no database: give at least one.")
        expiry_date = None
        if expires_in_days is not None:
            if expires_in_days <= 0:
                raise CommandError("--expires-in-days must be positive.")
            expiry_date = timezone.now() + dt.timedelta(days=expires_in_days)
        elif expires:
            try:
                expiry_date = parse_datetime(expires)
            except ValueError:  # well formed, but no such moment (2027-02-30)
                expiry_date = None
            if expiry_date is None:
                raise CommandError(f"--expires {expires!r} is not an ISO 8601 date-time.")
            if timezone.is_naive(expiry_date):
                expiry_date = timezone.make_aware(expiry_date, dt.UTC)
        try:
            api_key, key = api_key_create(name, names, expiry_date)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            ) from None
        expiry = api_key.expiry_date.isoformat() if api_key.expiry_date else "never"
        self.stdout.write(
            f"Created API key {api_key.name!r} (prefix {api_key.prefix}) for {', '.join(names)}; "
            f"expires: {expiry}."
        )
        self.stdout.write("Store it now: only its hash is kept, it cannot be shown again. The key:")
        self.stdout.write(key)
