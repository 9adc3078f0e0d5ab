"""Authentication and per-database authorization over real HTTP (README, *Authentication*).

Every VBAPI route needs an API key (``x-api-key``) and a user's bearer ID token from
``POST /vbasoftware/user-authentication``; the database in ``vbasoftware-database`` must be
allowed for both. The ``api`` fixture (tests/conftest.py) logs in for real; these tests take
its credentials apart.
"""

import base64
import datetime as dt
import json
import logging

import jwt
import pytest
import time_machine
from django.conf import settings

from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.api import LOGIN_ROUTE, id_token_of
from tests.support.entities import batch_url
from tests.support.factories import ApiKeyFactory, UserFactory
from vbaproject.accounts.services import user_set_databases
from vbaproject.accounts.tokens import signing_key
from vbaproject.db.routing import using_client_database
from vbaproject.models import ApiKey
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = batch_url(Grievance)
BEARER_CHALLENGE = 'Bearer realm="vbasoftware"'
INVALID_TOKEN_CHALLENGE = 'Bearer realm="vbasoftware", error="invalid_token"'
BASIC_CHALLENGE = 'Basic realm="vbasoftware"'
OTHER_PASSWORD = "another-password-2"  # the users the tests make besides api.user


def unauthorized(response, challenge=BEARER_CHALLENGE):
    error = problem_of(response, 401)
    assert response["WWW-Authenticate"] == challenge
    return error


def put_empty(api, **kwargs):
    return api.put(BATCH, [], **kwargs)


def bearer(api, token):
    api.credentials["Authorization"] = f"Bearer {token}"


def claims_of(token):
    return jwt.decode(token, signing_key(), algorithms=["HS256"], audience="vbasoftware")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade_token(header, claims, signature=b"not-a-signature"):
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64url(p) for p in parts), b64url(signature)])


# Logging in ---------------------------------------------------------------------------------


def test_login_answers_a_bearer_id_token_in_the_envelope(api):
    response = api.log_in(api.username, api.password)
    result = data_of(response, 200)["authenticationResult"]
    assert set(result) == {"idToken", "expiresIn", "tokenType"}
    assert result["tokenType"] == "Bearer" and result["expiresIn"] == 86400
    assert response["Cache-Control"] == "no-store"
    claims = claims_of(result["idToken"])
    assert claims["sub"] == str(api.user.pk)
    assert claims["exp"] - claims["iat"] == 86400
    # The token, with the key, opens every other route.
    bearer(api, result["idToken"])
    assert put_empty(api).status_code == 207


def test_the_token_lifetime_is_configurable(api, settings):
    settings.VBA_TOKEN_LIFETIME_SECONDS = 90
    response = api.log_in(api.username, api.password)
    assert data_of(response, 200)["authenticationResult"]["expiresIn"] == 90
    claims = claims_of(id_token_of(response))
    assert claims["exp"] - claims["iat"] == 90


def test_the_vba_client_headers_may_be_sent_to_login(api):
    response = api.client.post(
        LOGIN_ROUTE,
        headers={
            "x-api-key": api.key,
            "Authorization": "Basic " + base64.b64encode(f"{api.username}:{api.password}".encode()).decode(),
            "vbasoftware-database": "demo",
            "vbasoftware-client-id": "some-client",
            "vbasoftware-client-code": "some-code",
        },
    )
    assert response.status_code == 200


def test_the_user_is_the_one_recorded_in_the_audit_fields(api):
    UserFactory(username="grievance-clerk", password=OTHER_PASSWORD, databases=["demo"])
    bearer(api, id_token_of(api.log_in("grievance-clerk", OTHER_PASSWORD)))
    (result,) = data_of(api.put(BATCH, [sample_item(Grievance)]), 207)
    key = result["id"][0]["value"]
    with using_client_database("demo"):
        row = Grievance.objects.get(pk=key)
    assert (row.entry_User, row.update_User) == ("grievance-clerk", "grievance-clerk")


def basic(value):
    return "Basic " + base64.b64encode(value.encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        basic("api-user:wrong-password"),
        basic("nobody:a-test-password-1"),
        basic("api-user"),  # no colon
        basic(":"),
        "Basic",
        "Basic not*base64",
        "Basic YQ",
        basic("api-user\x00:a-test-password-1"),
        "Basic a b",
    ],
    ids=[
        "wrong-password",
        "unknown-user",
        "no-colon",
        "empty",
        "no-credentials",
        "not-base64",
        "bad-padding",
        "nul",
        "spaces",
    ],
)
def test_wrong_or_malformed_basic_credentials_are_401_with_a_basic_challenge(api, authorization):
    response = api.client.post(
        LOGIN_ROUTE,
        headers={"x-api-key": api.key, "Authorization": authorization, "vbasoftware-database": "demo"},
    )
    unauthorized(response, BASIC_CHALLENGE)


@pytest.mark.parametrize("authorization", [None, "Bearer abc.def.ghi", "Digest username=api-user"])
def test_login_without_basic_credentials_is_401_with_a_basic_challenge(api, authorization):
    headers = {"x-api-key": api.key, "vbasoftware-database": "demo"}
    if authorization:
        headers["Authorization"] = authorization
    unauthorized(api.client.post(LOGIN_ROUTE, headers=headers), BASIC_CHALLENGE)


def test_an_inactive_user_cannot_log_in(api):
    api.user.is_active = False
    api.user.save()
    unauthorized(api.log_in(api.username, api.password), BASIC_CHALLENGE)


def test_login_needs_a_valid_api_key(api):
    error = unauthorized(api.log_in(api.username, api.password, key=None), BASIC_CHALLENGE)
    assert "x-api-key" in error["detail"]
    unauthorized(api.log_in(api.username, api.password, key="AbCd1234.not-the-key"), BASIC_CHALLENGE)
    api.api_key.revoked = True
    api.api_key.save()
    unauthorized(api.log_in(api.username, api.password), BASIC_CHALLENGE)


def test_login_needs_the_database_header(api):
    problem_of(api.log_in(api.username, api.password, database=None), 400)


def test_login_to_a_database_the_key_or_the_user_may_not_use_is_403(api):
    api.api_key.databases = ["demo"]
    api.api_key.save()
    UserFactory(username="demo-only", password=OTHER_PASSWORD, databases=["demo"])
    UserFactory(username="other-only", password=OTHER_PASSWORD, databases=["other"])
    assert api.log_in(api.username, api.password, database="demo").status_code == 200
    problem_of(api.log_in(api.username, api.password, database="other"), 403)  # the key may not
    problem_of(api.log_in("other-only", OTHER_PASSWORD, database="demo"), 403)  # the user may not
    problem_of(api.log_in("demo-only", OTHER_PASSWORD, database="nope"), 403)  # not configured


def test_a_superuser_may_use_every_database_the_key_allows(api):
    UserFactory(username="root", password="root-password-3", is_staff=True, is_superuser=True)
    for database in ("demo", "other"):
        bearer(api, id_token_of(api.log_in("root", "root-password-3", database=database)))
        assert put_empty(api, database=database).status_code == 207
    api.api_key.databases = ["other"]
    api.api_key.save()
    problem_of(api.log_in("root", "root-password-3", database="demo"), 403)
    problem_of(put_empty(api, database="demo"), 403)


def test_only_post_logs_in(api):
    response = api.client.get(
        LOGIN_ROUTE,
        headers={
            "x-api-key": api.key,
            "Authorization": basic(f"{api.username}:{api.password}"),
            "vbasoftware-database": "demo",
        },
    )
    problem_of(response, 405)


# The API key on every route -----------------------------------------------------------------


def test_missing_api_key_is_401(api):
    del api.credentials["x-api-key"]
    error = unauthorized(put_empty(api))
    assert "x-api-key" in error["detail"]


@pytest.mark.parametrize(
    "key",
    ["AbCd1234.NotTheSecretAtAllXXXXXXXXXXXXXXXX", "no-dot", "x" * 5000, ".", "a.b.c", "é.é", "key\x7f.x"],
)
def test_a_wrong_api_key_is_401(api, key):
    api.credentials["x-api-key"] = key
    unauthorized(put_empty(api))


def test_the_right_prefix_with_the_wrong_secret_is_401(api):
    prefix = api.key.partition(".")[0]
    api.credentials["x-api-key"] = f"{prefix}.{'A' * 32}"
    unauthorized(put_empty(api))


def test_a_revoked_api_key_is_401(api):
    assert put_empty(api).status_code == 207
    api.api_key.revoked = True
    api.api_key.save()
    error = unauthorized(put_empty(api))
    assert "revoked" in error["detail"]


def test_an_api_key_stops_working_when_it_expires(api):
    start = dt.datetime.now(dt.UTC)
    api.api_key.expiry_date = start + dt.timedelta(hours=1)
    api.api_key.save()
    with time_machine.travel(start, tick=False) as clock:
        assert put_empty(api).status_code == 207
        clock.shift(dt.timedelta(minutes=59, seconds=59))
        assert put_empty(api).status_code == 207
        clock.shift(dt.timedelta(seconds=2))
        error = unauthorized(put_empty(api))
        assert "expired" in error["detail"]


def test_api_keys_are_stored_hashed(api):
    row = ApiKey.objects.filter(pk=api.api_key.pk).values().get()
    assert api.key not in json.dumps(row, default=str)
    secret = api.key.partition(".")[2]
    assert all(secret not in str(value) for value in row.values())
    assert row["hashed_key"].startswith("sha512$$")


# The bearer ID token on every route ---------------------------------------------------------


def test_missing_token_is_401_with_a_bearer_challenge(api):
    del api.credentials["Authorization"]
    error = unauthorized(put_empty(api), BEARER_CHALLENGE)
    assert "bearer" in error["detail"].lower()


def test_basic_credentials_do_not_replace_the_token(api):
    api.credentials["Authorization"] = basic(f"{api.username}:{api.password}")
    unauthorized(put_empty(api), BEARER_CHALLENGE)


def test_a_token_without_a_key_is_401(api):
    del api.credentials["x-api-key"]
    unauthorized(put_empty(api))


def forged_tokens(api):
    """Tokens a caller might try: malformed, unsigned, signed with the wrong key or algorithm."""
    good = claims_of(api.id_token)
    key = signing_key()
    yield "garbage", "not-a-jwt"
    yield "three-dots", "a.b.c"
    yield "truncated", api.id_token[:-5]
    yield (
        "tampered-payload",
        api.id_token.split(".")[0]
        + "."
        + b64url(json.dumps({**good, "sub": "999999"}).encode())
        + "."
        + api.id_token.split(".")[2],
    )
    yield "alg-none", jwt.encode(good, None, algorithm="none")
    yield "alg-none-handmade", handmade_token({"alg": "none", "typ": "JWT"}, good, b"")
    yield "alg-None-capitalised", handmade_token({"alg": "None", "typ": "JWT"}, good, b"")
    yield "hs512-same-key", jwt.encode(good, key, algorithm="HS512")
    yield "hs384-same-key", jwt.encode(good, key, algorithm="HS384")
    yield "rs256-header", handmade_token({"alg": "RS256", "typ": "JWT"}, good)
    yield "wrong-secret", jwt.encode(good, "x" * 64, algorithm="HS256")
    yield "raw-secret-key", jwt.encode(good, settings.SECRET_KEY, algorithm="HS256")
    yield "wrong-audience", jwt.encode({**good, "aud": "elsewhere"}, key, algorithm="HS256")
    yield "no-password-fingerprint", jwt.encode({k: v for k, v in good.items() if k != "pwd"}, key)
    yield "wrong-password-fingerprint", jwt.encode({**good, "pwd": "0" * 64}, key, algorithm="HS256")
    yield "no-expiry", jwt.encode({k: v for k, v in good.items() if k != "exp"}, key, algorithm="HS256")
    yield "non-numeric-subject", jwt.encode({**good, "sub": "root"}, key, algorithm="HS256")
    yield "unknown-subject", jwt.encode({**good, "sub": "999999"}, key, algorithm="HS256")


def test_malformed_and_forged_tokens_are_401_invalid_token(api):
    seen = 0
    for name, token in forged_tokens(api):
        bearer(api, token)
        response = put_empty(api)
        assert response.status_code == 401, name
        unauthorized(response, INVALID_TOKEN_CHALLENGE)
        seen += 1
    assert seen == 18


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Bearer a b", "bearer  "])
def test_an_empty_or_split_bearer_token_is_401(api, authorization):
    api.credentials["Authorization"] = authorization
    unauthorized(put_empty(api))


def test_the_bearer_scheme_is_case_insensitive(api):
    api.credentials["Authorization"] = f"bearer {api.id_token}"
    assert put_empty(api).status_code == 207


def test_an_id_token_expires_after_its_lifetime(api):
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        bearer(api, id_token_of(api.log_in(api.username, api.password)))
        assert put_empty(api).status_code == 207
        clock.shift(dt.timedelta(hours=23, minutes=59, seconds=59))
        assert put_empty(api).status_code == 207
        clock.shift(dt.timedelta(seconds=2))
        error = unauthorized(put_empty(api), INVALID_TOKEN_CHALLENGE)
        assert "expired" in error["detail"]
        # Logging in again gives a fresh one.
        bearer(api, id_token_of(api.log_in(api.username, api.password)))
        assert put_empty(api).status_code == 207


def test_a_token_issued_in_the_future_is_refused(api):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), tick=False):
        future = id_token_of(api.log_in(api.username, api.password))
    bearer(api, future)
    unauthorized(put_empty(api), INVALID_TOKEN_CHALLENGE)


def test_a_token_stops_working_when_the_user_is_deactivated(api):
    assert put_empty(api).status_code == 207
    api.user.is_active = False
    api.user.save()
    error = unauthorized(put_empty(api), INVALID_TOKEN_CHALLENGE)
    assert "deactivated" in error["detail"]


def test_a_token_stops_working_when_the_password_changes(api):
    api.user.set_password("a-new-password-4")
    api.user.save()
    error = unauthorized(put_empty(api), INVALID_TOKEN_CHALLENGE)
    assert "password" in error["detail"]
    bearer(api, id_token_of(api.log_in(api.username, "a-new-password-4")))
    assert put_empty(api).status_code == 207


def test_a_token_stops_working_when_the_user_is_deleted(api):
    api.user.delete()
    unauthorized(put_empty(api), INVALID_TOKEN_CHALLENGE)


def test_a_token_works_with_any_valid_key_of_the_application(api):
    # The token is the user's; the key is the application's. Either may be swapped.
    api.credentials["x-api-key"] = ApiKeyFactory(name="second", databases=["demo"]).key
    assert put_empty(api).status_code == 207


# Which databases ----------------------------------------------------------------------------


def forbidden_detail(response):
    error = problem_of(response, 403)
    return error["type"], error["title"], error["detail"]


def test_a_database_the_key_may_not_use_is_403_like_an_unknown_one(api):
    api.api_key.databases = ["demo"]
    api.api_key.save()
    assert put_empty(api, database="demo").status_code == 207
    not_for_key = forbidden_detail(put_empty(api, database="other"))
    assert not_for_key == forbidden_detail(put_empty(api, database="nope"))
    assert not_for_key == forbidden_detail(put_empty(api, database="default"))


def test_a_database_the_user_may_not_use_is_403_like_an_unknown_one(api):
    user_set_databases(api.user, ["other"])
    assert put_empty(api, database="other").status_code == 207
    not_for_user = forbidden_detail(put_empty(api, database="demo"))
    assert not_for_user == forbidden_detail(put_empty(api, database="nope"))


def test_a_user_without_grants_may_use_no_database(api):
    user_set_databases(api.user, [])
    for database in ("demo", "other"):
        problem_of(put_empty(api, database=database), 403)


def test_grants_are_checked_on_every_request_not_baked_into_the_token(api):
    assert put_empty(api, database="other").status_code == 207
    user_set_databases(api.user, ["demo"])
    problem_of(put_empty(api, database="other"), 403)
    api.api_key.databases = ["other"]
    api.api_key.save()
    problem_of(put_empty(api, database="demo"), 403)


def test_a_key_naming_a_database_no_longer_configured_is_harmless(api):
    api.api_key.databases = ["demo", "retired"]
    api.api_key.save()
    assert put_empty(api, database="demo").status_code == 207
    problem_of(put_empty(api, database="retired"), 403)


def test_allow_database_opens_a_newly_configured_database(api, offline_database):
    # A configured database that cannot be reached: 403 until allowed, then the request gets
    # through authorization to the database (503).
    problem_of(api.put(BATCH, [sample_item(Grievance)], database=offline_database), 403)
    api.allow_database(offline_database)
    assert offline_database in ApiKey.objects.get(pk=api.api_key.pk).databases
    problem_of(api.put(BATCH, [sample_item(Grievance)], database=offline_database), 503)


# Secrets stay out of the logs ---------------------------------------------------------------


def test_no_key_password_or_token_is_logged(api, caplog):
    with caplog.at_level(logging.DEBUG):
        api.log_in(api.username, api.password)
        api.log_in(api.username, "wrong-password")
        put_empty(api)
        bearer(api, api.id_token + "x")
        put_empty(api)
        api.credentials["x-api-key"] = api.key + "x"
        put_empty(api)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Unauthorized" in text  # the log did see the failures
    for secret in (api.key, api.key.partition(".")[2], api.password, api.id_token):
        assert secret not in text
