"""``POST /vbasoftware/user-authentication``: an API key and a user's password in, an ID token out."""

from django.urls import path

from vbaproject.accounts.authentication import ApiKeyAndPasswordAuthentication
from vbaproject.accounts.permissions import IsApiCaller
from vbaproject.accounts.tokens import issue_id_token
from vbaproject.api.envelope import envelope_response
from vbaproject.api.views import VbaViewSet


class UserAuthenticationViewSet(VbaViewSet):
    """Log in as on VBAPI (README, *Authentication*).

    Headers: ``x-api-key``, ``Authorization: Basic base64(username:password)`` and
    ``vbasoftware-database``, which both the key and the user must be allowed to use (checked
    by ``VbaViewSet.initial`` once the authentication class has put the user on the request).
    The ID token then works on any database both the key and the user may use.
    """

    authentication_classes = [ApiKeyAndPasswordAuthentication]
    permission_classes = [IsApiCaller]
    throttle_classes = []  # the authentication counts every attempt, failed ones included

    def log_in(self, request, *args, **kwargs):
        token, lifetime = issue_id_token(request.user)
        result = {"authenticationResult": {"idToken": token, "expiresIn": lifetime, "tokenType": "Bearer"}}
        # A token response must not be cached (RFC 6749 §5.1).
        return envelope_response(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


routes = [
    path(
        "user-authentication",
        UserAuthenticationViewSet.as_view({"post": "log_in"}),
        name="user-authentication",
    ),
]
