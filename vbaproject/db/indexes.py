"""``SortIndex``: the btree that serves an API list sorted or filtered on one field, both ways.

API lists sort nulls first ascending and last descending (nulls are the smallest value), and
the record key breaks ties in the sort's direction (``vbaproject.api.lists``). PostgreSQL's
btree default is ``ASC NULLS LAST``, which serves neither ``ORDER BY f ASC NULLS FIRST`` nor
its reverse, so a sorted page read the whole table and sorted it. ``SortIndex(fields=[f, key])``
is ``(f ASC NULLS FIRST, key ASC)`` on PostgreSQL: a forward scan serves
``ORDER BY f ASC NULLS FIRST, key ASC``, a backward scan ``ORDER BY f DESC NULLS LAST, key
DESC``, and ``WHERE f = x ORDER BY key`` (an exact filter with the default sort) and keyset
pages (``(f, key) > (v, k)``) read it in order too. SQLite's nulls are always the smallest,
so there it is a plain ``(f, key)`` index (SQLite has no ``NULLS FIRST`` in index columns).
"""

from django.db import models


class SortIndex(models.Index):
    """A btree index whose first column sorts nulls first on PostgreSQL (see the module doc)."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql" or self.expressions:
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        fields = [model._meta.get_field(name) for name, _ in self.fields_orders]
        suffixes = [order for _, order in self.fields_orders]
        suffixes[0] = f"{suffixes[0] or 'ASC'} NULLS {'LAST' if suffixes[0] == 'DESC' else 'FIRST'}"
        return schema_editor._create_index_sql(
            model,
            fields=fields,
            name=self.name,
            using=using,
            db_tablespace=self.db_tablespace,
            col_suffixes=suffixes,
            opclasses=self.opclasses,
            condition=self._get_condition_sql(model, schema_editor),
            include=[model._meta.get_field(name).column for name in self.include],
            **kwargs,
        )
