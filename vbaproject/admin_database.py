"""Which client database the admin works on: the one chosen in the session, else the first."""

from vbaproject.client_databases import client_database_names, using_client_database

SESSION_KEY = "vba_database"


def admin_database(request):
    names = client_database_names()
    chosen = request.session.get(SESSION_KEY)
    return chosen if chosen in names else (names[0] if names else None)


class AdminClientDatabaseMiddleware:
    """Run every admin request inside ``using_client_database`` for the session's database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        name = admin_database(request)
        if name is None:
            return self.get_response(request)
        request.vba_database = name
        with using_client_database(name):
            return self.get_response(request)
