"""Idempotency-Key: a write sent with the header is applied at most once (README, *For API
consumers*). The flow is ``services.idempotent_attempt``; the state lives in every client
database (``models``), beside the rows it accounts for."""
