"""Who is calling: the application's API key (``x-api-key``) and the user's bearer ID token.

Every VBAPI route needs both (contract §2): ``ApiKeyAndIdTokenAuthentication`` is DRF's
default authentication class, ``IsApiCaller`` its default permission. The login route,
``POST /vbasoftware/user-authentication``, takes the key and HTTP Basic credentials instead
(``ApiKeyAndPasswordAuthentication``) and answers an ID token made by ``issue_id_token``.

After authentication ``request.auth`` is the caller's ``vbaproject.models.ApiKey`` and
``request.user`` the Django user, so the audit fields name that user.

- API keys are stored hashed by djangorestframework-api-key (SHA-512 of a 32-character random
  secret, compared in constant time); only the 8-character prefix is looked up.
- ID tokens are JWTs signed with HS256 under a key derived from ``VBA_JWT_SECRET`` (else
  ``SECRET_KEY``). Decoding pins ``algorithms=["HS256"]``, so ``alg: none`` and every other
  algorithm are refused, and requires ``exp``, ``iat``, ``sub``, ``aud``, ``iss`` and ``pwd``: a
  fingerprint of the user's password hash, so a token stops working when the password changes.
  The user must also still be active.

Failures raise ``NotAuthenticated`` / ``AuthenticationFailed``; DRF answers them 401 with the
``WWW-Authenticate`` challenge of ``authenticate_header``. Nothing here logs a secret.
"""

import hashlib
import hmac
import re
import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.crypto import constant_time_compare
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication
from rest_framework.permissions import BasePermission

from vbaproject.throttling import ApiKeyRateThrottle

API_KEY_HEADER = "x-api-key"
REALM = "vbasoftware"
TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "vbaproject"
TOKEN_AUDIENCE = "vbasoftware"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss", "pwd"]

# What djangorestframework-api-key issues: an alphanumeric prefix, a dot, an alphanumeric secret.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}\.[A-Za-z0-9]{1,128}")
_CHALLENGE_ATTRIBUTE = "_vba_auth_challenge"


class IdTokenInvalid(Exception):
    """The bearer token is malformed, forged, expired, or its user may no longer use it."""


# --- API keys --------------------------------------------------------------------------------


def authenticate_api_key(request):
    """The usable ``ApiKey`` the request carries in ``x-api-key``; raises 401 otherwise."""
    from vbaproject.models import ApiKey

    key = request.headers.get(API_KEY_HEADER, "").strip()
    if not key:
        raise exceptions.NotAuthenticated(f"The {API_KEY_HEADER} header is required: it carries the API key.")
    api_key = None
    if _KEY_SHAPE.fullmatch(key):
        try:
            api_key = ApiKey.objects.get_from_key(key)  # unrevoked, hash compared in constant time
        except ApiKey.DoesNotExist:
            api_key = None
    if api_key is None or api_key.has_expired:
        raise exceptions.AuthenticationFailed(
            f"The API key in {API_KEY_HEADER} is not valid: it is unknown, revoked or expired."
        )
    return api_key


# --- ID tokens -------------------------------------------------------------------------------


def _signing_key():
    """The HS256 key: derived from the configured secret, so it is never SECRET_KEY itself."""
    secret = getattr(settings, "VBA_JWT_SECRET", None) or settings.SECRET_KEY
    digest = hmac.new(secret.encode(), b"vbaproject.authentication.id-token", hashlib.sha256).hexdigest()
    return f"vba-id-token-{digest}"


def password_fingerprint(user):
    """Changes whenever the user's password does (an HMAC of the password hash)."""
    return user.get_session_auth_hash()


def token_lifetime():
    return int(settings.VBA_TOKEN_LIFETIME_SECONDS)


def issue_id_token(user):
    """A signed ID token for ``user`` and its lifetime in seconds."""
    lifetime = token_lifetime()
    now = int(time.time())
    claims = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": str(user.pk),
        "username": user.get_username(),
        "iat": now,
        "exp": now + lifetime,
        "pwd": password_fingerprint(user),
    }
    return jwt.encode(claims, _signing_key(), algorithm=TOKEN_ALGORITHM), lifetime


def user_for_id_token(token):
    """The active user ``token`` was issued to; raises ``IdTokenInvalid`` with the reason."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            issuer=TOKEN_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenInvalid("The ID token has expired; log in again at user-authentication.") from None
    except jwt.InvalidTokenError:
        raise IdTokenInvalid("The ID token is not valid.") from None
    try:
        pk = int(claims["sub"])
    except (TypeError, ValueError):
        raise IdTokenInvalid("The ID token is not valid.") from None
    user = get_user_model()._default_manager.filter(pk=pk).first()
    if user is None or not user.is_active:
        raise IdTokenInvalid("The ID token's user no longer exists or has been deactivated.")
    fingerprint = claims["pwd"]
    if not isinstance(fingerprint, str) or not constant_time_compare(fingerprint, password_fingerprint(user)):
        raise IdTokenInvalid("The ID token is no longer valid: the user's password has changed.")
    return user


def _bearer_token(request):
    """The token of ``Authorization: Bearer <token>``, or None when no bearer token was sent."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token or " " in token:
        raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <idToken>'.")
    return token


# --- DRF classes -----------------------------------------------------------------------------


def _challenge(request, value):
    setattr(request, _CHALLENGE_ATTRIBUTE, value)


class ApiKeyAndIdTokenAuthentication(BaseAuthentication):
    """Every VBAPI route: ``x-api-key`` and ``Authorization: Bearer <idToken>``, both required."""

    def authenticate(self, request):
        _challenge(request, f'Bearer realm="{REALM}"')
        api_key = authenticate_api_key(request)
        token = _bearer_token(request)
        if token is None:
            raise exceptions.NotAuthenticated(
                "The Authorization header must carry a bearer ID token from user-authentication."
            )
        try:
            user = user_for_id_token(token)
        except IdTokenInvalid as exc:
            _challenge(request, f'Bearer realm="{REALM}", error="invalid_token"')
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return user, api_key

    def authenticate_header(self, request):
        return getattr(request, _CHALLENGE_ATTRIBUTE, f'Bearer realm="{REALM}"')


class _BasicCredentials(BasicAuthentication):
    """DRF's Basic parsing, then ``django.contrib.auth.authenticate()``: the password hasher runs
    even for an unknown username (no timing oracle), and inactive users are refused."""

    www_authenticate_realm = REALM

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:  # no database stores NUL in a text column
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        return super().authenticate_credentials(userid, password, request)


class ApiKeyAndPasswordAuthentication(BaseAuthentication):
    """The login route: ``x-api-key`` and ``Authorization: Basic base64(username:password)``."""

    basic = _BasicCredentials()

    def authenticate(self, request):
        api_key = authenticate_api_key(request)
        # Counted before the password is checked: failed guesses use up the key's allowance too.
        throttle = ApiKeyRateThrottle()
        if not throttle.allow_key(api_key.prefix):
            raise exceptions.Throttled(wait=throttle.wait())
        result = self.basic.authenticate(request)
        if result is None:
            raise exceptions.NotAuthenticated(
                "The Authorization header must carry 'Basic base64(username:password)'."
            )
        user, _ = result
        return user, api_key

    def authenticate_header(self, request):
        return self.basic.authenticate_header(request)


class IsApiCaller(BasePermission):
    """Both an API key and an active user were authenticated (authentication raises otherwise)."""

    def has_permission(self, request, view):
        from vbaproject.models import ApiKey

        user = request.user
        return (
            isinstance(request.auth, ApiKey) and user is not None and user.is_authenticated and user.is_active
        )


def caller_databases(request):
    """The client databases both the request's API key and its user may use."""
    from vbaproject.models import ApiKey
    from vbaproject.permissions import databases_for_user

    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        return []
    allowed_for_key = set(api_key.database_names())
    return [name for name in databases_for_user(request.user) if name in allowed_for_key]
