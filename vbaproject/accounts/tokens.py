"""ID tokens: what ``POST /vbasoftware/user-authentication`` issues and every other route checks.

They are JWTs signed with HS256 under a key derived from ``VBA_JWT_SECRET`` (else
``SECRET_KEY``). Decoding pins ``algorithms=["HS256"]``, so ``alg: none`` and every other
algorithm are refused, and requires ``exp``, ``iat``, ``sub``, ``aud``, ``iss`` and ``pwd``: a
fingerprint of the user's password hash, so a token stops working when the password changes.
The user must also still be active (README, *Authentication*), and the token's ``gen`` claim
must be the user's current token generation (``vbaproject.models.TokenGeneration``), which
changes whenever the user is deactivated or reactivated: deactivation ends a user's tokens for
good, not only while the user is inactive. (Tokens without ``gen``, issued before generations
existed, count as generation 0, which is every user's until their active flag first changes.)
"""

import hashlib
import hmac
import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils.crypto import constant_time_compare

from vbaproject.models import TokenGeneration

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "vbaproject"
TOKEN_AUDIENCE = "vbasoftware"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss", "pwd"]


class IdTokenInvalid(Exception):
    """The bearer token is malformed, forged, expired, or its user may no longer use it."""


def signing_key():
    """The HS256 key: derived from the configured secret, so it is never SECRET_KEY itself."""
    secret = getattr(settings, "VBA_JWT_SECRET", None) or settings.SECRET_KEY
    digest = hmac.new(secret.encode(), b"vbaproject.authentication.id-token", hashlib.sha256).hexdigest()
    return f"vba-id-token-{digest}"


def password_fingerprint(user):
    """Changes whenever the user's password does (an HMAC of the password hash)."""
    return user.get_session_auth_hash()


def token_generation(user):
    """The user's current token generation (0 until their active flag first changes)."""
    try:
        return user.vba_token_generation.generation
    except ObjectDoesNotExist:
        return 0


def _stored_generation(user):
    generations = TokenGeneration.objects.filter(user_id=user.pk).values_list("generation", flat=True)
    return generations.first() or 0


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
        "gen": _stored_generation(user),
    }
    return jwt.encode(claims, signing_key(), algorithm=TOKEN_ALGORITHM), lifetime


def user_for_id_token(token):
    """The active user ``token`` was issued to; raises ``IdTokenInvalid`` with the reason."""
    return verify_id_token(token)[0]


def verify_id_token(token):
    """``(user, claims)`` of a valid ``token``; raises ``IdTokenInvalid`` with the reason."""
    try:
        claims = jwt.decode(
            token,
            signing_key(),
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
    user = get_user_model()._default_manager.select_related("vba_token_generation").filter(pk=pk).first()
    if user is None or not user.is_active or claims.get("gen", 0) != token_generation(user):
        raise IdTokenInvalid("The ID token's user no longer exists or has been deactivated.")
    fingerprint = claims["pwd"]
    if not isinstance(fingerprint, str) or not constant_time_compare(fingerprint, password_fingerprint(user)):
        raise IdTokenInvalid("The ID token is no longer valid: the user's password has changed.")
    return user, claims
