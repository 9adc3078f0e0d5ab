"""Migration operations that give each entity table its database-side machinery.

- Keys: integer keys are identity columns. SQLite's AUTOINCREMENT already moves past any
  explicit key; on PostgreSQL an explicit key does not advance the identity sequence, so a
  statement trigger (``KeepSequenceAheadOfKeys``) moves it past the largest key a statement
  inserted. Auth numbers are strings drawn from a plain sequence (``CreateKeySequence``). The
  runtime side, drawing keys, is ``vbaproject.engine.keys``.
- History: ``RecordHistory`` installs the triggers that write every change of the table's rows
  to ``vba_history`` (``vbaproject.history``), set-based on PostgreSQL (statement triggers over
  transition tables), row by row on SQLite.
"""

from django.db import migrations

from vbaproject.spec.entities import AUDIT_FIELDS

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


# History ---------------------------------------------------------------------------------------

_HISTORY_COLUMNS = "at, database, entity, record_key, action, changes, username, api_key, activity_id, via"
_PG_AUDIT = ", ".join(f"'{name}'" for name in AUDIT_FIELDS)
# One function for every entity table: TG_ARGV[0] is the entity's name, TG_ARGV[1] its key
# column. Rows are read generically (to_jsonb), so the function needs no column list; PL/pgSQL
# keeps a compiled copy per table, so the transition tables' row types never mix.
_PG_HISTORY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION vba_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    context jsonb := coalesce(nullif(current_setting('vba.context', true), ''), '{{}}')::jsonb;
    entity text := TG_ARGV[0];
    key_column text := TG_ARGV[1];
    skipped text[] := ARRAY[{_PG_AUDIT}, TG_ARGV[1]];  -- not repeated in changes
    db_name text := coalesce(context->>'database', current_database());
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO vba_history ({_HISTORY_COLUMNS})
        SELECT clock_timestamp(), db_name, entity, n.j->>key_column, 'update',
               (SELECT coalesce(jsonb_object_agg(nv.key, jsonb_build_array(ov.value, nv.value)), '{{}}')
                  FROM jsonb_each(o.j) ov JOIN jsonb_each(n.j) nv ON ov.key = nv.key
                 WHERE ov.value IS DISTINCT FROM nv.value AND nv.key <> ALL (skipped)),
               context->>'username', context->>'api_key', context->>'activity_id', context->>'via'
          FROM (SELECT to_jsonb(r) AS j FROM vba_old_rows r) o
          JOIN (SELECT to_jsonb(r) AS j FROM vba_new_rows r) n ON o.j->>key_column = n.j->>key_column;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO vba_history ({_HISTORY_COLUMNS})
        SELECT clock_timestamp(), db_name, entity, n.j->>key_column, 'create',
               (SELECT coalesce(jsonb_object_agg(key, jsonb_build_array(NULL, value)), '{{}}')
                  FROM jsonb_each(n.j) WHERE value <> 'null'::jsonb AND key <> ALL (skipped)),
               context->>'username', context->>'api_key', context->>'activity_id', context->>'via'
          FROM (SELECT to_jsonb(r) AS j FROM vba_new_rows r) n;
    ELSE
        INSERT INTO vba_history ({_HISTORY_COLUMNS})
        SELECT clock_timestamp(), db_name, entity, o.j->>key_column, 'delete',
               (SELECT coalesce(jsonb_object_agg(key, jsonb_build_array(value, NULL)), '{{}}')
                  FROM jsonb_each(o.j) WHERE value <> 'null'::jsonb AND key <> ALL (skipped)),
               context->>'username', context->>'api_key', context->>'activity_id', context->>'via'
          FROM (SELECT to_jsonb(r) AS j FROM vba_old_rows r) o;
    END IF;
    RETURN NULL;
END $$;
"""
_PG_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS vba_new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS vba_old_rows NEW TABLE AS vba_new_rows",
    "DELETE": "REFERENCING OLD TABLE AS vba_old_rows",
}


class RecordHistory(_PostgresTableOperation):
    """Record every insert, update and delete of the table's rows in ``vba_history``.

    On PostgreSQL: statement triggers over transition tables, one ``INSERT ... SELECT`` per
    statement whatever its size. On SQLite: row triggers, their column list generated here from
    the model (a later migration that adds a field installs them again).
    """

    def _model(self, app_label, schema_editor, state):
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        return model

    @staticmethod
    def _trigger(schema_editor, model, event):
        return schema_editor.quote_name(f"{model._meta.db_table}_history_{event.lower()}")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, to_state)
        if model is None:
            return
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(model._meta.db_table)
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(_PG_HISTORY_FUNCTION)
                for event, transitions in _PG_TRANSITIONS.items():
                    trigger = self._trigger(schema_editor, model, event)
                    cursor.execute(
                        f"CREATE TRIGGER {trigger} AFTER {event} ON {table} {transitions} FOR EACH STATEMENT "
                        f"EXECUTE FUNCTION vba_record_history('{model.__name__}', '{model._meta.pk.column}')"
                    )
        else:
            with schema_editor.connection.cursor() as cursor:
                for event in ("INSERT", "UPDATE", "DELETE"):
                    cursor.execute(_sqlite_trigger(schema_editor, model, event, self._trigger))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = self._model(app_label, schema_editor, from_state)
        if model is None:
            return
        on = (
            f" ON {schema_editor.quote_name(model._meta.db_table)}"
            if schema_editor.connection.vendor == "postgresql"
            else ""
        )
        for event in ("INSERT", "UPDATE", "DELETE"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {self._trigger(schema_editor, model, event)}{on}")

    def describe(self):
        return f"Record the history of {self.model_name}"


def _sqlite_trigger(schema_editor, model, event, trigger_name):
    """A row trigger writing one history row: the changed fields as a JSON object of [old, new]."""
    quote = schema_editor.quote_name
    columns = [
        f.column for f in model._meta.concrete_fields if f.name not in AUDIT_FIELDS and not f.primary_key
    ]
    if event == "UPDATE":
        pairs = [
            f"SELECT '{c}' AS k, json_array(OLD.{quote(c)}, NEW.{quote(c)}) AS v "
            f"WHERE OLD.{quote(c)} IS NOT NEW.{quote(c)}"
            for c in columns
        ]
        row = "NEW"
    else:
        row = "NEW" if event == "INSERT" else "OLD"
        value = f"json_array(NULL, {row}.{{0}})" if event == "INSERT" else f"json_array({row}.{{0}}, NULL)"
        pairs = [
            f"SELECT '{c}' AS k, {value.format(quote(c))} AS v WHERE {row}.{quote(c)} IS NOT NULL"
            for c in columns
        ]
    changes = f"(SELECT coalesce(json_group_object(k, json(v)), '{{}}') FROM ({' UNION ALL '.join(pairs)}))"
    action = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete"}[event]
    context = "json_extract(vba_context(), '$.{}')"
    return (
        f"CREATE TRIGGER {trigger_name(schema_editor, model, event)} AFTER {event} "
        f"ON {quote(model._meta.db_table)} FOR EACH ROW BEGIN "
        f"INSERT INTO vba_history ({_HISTORY_COLUMNS}) VALUES ("
        f"strftime('%Y-%m-%d %H:%M:%f', 'now'), {context.format('database')}, '{model.__name__}', "
        f"{row}.{quote(model._meta.pk.column)}, '{action}', {changes}, {context.format('username')}, "
        f"{context.format('api_key')}, {context.format('activity_id')}, {context.format('via')}); END"
    )
