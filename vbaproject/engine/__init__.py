"""Every write to an entity table: batches, single records, deletes and server-assigned keys.

Whatever the path (the API's batch and single-record routes, the admin, the management
commands), a write goes through here, so the same rules, keys and audit fields apply:

- ``upsert``: the batch engine; a single record is a batch of one.
- ``delete``: deleting records by key, one or many.
- ``records``: saving one model instance (the admin's forms and inlines).
- ``keys``: drawing keys that never collide with keys clients chose.
- ``writers``: the set-based SQL behind the engine, one small class per database backend.
- ``outcomes``: what the engine answers per item, as types; the API renders them.
"""
