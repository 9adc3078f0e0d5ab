"""The digest that tells a retry from a different request under the same ``Idempotency-Key``.

SHA-256 of the method, the path, the query string and the SHA-256 of the raw body bytes. The
body's digest is taken by the JSON parser as it reads the body
(``vbaproject.api.content.JsonParser`` sets ``request.idempotency_digest`` when the request
carries the header), so a 26 MB batch is neither copied nor read twice. A request whose body
no parser read (``DELETE .../{key}``, an empty body) counts as an empty body: the server
ignored that body anyway.
"""

import hashlib

IDEMPOTENCY_HEADER = "Idempotency-Key"
_EMPTY_BODY = hashlib.sha256(b"").hexdigest()


def request_digest(request):
    """The request's digest, once its body has been parsed (``request.data``)."""
    digest = hashlib.sha256()
    body = getattr(request, "idempotency_digest", None) or _EMPTY_BODY
    for part in (request.method, request.path, request.META.get("QUERY_STRING", ""), body):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()
