"""Indexes that serve the admin's changelists on tables of millions of rows (vbaproject.admin.scale).

- ``PrefixIndex(field)``: ``UPPER(field) text_pattern_ops`` on PostgreSQL. The admin's search of
  an ID is Django's case-insensitive prefix, ``UPPER(field::text) LIKE UPPER('s123%')``: a
  plain btree serves no ``LIKE`` under a collation other than C (``C.UTF-8`` included), and no
  index on ``field`` serves ``UPPER(field)``. This one serves exactly that expression; on SQLite,
  which cannot name an operator class, it is an index on ``UPPER(field)``.
- ``OrderIndex(*expressions)``: a functional index in a given order, ``NULLS FIRST``/``LAST``
  included, that serves a changelist's default ``ORDER BY`` exactly (the grievances' open ones
  first, then newest received, then newest key). SQLite cannot say ``NULLS LAST`` in an index
  and always sorts nulls as the smallest value, which is what ``DESC NULLS LAST`` means: there
  the null ordering is dropped.
"""

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Collate, Upper
from django.db.models.indexes import IndexExpression

# An operator class must stay outside the parentheses of an index expression (what
# django.contrib.postgres, not in INSTALLED_APPS here, registers when it is).
IndexExpression.register_wrappers(models.OrderBy, OpClass, Collate)


class PrefixIndex(models.Index):
    """``UPPER(field) text_pattern_ops``: a case-insensitive prefix search of ``field``."""

    def __init__(self, *expressions, field=None, name=None, **kwargs):
        self.prefix_field = field
        if field is not None:
            expressions = (OpClass(Upper(field), name="text_pattern_ops"),)
        super().__init__(*expressions, name=name, **kwargs)

    def deconstruct(self):
        path, _, _ = super().deconstruct()
        return path, (), {"field": self.prefix_field, "name": self.name}

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = models.Index(Upper(self.prefix_field), name=self.name)
        return plain.create_sql(model, schema_editor, using=using, **kwargs)


def _without_nulls(expression):
    if isinstance(expression, models.OrderBy):
        return models.OrderBy(expression.expression, descending=expression.descending)
    return expression


class OrderIndex(models.Index):
    """A functional index in an exact order; its ``NULLS FIRST``/``LAST`` only on PostgreSQL."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = models.Index(*(_without_nulls(e) for e in self.expressions), name=self.name)
        return plain.create_sql(model, schema_editor, using=using, **kwargs)
