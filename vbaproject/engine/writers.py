"""Set-based writes for the batch engine: one statement upserts a whole chunk of rows.

Each writer reports which keys a write inserted (201) rather than updated (200) or left alone
(taken), and inserts rows with server-assigned keys so that a key a concurrent writer took is
noticed and replaced. PostgreSQL gets a binary COPY into a staging table and one
``INSERT ... SELECT ... ON CONFLICT ... RETURNING (xmax = 0)``; SQLite, which has one writer at a
time, gets the existing keys first and then one prepared ``INSERT ... ON CONFLICT`` run over
every row.
"""

import json

from vbaproject.engine import faults
from vbaproject.engine.keys import insert_under_fresh_keys
from vbaproject.spec.entities import FieldKind

PG_TYPES = {
    FieldKind.INTEGER: "integer",
    FieldKind.NUMBER: "double precision",
    FieldKind.BOOLEAN: "boolean",
    FieldKind.DATETIME: "timestamptz",
    FieldKind.STRING: "text",
}


class _Writer:
    chunk = 0  # the engine's transaction count within the request, for the failpoints

    def __init__(self, connection, spec):
        self.connection = connection
        self.spec = spec
        self.fields = spec.columns
        quote = connection.ops.quote_name
        self.table = quote(spec.model._meta.db_table)
        self.key_column = quote(spec.key.column)
        self.columns = ", ".join(quote(f.column) for f in self.fields)
        self.update_set = ", ".join(
            f"{quote(f.column)} = EXCLUDED.{quote(f.column)}"
            for f in self.fields
            if not f.is_key and not f.kept_on_update
        )

    def upsert(self, rows):
        """Insert or replace rows (key first); give the set of keys that were inserted."""
        return self._write(self.upsert_sql, rows)

    def insert_ignoring_conflicts(self, rows):
        """Insert the rows (key first) whose key is free; give the keys inserted."""
        return self._write(self.insert_sql, rows)

    def insert_new(self, rows, avoid=frozenset()):
        """Insert rows (without their key) under fresh keys not in ``avoid``; give the keys in row order."""

        def insert(pairs):
            return self.insert_ignoring_conflicts([(key, *rows[position]) for key, position in pairs])

        return insert_under_fresh_keys(self.connection, self.spec.model, len(rows), insert, avoid)


class PostgresWriter(_Writer):
    """COPY the rows into a session-local staging table, then one INSERT ... SELECT upserts them.

    Binary COPY is the fastest way into PostgreSQL; the staging table is created once per
    connection and emptied before each use (within a request the chunks may share a
    transaction, so ON COMMIT alone would not empty it).
    """

    def __init__(self, connection, spec):
        super().__init__(connection, spec)
        quote = connection.ops.quote_name
        self.stage = quote(f"vba_stage_{spec.model._meta.db_table}")
        self.copy_types = [PG_TYPES[f.kind] for f in self.fields]
        self.create_stage_sql = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.stage} "
            f"(LIKE {self.table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self.copy_sql = f"COPY {self.stage} ({self.columns}) FROM STDIN (FORMAT BINARY)"
        insert = (
            f"INSERT INTO {self.table} ({self.columns}) SELECT {self.columns} FROM {self.stage} "
            f"ORDER BY 1 ON CONFLICT ({self.key_column})"
        )
        returning = f"RETURNING {self.key_column}, (xmax = 0)"  # xmax is 0 for an inserted row
        self.upsert_sql = f"{insert} DO UPDATE SET {self.update_set} {returning}"
        self.insert_sql = f"{insert} DO NOTHING {returning}"

    def _stage(self, cursor, rows):
        faults.failpoint("before_copy", self.connection, self.chunk)
        cursor.execute(self.create_stage_sql)
        cursor.execute(f"DELETE FROM {self.stage}")  # empty after a commit; not within one
        # psycopg's COPY errors are not Django's: wrapped, a lost connection or a timeout during
        # the COPY is an OperationalError like any other, and the engine can judge it.
        with self.connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
            copy.set_types(self.copy_types)
            half = len(rows) // 2
            for row in rows[:half]:
                copy.write_row(row)
            faults.failpoint("during_copy", self.connection, self.chunk)
            for row in rows[half:]:
                copy.write_row(row)
        if self.connection.queries_logged:  # keep COPY visible to query counting, as execute() is
            self.connection.queries_log.append({"sql": f"{self.copy_sql} ({len(rows)} rows)", "time": "0"})

    def _write(self, sql, rows):
        with self.connection.cursor() as cursor:
            self._stage(cursor, rows)
            faults.failpoint("before_insert", self.connection, self.chunk)
            cursor.execute(sql)
            return {key for key, inserted in cursor.fetchall() if inserted}


class SqliteWriter(_Writer):
    def __init__(self, connection, spec):
        super().__init__(connection, spec)
        placeholders = ", ".join(["%s"] * len(self.fields))
        values = f"VALUES ({placeholders})"
        insert = f"INSERT INTO {self.table} ({self.columns}) {values} ON CONFLICT ({self.key_column})"
        self.insert_sql = f"{insert} DO NOTHING"
        self.upsert_sql = f"{insert} DO UPDATE SET {self.update_set}"
        wanted = "(SELECT value FROM json_each(%s))"
        self.existing_sql = f"SELECT {self.key_column} FROM {self.table} WHERE {self.key_column} IN {wanted}"
        self._datetime_positions = [i for i, f in enumerate(self.fields) if f.kind == FieldKind.DATETIME]
        self._adapt_datetime = connection.ops.adapt_datetimefield_value

    def _adapt(self, rows):
        if not self._datetime_positions:
            return rows
        adapted = []
        for row in rows:
            row = list(row)
            for i in self._datetime_positions:
                if row[i] is not None:
                    row[i] = self._adapt_datetime(row[i])
            adapted.append(row)
        return adapted

    def _write(self, sql, rows):
        keys = [row[0] for row in rows]
        with self.connection.cursor() as cursor:
            cursor.execute(self.existing_sql, [json.dumps(keys)])
            existing = {row[0] for row in cursor.fetchall()}
            faults.failpoint("before_insert", self.connection, self.chunk)
            cursor.executemany(sql, self._adapt(rows))
        return set(keys) - existing


def writer_for(connection, spec):
    if connection.vendor == "postgresql":
        return PostgresWriter(connection, spec)
    if connection.vendor == "sqlite":
        return SqliteWriter(connection, spec)
    raise NotImplementedError(f"no batch writer for {connection.vendor}")
