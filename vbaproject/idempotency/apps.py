from vbaproject import apps


class IdempotencyConfig(apps.ClientDatabaseAppConfig):
    """Idempotency-Key records, kept in every client database beside the rows they account for
    (a write's record commits in the transaction that wrote its rows)."""

    name = "vbaproject.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
