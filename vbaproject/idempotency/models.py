"""What the server remembers of a write sent with an ``Idempotency-Key``.

Both tables live in the client database the write went to, not in the control database: an
``IdempotentChunk`` is inserted in the very transaction that writes its items' rows, so the
rows and the record of them commit together or not at all, and a retry of an attempt that died
half-way knows exactly which items are written (``vbaproject.idempotency.services``).
"""

from django.db import models


class State(models.TextChoices):
    RUNNING = "running", "running"  # an attempt runs, or one died before it could answer
    FINISHED = "finished", "finished"  # answered; a retry gets ``status`` and ``body`` again


class IdempotentRequest(models.Model):
    """One (API key, Idempotency-Key) in this client database."""

    api_key_id = models.CharField(max_length=150, help_text="The API key the write came with.")
    key = models.CharField(max_length=255, help_text="The Idempotency-Key header's value.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of method, path, query and body.")
    created = models.DateTimeField()
    expires = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    # SQLite only (PostgreSQL uses an advisory lock): the running attempt, "pid:start:token";
    # null when no attempt runs.
    owner = models.CharField(max_length=100, null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The answer's HTTP status.")
    body = models.BinaryField(null=True, blank=True, help_text="The answer's body, as sent.")

    class Meta:
        db_table = "vba_idempotent_request"
        constraints = [models.UniqueConstraint(fields=["api_key_id", "key"], name="vba_idempotent_key")]

    def __str__(self):
        return f"{self.key} ({self.state})"


class IdempotentChunk(models.Model):
    """The outcomes of the items one transaction of an attempt wrote: [[index, key, kind, message], ...]."""

    request = models.ForeignKey(IdempotentRequest, on_delete=models.CASCADE, related_name="chunks")
    outcomes = models.JSONField()

    class Meta:
        db_table = "vba_idempotent_chunk"

    def __str__(self):
        return f"{len(self.outcomes)} item(s) of request {self.request_id}"
