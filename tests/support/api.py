"""The client every API test talks through: real HTTP through Django's test client."""

import base64

import orjson

from tests.support.answers import data_of

LOGIN_ROUTE = "/vbasoftware/user-authentication"
API_USERNAME = "api-user"
API_PASSWORD = "a-test-password-1"


class ApiClient:
    """Real HTTP through Django's test client, with the headers every VBAPI call carries.

    Authentication lands in one place, ``credentials``: every API test goes through here.
    """

    def __init__(self, client, database="demo", credentials=None):
        self.client = client
        self.database = database
        self.credentials = credentials or {}
        self.username = "anonymous"  # the user the server records in entry_User / update_User

    def headers(self, database=..., **extra):
        headers = dict(self.credentials)
        database = self.database if database is ... else database
        if database is not None:
            headers["vbasoftware-database"] = database
        headers.update(extra)
        return headers

    def request(self, method, path, body=None, content_type="application/json", database=..., **headers):
        send = getattr(self.client, method.lower())
        if body is None:
            return send(path, headers=self.headers(database, **headers))
        data = body if isinstance(body, bytes | str) else orjson.dumps(body)
        return send(path, data, content_type=content_type, headers=self.headers(database, **headers))

    def put(self, path, body, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def delete(self, path, body=None, **kwargs):
        return self.request("DELETE", path, body, **kwargs)

    def log_in(self, username, password, key=..., database=...):
        """``POST /vbasoftware/user-authentication`` with Basic credentials (no bearer token)."""
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers = {"x-api-key": self.credentials.get("x-api-key") if key is ... else key}
        headers = {name: value for name, value in headers.items() if value is not None}
        headers["Authorization"] = f"Basic {basic}"
        database = self.database if database is ... else database
        if database is not None:
            headers["vbasoftware-database"] = database
        return self.client.post(LOGIN_ROUTE, headers=headers)

    def allow_database(self, name):
        """Let this client's API key and user use the client database ``name`` too."""
        from vbaproject.accounts.services import user_set_databases

        self.api_key.databases = [*self.api_key.databases, name]
        self.api_key.save()
        user_set_databases(self.user, [*self.user_databases, name])
        self.user_databases.append(name)


def id_token_of(response):
    """The bearer ID token a successful login answers."""
    return data_of(response, 200)["authenticationResult"]["idToken"]
