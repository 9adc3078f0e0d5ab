"""The base of every VBAPI view: the client database from the header, the envelope, JSON.

The entity routes built on it are declared with ``vbaproject.api_resources``.
"""

from django.conf import settings
from rest_framework import exceptions, viewsets

from vbaproject.api_json import ContentNegotiation, JsonParser, JsonRenderer
from vbaproject.authentication import caller_databases
from vbaproject.batch import upsert_batch
from vbaproject.client_databases import is_client_database, release_client_database, select_client_database
from vbaproject.envelope import PayloadTooLarge, envelope_response

DATABASE_HEADER = "vbasoftware-database"


class DatabaseHeaderMissing(exceptions.APIException):
    status_code = 400
    default_detail = f"The {DATABASE_HEADER} header is required: it names the client database to work on."
    default_code = "database_header_missing"


class DatabaseForbidden(exceptions.PermissionDenied):
    # One answer for "not configured" and "not yours", so a caller cannot probe for names.
    default_detail = f"The database named in {DATABASE_HEADER} is not available to this caller."


def may_use_database(request, name):
    """Whether this caller may work on the client database ``name``: it must be configured and
    allowed for both the request's API key and its user (``vbaproject.authentication``)."""
    return is_client_database(name) and name in caller_databases(request)


def audit_username(request):
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else "anonymous"


class VbaViewSet(viewsets.ViewSet):
    """Selects the client database named in the header for the whole of the request."""

    parser_classes = [JsonParser]
    renderer_classes = [JsonRenderer]
    content_negotiation_class = ContentNegotiation
    model = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        name = request.headers.get(DATABASE_HEADER, "").strip()
        if not name:
            raise DatabaseHeaderMissing()
        if not may_use_database(request, name):
            raise DatabaseForbidden()
        self.database = name
        self._database_token = select_client_database(name)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_database_token", None)
        if token is not None:
            release_client_database(token)
            self._database_token = None
        return super().finalize_response(request, response, *args, **kwargs)


def batch_items(request, model):
    """The request's JSON array of items, within the batch limits (400, 413 otherwise)."""
    items = request.data
    if not isinstance(items, list):
        noun = model._meta.verbose_name
        raise exceptions.ParseError(f"The body must be a JSON array of {noun} objects.")
    if len(items) > settings.VBA_BATCH_MAX_ITEMS:
        raise PayloadTooLarge(
            f"The batch has {len(items)} items; at most {settings.VBA_BATCH_MAX_ITEMS} are accepted "
            f"(VBA_BATCH_MAX_ITEMS)."
        )
    return items


class BatchUpsertViewSet(VbaViewSet):
    """``PUT`` a JSON array of entities; 207 with one result per item (contract §4)."""

    def put_batch(self, request, *args, **kwargs):
        items = batch_items(request, self.model)
        results = upsert_batch(self.model, items, user=audit_username(request), release_items=True)
        return envelope_response(results, status=207)
