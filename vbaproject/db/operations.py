"""Migration operations that give each entity table its database-side machinery.

- Keys: integer keys are identity columns. SQLite's AUTOINCREMENT already moves past any
  explicit key; on PostgreSQL an explicit key does not advance the identity sequence, so a
  statement trigger (``KeepSequenceAheadOfKeys``) moves it past the largest key a statement
  inserted. Auth numbers are strings drawn from a plain sequence (``CreateKeySequence``). The
  runtime side, drawing keys, is ``vbaproject.engine.keys``.
- Autovacuum: ``TuneAutovacuum`` sets per-table storage parameters so autovacuum keeps up with
  batch upserts on tables of millions of rows (PostgreSQL; see the class).
- History: ``RecordHistory`` installs the triggers that copy every changed row into the table's
  history table (``vbaproject.history``), set-based on PostgreSQL (statement triggers over
  transition tables), row by row on SQLite.
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


class _TableOperation(migrations.operations.base.Operation):
    """An operation on one entity table's database-side machinery; the model state is unchanged."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _model(self, app_label, schema_editor, state):
        """The historical model, or ``None`` where there is nothing to do."""
        model = state.apps.get_model(app_label, self.model_name)
        return model if self.allow_migrate_model(schema_editor.connection.alias, model) else None


class _PostgresTableOperation(_TableOperation):
    """An operation that only PostgreSQL needs; a no-op elsewhere."""

    def _model(self, app_label, schema_editor, state):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super()._model(app_label, schema_editor, state)


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


# Autovacuum ------------------------------------------------------------------------------------

# Why these: PostgreSQL's defaults vacuum a table once 20% of it is dead and analyze it once 10%
# changed, and set visibility-map bits for inserted rows once 20% of it is new: on 3,000,000 auths
# that is 600,000 dead row versions left by upserts before a vacuum, estimated counts and plans
# off by up to 300,000 rows, and index-only scans that visit the heap for every recent row. A
# batch upsert changes 1,000-10,000 rows at a time: these settings vacuum after about 2% plus
# 1,000 rows, analyze after 1% plus 1,000, and vacuum inserts after 2% plus 10,000, with a higher
# cost limit so one vacuum of a large table finishes between batches.
AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.01",
    "autovacuum_analyze_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.02",
    "autovacuum_vacuum_insert_threshold": "10000",
    "autovacuum_vacuum_cost_limit": "1000",
}


class TuneAutovacuum(_PostgresTableOperation):
    """Per-table autovacuum settings (``AUTOVACUUM``) for an entity table; reversed by RESET."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, to_state)
        if model:
            settings = ", ".join(f"{name} = {value}" for name, value in AUTOVACUUM.items())
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(model._meta.db_table)} SET ({settings})"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, from_state)
        if model:
            table = schema_editor.quote_name(model._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(AUTOVACUUM)})")

    def describe(self):
        return f"Tune autovacuum for the table of {self.model_name}"


# History ---------------------------------------------------------------------------------------

_HISTORY_META = (
    "history_at, history_action, history_database, history_user, history_api_key, history_activity_id, "
    "history_via"
)
_EVENTS = {"INSERT": ("create", "NEW"), "UPDATE": ("update", "NEW"), "DELETE": ("delete", "OLD")}


class RecordHistory(_TableOperation):
    """Copy every inserted, updated and deleted row of the table into its history table.

    The history table (``<table>_history``, declared by ``vbaproject.history.models``) has the
    table's columns and who/when/how. On PostgreSQL: statement triggers over the transition
    tables, one ``INSERT ... SELECT`` per statement whatever its size; the context comes from
    the transaction's ``vba.context`` setting. On SQLite: row triggers, the context from the
    connection's ``vba_context()`` function. Then the ``vba_history`` view over every history
    table is built again, so it always covers them all.
    """

    @staticmethod
    def _name(model, event):
        return f"{model._meta.db_table}_history_{event.lower()}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, to_state)
        if model is None:
            return
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            for event in _EVENTS:
                for statement in _trigger_sql(connection, model, event, self._name(model, event)):
                    cursor.execute(statement)
        _rebuild_history_view(connection, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, from_state)
        if model is None:
            return
        quote = schema_editor.quote_name
        postgres = schema_editor.connection.vendor == "postgresql"
        for event in _EVENTS:
            name = quote(self._name(model, event))
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {name}{f' ON {quote(model._meta.db_table)}' if postgres else ''}"
            )
            if postgres:
                schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")

    def describe(self):
        return f"Record the history of {self.model_name}"


def _trigger_sql(connection, model, event, name):
    """The statements that install one history trigger of ``model``'s table."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    history = quote(f"{model._meta.db_table}_history")
    columns = [quote(f.column) for f in model._meta.concrete_fields]
    action, row = _EVENTS[event]
    if connection.vendor == "postgresql":
        transitions = "vba_old_rows" if row == "OLD" else "vba_new_rows"
        referencing = f"REFERENCING {'OLD' if row == 'OLD' else 'NEW'} TABLE AS {transitions}"
        context = "context->>'{}'"
        function = f"""
            CREATE OR REPLACE FUNCTION {quote(name)}() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                context jsonb := coalesce(nullif(current_setting('vba.context', true), ''), '{{}}')::jsonb;
            BEGIN
                INSERT INTO {history} ({_HISTORY_META}, {", ".join(columns)})
                SELECT clock_timestamp(), '{action}',
                       coalesce({context.format("database")}, current_database()),
                       {context.format("username")}, {context.format("api_key")},
                       {context.format("activity_id")}, {context.format("via")},
                       {", ".join(f"r.{c}" for c in columns)}
                  FROM {transitions} r;
                RETURN NULL;
            END $$"""
        trigger = (
            f"CREATE TRIGGER {quote(name)} AFTER {event} ON {table} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {quote(name)}()"
        )
        return [function, trigger]
    context = "json_extract(context.c, '$.{}')"
    values = ", ".join(f"{row}.{c}" for c in columns)
    return [  # the context is read once per row, then taken apart
        f"CREATE TRIGGER {quote(name)} AFTER {event} ON {table} FOR EACH ROW BEGIN "
        f"INSERT INTO {history} ({_HISTORY_META}, {', '.join(columns)}) SELECT "
        f"strftime('%Y-%m-%d %H:%M:%f', 'now'), '{action}', {context.format('database')}, "
        f"{context.format('username')}, {context.format('api_key')}, {context.format('activity_id')}, "
        f"{context.format('via')}, {values} FROM (SELECT vba_context() AS c) AS context; END"
    ]


def _rebuild_history_view(connection, state):
    """``vba_history``: every history table's who/when/how, one row per change, for browsing."""
    quote = connection.ops.quote_name
    existing = set(connection.introspection.table_names())
    parts = []
    for model in state.apps.get_models():
        table = model._meta.db_table
        if model._meta.app_label == "history" or f"{table}_history" not in existing:
            continue
        key = quote(model._meta.pk.column)
        parts.append(
            f"SELECT '{model.__name__}:' || history_id AS id, '{model.__name__}' AS entity, history_id, "
            f"CAST({key} AS TEXT) AS record_key, history_at AS at, history_action AS action, "
            f"history_database AS database, history_user AS username, history_api_key AS api_key, "
            f"history_activity_id AS activity_id, history_via AS via FROM {quote(table + '_history')}"
        )
    with connection.cursor() as cursor:
        cursor.execute("DROP VIEW IF EXISTS vba_history")
        if parts:
            cursor.execute(f"CREATE VIEW vba_history AS {' UNION ALL '.join(parts)}")
