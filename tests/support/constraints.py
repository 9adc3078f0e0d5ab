"""VBASoftware's own field rules, the expectation the models and the OpenAPI document are checked
against: tests/data/vba-field-constraints.json (copied from shared/spec)."""

import json
from pathlib import Path

import pytest

CONSTRAINTS = json.loads((Path(__file__).parents[1] / "data" / "vba-field-constraints.json").read_text())
RULES = [
    (entity, name, rule)
    for entity, fields in CONSTRAINTS["entities"].items()
    for name, rule in fields.items()
]

# ``@EACH_RULE`` runs a test once per documented field: ``entity``, ``name``, ``rule``.
EACH_RULE = pytest.mark.parametrize(("entity", "name", "rule"), RULES, ids=[f"{e}.{n}" for e, n, _ in RULES])
