"""``migrate_all`` builds the control database and every client database from nothing."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from tests.support.entities import ENTITY_TABLES

ROOT = Path(__file__).resolve().parent.parent


def run_migrate_all(database_url, client_urls):
    env = {**os.environ, "DATABASE_URL": database_url, "VBA_DATABASES": json.dumps(client_urls)}
    return subprocess.run(
        [sys.executable, "manage.py", "migrate_all", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_migrate_all_on_sqlite(tmp_path):
    import sqlite3

    urls = {name: f"sqlite:///{tmp_path / name}.sqlite3" for name in ["north", "south"]}
    run_migrate_all(f"sqlite:///{tmp_path / 'control.sqlite3'}", urls)
    for name in ["control", "north", "south"]:
        with sqlite3.connect(tmp_path / f"{name}.sqlite3") as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if name == "control":
            assert "auth_user" in tables and not tables & ENTITY_TABLES
        else:
            assert tables >= ENTITY_TABLES and "auth_user" not in tables


@pytest.mark.postgres
@pytest.mark.django_db(databases=["demo"])
def test_migrate_all_on_postgres():
    settings = connections["demo"].settings_dict
    server = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/"
    names = [f"vba_migrate_{uuid.uuid4().hex[:8]}_{n}" for n in ["control", "north", "south"]]
    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            run_migrate_all(server + names[0], {"north": server + names[1], "south": server + names[2]})
            for name in names:
                with psycopg.connect(server + name) as db:
                    tables = {
                        r[0]
                        for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    }
                    triggers = {
                        r[0] for r in db.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                    }
                if name.endswith("control"):
                    assert "auth_user" in tables and not tables & ENTITY_TABLES
                else:
                    assert tables >= ENTITY_TABLES and "auth_user" not in tables
                    assert "grievances_grievance_keep_key_sequence_ahead" in triggers
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
