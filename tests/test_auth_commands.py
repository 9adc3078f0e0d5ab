"""How an operator makes API keys and users: the two commands and the admin, then a real login."""

import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from grievances.models import Grievance
from tests.support.api import ApiClient, id_token_of
from tests.support.entities import batch_url
from tests.support.factories import ApiKeyFactory, UserFactory
from vbaproject.accounts.permissions import databases_for_user
from vbaproject.models import ApiKey, UserDatabase

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])



@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def log_in(client, key, username, password, database="demo"):
    return ApiClient(client, database, {"x-api-key": key}).log_in(username, password)


def put_empty(client, key, token, database="demo"):
    credentials = {"x-api-key": key, "Authorization": f"Bearer {token}"}
    return ApiClient(client, database, credentials).put(batch_url(Grievance), [])


def test_an_operator_makes_a_key_and_a_user_and_the_client_logs_in(client, monkeypatch):
    output = run("create_api_key", "acme integration", "--databases", "demo,other")
    key = output.splitlines()[-1]
    assert key.count(".") == 1 and len(key) == 8 + 1 + 32
    assert "acme integration" in output and "demo, other" in output
    monkeypatch.setenv("VBA_USER_PASSWORD", "care-manager-password-6")
    assert "Created user 'carla'" in run("create_api_user", "carla", "--databases", "demo")
    token = id_token_of(log_in(client, key, "carla", "care-manager-password-6"))
    assert put_empty(client, key, token).status_code == 207
    assert put_empty(client, key, token, database="other").status_code == 403  # carla: demo only
    assert log_in(client, key, "carla", "care-manager-password-6", database="other").status_code == 403


def test_create_api_key_stores_only_a_hash_with_its_databases_and_expiry(settings):
    output = run("create_api_key", "reporting", "--databases", "other", "--expires", "2031-01-31T12:00:00Z")
    key = output.splitlines()[-1]
    api_key = ApiKey.objects.get(name="reporting")
    assert api_key.databases == ["other"]
    assert api_key.expiry_date.isoformat() == "2031-01-31T12:00:00+00:00"
    assert key.startswith(api_key.prefix + ".") and key not in api_key.hashed_key
    assert ApiKey.objects.get_from_key(key) == api_key
    before = timezone.now()
    run("create_api_key", "monthly", "--databases", "demo", "--expires-in-days", "30")
    expiry = ApiKey.objects.get(name="monthly").expiry_date
    assert dt.timedelta(days=30) <= expiry - before < dt.timedelta(days=30, minutes=1)
    run("create_api_key", "zoneless", "--databases", "demo", "--expires", "2031-01-31T12:00")
    assert ApiKey.objects.get(name="zoneless").expiry_date.isoformat() == "2031-01-31T12:00:00+00:00"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--databases", "demo,nope"], "Unknown client database(s): nope"),
        (["--databases", "default"], "Unknown client database(s): default"),
        (["--databases", " , "], "names no database"),
        (["--databases", "demo", "--expires", "soon"], "not an ISO 8601"),
        (["--databases", "demo", "--expires", "2027-02-30T00:00Z"], "not an ISO 8601"),
        (["--databases", "demo", "--expires-in-days", "0"], "must be positive"),
    ],
)
def test_create_api_key_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run("create_api_key", "bad", *args)
    assert not ApiKey.objects.exists()


def test_create_api_key_needs_databases():
    with pytest.raises(CommandError):
        run("create_api_key", "no-databases")


def test_create_api_user_updates_password_and_grants(client, monkeypatch):
    key = ApiKeyFactory(databases=["demo", "other"]).key
    monkeypatch.setenv("VBA_USER_PASSWORD", "first-password-7")
    run("create_api_user", "dana", "--databases", "demo")
    monkeypatch.setenv("VBA_USER_PASSWORD", "second-password-8")
    assert "Updated user 'dana'" in run("create_api_user", "dana", "--databases", "other")
    dana = get_user_model().objects.get(username="dana")
    assert databases_for_user(dana) == ["other"]
    assert list(UserDatabase.objects.filter(user=dana).values_list("database", flat=True)) == ["other"]
    assert log_in(client, key, "dana", "first-password-7", database="other").status_code == 401
    assert log_in(client, key, "dana", "second-password-8", database="other").status_code == 200
    assert log_in(client, key, "dana", "second-password-8", database="demo").status_code == 403


def test_create_api_user_can_make_a_superuser(monkeypatch):
    monkeypatch.setenv("VBA_USER_PASSWORD", "operator-password-9")
    assert "every database" in run("create_api_user", "ops", "--superuser")
    assert databases_for_user(get_user_model().objects.get(username="ops")) == ["demo", "other"]


def test_create_api_user_refuses_bad_input(monkeypatch):
    monkeypatch.setenv("VBA_USER_PASSWORD", "good-password-10")
    with pytest.raises(CommandError, match="Unknown client database"):
        run("create_api_user", "erin", "--databases", "nope")
    with pytest.raises(CommandError, match="--databases"):
        run("create_api_user", "erin")
    with pytest.raises(CommandError):
        run("create_api_user", "bad name!", "--databases", "demo")
    monkeypatch.setenv("VBA_USER_PASSWORD", "12345")
    with pytest.raises(CommandError, match="password is refused"):
        run("create_api_user", "erin", "--databases", "demo")
    monkeypatch.delenv("VBA_USER_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt possible
    with pytest.raises(CommandError, match="VBA_USER_PASSWORD"):
        run("create_api_user", "erin", "--databases", "demo")
    assert not get_user_model().objects.filter(username__in=["erin", "bad name!"]).exists()


def test_the_password_is_never_printed(monkeypatch):
    monkeypatch.setenv("VBA_USER_PASSWORD", "do-not-print-me-11")
    assert "do-not-print-me-11" not in run("create_api_user", "frank", "--databases", "demo")


# The admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_the_admin_creates_a_key_shows_it_once_and_can_revoke_it(admin_client, monkeypatch):
    response = admin_client.post(
        "/admin/vbaproject/apikey/add/",
        {"name": "from the admin", "databases": ["demo"], "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )
    assert response.redirect_chain and response.status_code == 200
    api_key = ApiKey.objects.get(name="from the admin")
    assert api_key.databases == ["demo"]
    shown = re.findall(
        rf"The API key for from the admin is: ({api_key.prefix}\.[A-Za-z0-9]+)\.", response.text
    )
    assert len(shown) == 1
    key = shown[0]
    assert ApiKey.objects.get_from_key(key) == api_key
    # Shown once: it is on no later page.
    for page in ("/admin/vbaproject/apikey/", f"/admin/vbaproject/apikey/{api_key.pk}/change/"):
        later = admin_client.get(page)
        assert later.status_code == 200 and key.partition(".")[2] not in later.text
    # It works, until it is revoked in the admin.
    monkeypatch.setenv("VBA_USER_PASSWORD", "gina-password-13")
    run("create_api_user", "gina", "--databases", "demo")
    token = id_token_of(log_in(admin_client, key, "gina", "gina-password-13"))
    assert put_empty(admin_client, key, token).status_code == 207
    response = admin_client.post(
        f"/admin/vbaproject/apikey/{api_key.pk}/change/",
        {
            "name": "from the admin",
            "databases": ["demo"],
            "expiry_date_0": "",
            "expiry_date_1": "",
            "revoked": "on",
        },
    )
    assert response.status_code == 302, response.content
    assert put_empty(admin_client, key, token).status_code == 401


def test_the_admin_lists_keys_without_their_secret(admin_client):
    key = ApiKeyFactory(name="listed").key
    page = admin_client.get("/admin/vbaproject/apikey/").content.decode()
    assert "listed" in page and key.partition(".")[0] in page
    assert key.partition(".")[2] not in page
