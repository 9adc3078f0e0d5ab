"""Who is calling: the application's API key (``x-api-key``) and the user's bearer ID token.

Every VBAPI route needs both (README, *Authentication*): ``ApiKeyAndIdTokenAuthentication`` is DRF's
default authentication class, ``IsApiCaller`` its default permission. The login route,
``POST /vbasoftware/user-authentication``, takes the key and HTTP Basic credentials instead
(``ApiKeyAndPasswordAuthentication``) and answers an ID token made by ``issue_id_token``.

After authentication ``request.auth`` is the caller's ``vbaproject.models.ApiKey`` and
``request.user`` the Django user, so the audit fields name that user. The tokens themselves are
``vbaproject.accounts.tokens``; ``IsApiCaller`` is in ``vbaproject.accounts.permissions``.

- API keys are stored hashed by djangorestframework-api-key (SHA-512 of a 32-character random
  secret, compared in constant time); only the 8-character prefix is looked up.
- ID tokens are HS256 JWTs bound to the user's password hash and active flag.
- A pair verified once is reused for ``VBA_CREDENTIALS_CACHE_SECONDS`` by this process, until
  anything about it changes (``vbaproject.accounts.credentials``).

Failures raise ``NotAuthenticated`` / ``AuthenticationFailed``; DRF answers them 401 with the
``WWW-Authenticate`` challenge of ``authenticate_header``. Nothing here logs a secret.
"""

import re

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, BasicAuthentication

from vbaproject.accounts import credentials
from vbaproject.accounts.login_limits import LoginLimited, begin_attempt
from vbaproject.accounts.throttling import ApiKeyRateThrottle
from vbaproject.accounts.tokens import IdTokenInvalid, verify_id_token
from vbaproject.models import ApiKey

API_KEY_HEADER = "x-api-key"
REALM = "vbasoftware"

# What djangorestframework-api-key issues: an alphanumeric prefix, a dot, an alphanumeric secret.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}\.[A-Za-z0-9]{1,128}")
_CHALLENGE_ATTRIBUTE = "_vba_auth_challenge"


# --- API keys --------------------------------------------------------------------------------


def authenticate_api_key(request):
    """The usable ``ApiKey`` the request carries in ``x-api-key``; raises 401 otherwise."""
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
        cache_key = epoch = None
        header = request.headers.get(API_KEY_HEADER, "").strip()
        scheme, _, sent_token = request.headers.get("Authorization", "").strip().partition(" ")
        if header and scheme.lower() == "bearer" and sent_token.strip():
            cache_key = credentials.digest(header, sent_token.strip())
            cached, epoch = credentials.lookup(cache_key)
            if cached is not None:
                request.vba_credentials = cached
                return cached.user, cached.api_key
        api_key = authenticate_api_key(request)
        token = _bearer_token(request)
        if token is None:
            raise exceptions.NotAuthenticated(
                "The Authorization header must carry a bearer ID token from user-authentication."
            )
        try:
            user, claims = verify_id_token(token)
        except IdTokenInvalid as exc:
            _challenge(request, f'Bearer realm="{REALM}", error="invalid_token"')
            raise exceptions.AuthenticationFailed(str(exc)) from None
        if epoch is not None:
            request.vba_credentials = credentials.store(cache_key, epoch, user, api_key, claims["exp"])
        return user, api_key

    def authenticate_header(self, request):
        return getattr(request, _CHALLENGE_ATTRIBUTE, f'Bearer realm="{REALM}"')


class _BasicCredentials(BasicAuthentication):
    """DRF's Basic parsing, then ``django.contrib.auth.authenticate()``: the password hasher runs
    even for an unknown username (no timing oracle), and inactive users are refused. Before it,
    the failed-login limits (``vbaproject.accounts.login_limits``): past them, 429 and no hashing."""

    www_authenticate_realm = REALM

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:  # no database stores NUL in a text column
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        try:
            attempt = begin_attempt(request, userid)
        except LoginLimited as limited:
            raise exceptions.Throttled(wait=limited.retry_after, detail=str(limited)) from None
        result = super().authenticate_credentials(userid, password, request)
        attempt.succeeded()
        return result


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
