"""``manage.py create_api_user USERNAME --databases a,b``: create or update an API user."""

import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vbaproject.accounts.services import user_set_databases
from vbaproject.management.commands.create_api_key import database_list

PASSWORD_VARIABLE = "VBA_USER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create or update a user who logs in at POST /vbasoftware/user-authentication, with the "
        f"client databases they may use. The password comes from {PASSWORD_VARIABLE}, else a prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--databases",
            help="comma-separated client databases the user may use (replaces earlier grants); "
            "required unless --superuser",
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="make the user a superuser: every database, and the admin",
        )

    def handle(self, *args, username, databases, superuser, **options):
        if databases is None and not superuser:
            raise CommandError("Give --databases (or --superuser, who may use every database).")
        names = database_list(databases) if databases is not None else None
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        created = user is None
        if created:
            user = User(**{User.USERNAME_FIELD: username})
            try:
                user.full_clean(exclude=["password"])
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
        password = self.password()
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("The password is refused: " + " ".join(exc.messages)) from None
        user.set_password(password)
        if superuser:
            user.is_superuser = user.is_staff = True
        with transaction.atomic():
            user.save()
            if names is not None:
                user_set_databases(user, names)
        allowed = "every database (superuser)" if user.is_superuser else ", ".join(names or []) or "none"
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} user {user.get_username()!r}; client databases: {allowed}.")

    def password(self):
        password = os.environ.get(PASSWORD_VARIABLE)
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError(f"Set {PASSWORD_VARIABLE}, or run the command in a terminal to be prompted.")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("The password is empty.")
        return password
