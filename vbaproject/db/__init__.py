"""Databases: which client databases are configured, which one a request works on, and the
migration operations that give each entity table its key machinery.

- ``config``: ``VBA_DATABASES`` and ``DATABASE_URL`` into Django's ``DATABASES`` (settings only).
- ``routing``: the selected client database (a context variable) and the router that sends every
  entity query there, with no fallback.
- ``operations``: migration operations for PostgreSQL key sequences.
"""
