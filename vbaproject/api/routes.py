"""VBAPI's paths for an entity's viewset, declared in each entity app's ``api`` module::

    routes = [
        *resource_routes("grievances", GrievanceViewSet),
        batch_routes("grievances-batch", GrievanceViewSet, delete=True),
    ]

A path may bind entity fields, ``care-plans/{carePlan_Key}/cases``: they must be the
viewset's ``path_fields``. ``batch_route(model)`` is the path of the model's plain batch
upsert (the one that binds nothing), for the benchmark and the tests.
"""

import re
from importlib import import_module

from django.urls import path

from vbaproject.spec.entities import FieldKind, entity_spec

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_BATCH_ROUTES = {}  # model -> "/vbasoftware/<path>" of its unbound batch upsert


def _django_route(route, viewset):
    """``care-plans/{carePlan_Key}/cases`` as a Django route; its fields must be the viewset's."""
    spec = entity_spec(viewset.model)
    bound = []

    def converter(match):
        field = spec.by_lower_name[match.group(1).lower()]
        assert field.name == match.group(1), (
            f"{match.group(1)} is spelt {field.name} in {spec.model.__name__}"
        )
        bound.append(field.name)
        return f"<{'int' if field.kind == FieldKind.INTEGER else 'str'}:{field.name}>"

    django_route = _PLACEHOLDER.sub(converter, route)
    path_fields = tuple(name for name in bound if name != spec.key.name)
    assert path_fields == tuple(viewset.path_fields), (
        f"{route} binds {path_fields}, but {viewset.__name__}.path_fields is {viewset.path_fields}"
    )
    return django_route


def resource_routes(route, viewset, *, batch_put=False):
    """The collection route (GET list, POST create), the record route (GET, PUT, DELETE) and the
    record's history (GET).

    ``batch_put`` also puts the batch upsert on the collection route (VBAPI's ``PUT /auths``).
    """
    model = viewset.model
    key = entity_spec(model).key.name
    name = model._meta.model_name
    actions = {"get": "list", "post": "create"}
    if batch_put:
        actions["put"] = "put_batch"
        _remember_batch_route(route, viewset)
    return [
        path(_django_route(route, viewset), viewset.as_view(actions), name=f"{name}-list"),
        path(
            _django_route(f"{route}/{{{key}}}", viewset),
            viewset.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
            name=f"{name}-detail",
        ),
        path(
            _django_route(f"{route}/{{{key}}}/history", viewset),
            viewset.as_view({"get": "history"}),
            name=f"{name}-history",
        ),
    ]


def batch_routes(route, viewset, *, delete=False):
    """The batch route: PUT upserts an array of entities; with ``delete``, DELETE removes them."""
    model = viewset.model
    actions = {"put": "put_batch", **({"delete": "delete_batch"} if delete else {})}
    bound = "".join(f"-{f.lower()}" for f in viewset.path_fields)
    _remember_batch_route(route, viewset)
    return path(
        _django_route(route, viewset), viewset.as_view(actions), name=f"{model._meta.model_name}{bound}-batch"
    )


def _remember_batch_route(route, viewset):
    if not viewset.path_fields:
        _BATCH_ROUTES[viewset.model] = f"/vbasoftware/{route}"


def batch_route(model):
    """The path of ``model``'s batch upsert, such as ``/vbasoftware/grievances-batch``."""
    import_module(f"{model._meta.app_config.name}.api")  # declares the app's routes, once
    return _BATCH_ROUTES[model]
