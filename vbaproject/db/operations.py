"""Migration operations that keep server-assigned keys clear of keys clients chose (PostgreSQL).

Integer keys are identity columns. SQLite's AUTOINCREMENT already moves past any explicit
key; on PostgreSQL an explicit key does not advance the identity sequence, so a statement
trigger (``KeepSequenceAheadOfKeys``, in each entity app's migration) moves it past the
largest key a statement inserted. Auth numbers are strings drawn from a plain sequence
(``CreateKeySequence``). The runtime side, drawing keys, is ``vbaproject.engine.keys``.
"""

from django.db import migrations

_FUNCTION = """
CREATE OR REPLACE FUNCTION vba_keep_sequence_ahead() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seq text := pg_get_serial_sequence(
        quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME), TG_ARGV[0]
    );
    top bigint;
    last bigint;
    called boolean;
BEGIN
    EXECUTE format('SELECT max(%I) FROM vba_new_rows', TG_ARGV[0]) INTO top;
    IF top IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO last, called;
    IF top >= (CASE WHEN called THEN last + 1 ELSE last END) THEN
        -- Serialise the read-compare-set, so two writers never move the sequence backwards.
        PERFORM pg_advisory_xact_lock(hashtext(seq));
        EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO last, called;
        IF top >= (CASE WHEN called THEN last + 1 ELSE last END) THEN
            PERFORM setval(seq, top, true);
        END IF;
    END IF;
    RETURN NULL;
END $$;
"""


class _PostgresTableOperation(migrations.operations.base.Operation):
    """An operation on one entity table that only PostgreSQL needs; a no-op elsewhere."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _model(self, app_label, schema_editor, state):
        """The historical model, or ``None`` where there is nothing to do."""
        model = state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return None
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        return model


class KeepSequenceAheadOfKeys(_PostgresTableOperation):
    """Keep the integer key's identity sequence ahead of explicit keys."""

    @staticmethod
    def _trigger(schema_editor, model):
        return schema_editor.quote_name(model._meta.db_table + "_keep_key_sequence_ahead")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, to_state)
        if model:
            table = schema_editor.quote_name(model._meta.db_table)
            # Straight to the cursor: the function body's format() placeholders are not parameters.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(_FUNCTION)
                cursor.execute(
                    f"CREATE TRIGGER {self._trigger(schema_editor, model)} AFTER INSERT ON {table} "
                    f"REFERENCING NEW TABLE AS vba_new_rows "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION vba_keep_sequence_ahead('{model._meta.pk.column}')"
                )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, from_state)
        if model:
            table = schema_editor.quote_name(model._meta.db_table)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {self._trigger(schema_editor, model)} ON {table}")

    def describe(self):
        return f"Keep the key sequence of {self.model_name} ahead of explicit keys"


class CreateKeySequence(_PostgresTableOperation):
    """A plain sequence that string keys (auth numbers) are drawn from."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, to_state)
        if model:
            schema_editor.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {schema_editor.quote_name(sequence_name(model))}"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, from_state)
        if model:
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS {schema_editor.quote_name(sequence_name(model))}")

    def describe(self):
        return f"Create the key sequence of {self.model_name}"


def sequence_name(model):
    """The sequence string keys of ``model`` are drawn from."""
    return f"{model._meta.db_table}_key_seq"
