"""Reads of entity records as the API represents them: JSON names, raw values.

The API's lists and reads (``vbaproject.api``) select through here; paging, sorting and
filters are ``vbaproject.api.lists``.
"""


def entity_records(spec, queryset):
    """The API representation of every row of ``queryset``."""
    names = [f.name for f in spec.fields]
    rows = queryset.values_list(*(f.attname for f in spec.fields))
    return [dict(zip(names, row, strict=True)) for row in rows]
