"""The entities as the tests address them: one case per entity model, in the registry's order.

Each case is read off the registry (``vbaproject.apps.entity_models``) and the entity app's
routes: its batch URL (``batch_route``), its collection and record URLs, and an item factory.
A route that binds fields of the entity (care cases live under
``/vbasoftware/care-plans/{carePlan_Key}/cases``) gets them from ``PATH_VALUES``, and the
case's items carry the same values.
"""

import re
from dataclasses import dataclass, field
from importlib import import_module

import pytest

from vbaproject.api.routes import batch_route
from vbaproject.apps import entity_models
from vbaproject.spec.sample_data import sample_item

PLAN = 7  # the care plan the care-case routes work under
PATH_VALUES = {"carePlan_Key": PLAN}  # the value the tests give each field a route binds
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class EntityCase:
    model: type
    batch_url: str  # the plain batch upsert, such as /vbasoftware/grievances-batch
    collection_url: str  # GET list, POST create
    path_values: dict = field(default_factory=dict)  # what the collection URL binds

    @property
    def name(self):
        return self.model.__name__

    def record_url(self, key):
        return f"{self.collection_url}/{key}"

    def item(self, rng=None, fill=0.8, **overrides):
        """A valid item (``sample_item``) for the collection URL: with the values its path binds."""
        return sample_item(self.model, rng, fill, **{**self.path_values, **overrides})


def _collection(model):
    """The collection URL of ``model`` and the values it binds, from its app's routes."""
    name = f"{model._meta.model_name}-list"
    (pattern,) = [p for p in import_module(f"{model._meta.app_config.name}.api").routes if p.name == name]
    bound = {field_name: PATH_VALUES[field_name] for field_name in pattern.callback.cls.path_fields}
    return "/vbasoftware/" + _CONVERTER.sub(lambda m: str(bound[m[1]]), str(pattern.pattern)), bound


def _case(model):
    collection_url, path_values = _collection(model)
    return EntityCase(model, batch_route(model), collection_url, path_values)


ENTITIES = tuple(_case(model) for model in entity_models())
CASES = {case.model: case for case in ENTITIES}
MODELS = tuple(CASES)
BY_NAME = {case.name: case.model for case in ENTITIES}  # "Grievance" -> Grievance
ENTITY_TABLES = frozenset(model._meta.db_table for model in MODELS)

# ``@EACH_MODEL`` runs a test once per entity model, its id the model's name.
EACH_MODEL = pytest.mark.parametrize("model", MODELS, ids=[model.__name__ for model in MODELS])


def item_for(model, rng=None, fill=0.8, **overrides):
    """``sample_item`` for ``model``'s collection URL (a care case carries the path's care plan)."""
    return CASES[model].item(rng, fill, **overrides)


def batch_url(model):
    return CASES[model].batch_url


def collection_url(model):
    return CASES[model].collection_url


def record_url(model, key):
    return CASES[model].record_url(key)
