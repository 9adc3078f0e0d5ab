from django.db.backends.signals import connection_created

from vbaproject import apps
from vbaproject.history.context import register_sqlite_context


class HistoryConfig(apps.ClientDatabaseAppConfig):
    """The history of changes, kept in every client database (``vbaproject.history``)."""

    name = "vbaproject.history"
    label = "history"
    verbose_name = "History"

    def ready(self):
        connection_created.connect(register_sqlite_context, dispatch_uid="vba_history_sqlite_context")
