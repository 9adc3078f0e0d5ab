"""The VBAPI routes under ``/vbasoftware/``: views, routes, lists, JSON, the envelope, errors and
the OpenAPI document. Views only read the request and render the engine's outcomes; every write
is ``vbaproject.engine``'s."""
