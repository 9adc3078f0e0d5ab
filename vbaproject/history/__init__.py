"""The history of every write to an entity: who changed which record, when, how, from what to what.

Each client database holds its own trail (``vba_history``), beside the records it describes, so
it travels with them and never mixes clients. Database triggers write it (installed on every
entity table by ``vbaproject.db.operations.RecordHistory``), set-based and in the same
transaction as the change, so every path is covered (the batch engine's COPY and
``INSERT ... ON CONFLICT``, the ORM, bulk updates) and a rolled-back write leaves no trace.

Who and how come from the write context (``context``): the API, the admin and the management
commands say who is writing, and the engine hands it to the database in each write
transaction. README: *For compliance officers: the history of every change*.
"""
