"""Server-assigned keys that never collide with keys a client chose.

Integer keys are identity columns. SQLite's AUTOINCREMENT already moves past any explicit
key; on PostgreSQL an explicit key does not advance the identity sequence, so a statement
trigger (installed by ``KeepSequenceAheadOfKeys`` in each app's migration) moves it past
the largest key a statement inserted. Auth numbers are strings: they are drawn from a
PostgreSQL sequence (or, on SQLite, which has one writer at a time, from the largest numeric
number in the table) and any candidate already taken is skipped.
"""

from django.db import DataError, migrations, transaction

KEY_MAX = 2**31 - 1  # integer keys are 32-bit (contract §4)


class KeySpaceExhausted(Exception):
    """No integer key is left to assign."""


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


class KeepSequenceAheadOfKeys(migrations.operations.base.Operation):
    """On PostgreSQL, keep the integer key's identity sequence ahead of explicit keys."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _target(self, app_label, schema_editor, state):
        model = state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return None
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        return model._meta.db_table, model._meta.pk.column

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        target = self._target(app_label, schema_editor, to_state)
        if target:
            table = schema_editor.quote_name(target[0])
            trigger = schema_editor.quote_name(target[0] + "_keep_key_sequence_ahead")
            # Straight to the cursor: the function body's format() placeholders are not parameters.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(_FUNCTION)
                cursor.execute(
                    f"CREATE TRIGGER {trigger} AFTER INSERT ON {table} "
                    f"REFERENCING NEW TABLE AS vba_new_rows "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION vba_keep_sequence_ahead('{target[1]}')"
                )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        target = self._target(app_label, schema_editor, from_state)
        if target:
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {schema_editor.quote_name(target[0] + '_keep_key_sequence_ahead')} "
                f"ON {schema_editor.quote_name(target[0])}"
            )

    def describe(self):
        return f"Keep the key sequence of {self.model_name} ahead of explicit keys"


class CreateKeySequence(migrations.operations.base.Operation):
    """On PostgreSQL, a plain sequence that string keys (auth numbers) are drawn from."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _name(self, app_label, schema_editor, state):
        model = state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor == "postgresql" and self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            return sequence_name(model)
        return None

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        name = self._name(app_label, schema_editor, to_state)
        if name:
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        name = self._name(app_label, schema_editor, from_state)
        if name:
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS {schema_editor.quote_name(name)}")

    def describe(self):
        return f"Create the key sequence of {self.model_name}"


def sequence_name(model):
    return f"{model._meta.db_table}_key_seq"


def _pg_sequence_values(cursor, sequence_sql, count):
    cursor.execute(f"SELECT nextval({sequence_sql}) FROM generate_series(1, %s)", [count])
    return [row[0] for row in cursor.fetchall()]


def allocate_keys(connection, model, count, avoid=frozenset()):
    """``count`` fresh keys for ``model``: none in use now, none in ``avoid``.

    ``avoid`` holds the keys the same batch names explicitly, so that an assigned key never
    turns a later item's explicit key into an update. Call it inside the transaction that
    inserts the rows; insert them so that a concurrent writer taking the same key is noticed
    (ON CONFLICT DO NOTHING), and allocate again for those. On SQLite the transaction holds
    the only write lock, so nothing can interleave.
    """
    keys, handed_out = [], []
    while len(keys) < count:
        candidates = _candidates(connection, model, count - len(keys), handed_out)
        handed_out += candidates
        keys += [k for k in candidates if k not in avoid]
    return keys


def _candidates(connection, model, count, taken):
    """Fresh keys to try (some may be in ``avoid`` or, on PostgreSQL, taken concurrently)."""
    meta = model._meta
    table, column = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
    integer_key = meta.pk.get_internal_type() in {"AutoField", "BigAutoField", "IntegerField"}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if integer_key:
                sequence_sql = f"pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}')"
                try:
                    with transaction.atomic(using=connection.alias):
                        return _pg_sequence_values(cursor, sequence_sql, count)
                except DataError:  # the sequence is exhausted: a client took the largest key
                    return _free_keys_below_the_top(cursor, table, column, count, taken)
            candidates = [str(v) for v in _pg_sequence_values(cursor, f"'{sequence_name(model)}'", count)]
            cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [candidates])
            in_use = {row[0] for row in cursor.fetchall()}
            return [c for c in candidates if c not in in_use]
        if integer_key:
            cursor.execute(
                f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                f"coalesce((SELECT max({column}) FROM {table}), 0))",
                [meta.db_table],
            )
        else:
            cursor.execute(
                f"SELECT coalesce(max(CAST({column} AS INTEGER)), 0) FROM {table} "
                f"WHERE {column} GLOB '[0-9]*' AND {column} NOT GLOB '*[^0-9]*' AND length({column}) < 19"
            )
        # Nothing else writes meanwhile; continue past the keys this call already handed out.
        start = max(cursor.fetchone()[0], *(int(k) for k in taken), 0) + 1
        if integer_key and start + count - 1 > KEY_MAX:
            return _free_keys_below_the_top(cursor, table, column, count, taken)
    values = range(start, start + count)
    return list(values) if integer_key else [str(v) for v in values]


def _free_keys_below_the_top(cursor, table, column, count, taken):
    """Unused integer keys in the gaps between used ones, for when the top of the range is taken.

    Rare (a client chose a key at the 32-bit limit) and slower than the sequence: it reads the
    key index once.
    """
    cursor.execute(
        f"SELECT used + 1, coalesce(following, %s) FROM ("
        f"  SELECT {column} AS used, lead({column}) OVER (ORDER BY {column}) AS following"
        f"  FROM (SELECT {column} FROM {table} UNION ALL SELECT 0) AS keys"
        f") AS pairs WHERE coalesce(following, %s) > used + 1 AND used < %s ORDER BY used",
        [KEY_MAX + 1, KEY_MAX + 1, KEY_MAX],
    )
    taken = set(taken)
    keys = []
    for first, after in cursor.fetchall():
        for key in range(first, after):
            if key not in taken:
                keys.append(key)
                if len(keys) == count:
                    return keys
    raise KeySpaceExhausted(f"every key up to {KEY_MAX} is in use")
