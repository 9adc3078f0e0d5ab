"""Set-based writes for the batch engine: one statement upserts a whole chunk of rows.

Each writer reports which keys a write inserted (201) rather than updated (200) or left alone
(taken), and inserts rows with server-assigned keys so that a key a concurrent writer took is
noticed and replaced. PostgreSQL gets a binary COPY into a staging table and one
``INSERT ... SELECT ... ON CONFLICT ... RETURNING (xmax = 0)``; a small write (at most
``VBA_BATCH_SMALL_ROWS`` rows, default 50) skips the staging table: one
``INSERT ... SELECT ... FROM (VALUES ...) ... ON CONFLICT ... RETURNING`` with server-side
parameters (not a prepared statement: measured, preparing it saved nothing visible in the
noise). SQLite, which has one writer at a time, gets the existing keys first and then one
prepared ``INSERT ... ON CONFLICT`` run over every row.

Writers, and the SQL they send, are built once per database connection object and entity
(``writer_for``), not per request: building them cost more than a 1-item write. The staging
table is created once per database session: after the transaction that created it commits it
is known to exist (a rolled-back one took it away), and it is emptied only when the same
transaction used it already (``ON COMMIT DELETE ROWS`` empties it at each commit).
"""

import json

import psycopg
from django.conf import settings

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


def small_rows():
    """The most rows written without the staging table (``VBA_BATCH_SMALL_ROWS``)."""
    return getattr(settings, "VBA_BATCH_SMALL_ROWS", 50)


class PostgresWriter(_Writer):
    """COPY the rows into a session-local staging table, then one INSERT ... SELECT upserts them;
    a few rows go in one INSERT with their values as parameters.

    Binary COPY is the fastest way into PostgreSQL for many rows; for a few, the two extra
    statements (COPY, and emptying the stage) cost more than binding the values. Both sort the
    rows by key (``ORDER BY 1``) so that concurrent writers lock keys in the same order.
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
        self.empty_stage_sql = f"DELETE FROM {self.stage}"
        self.copy_sql = f"COPY {self.stage} ({self.columns}) FROM STDIN (FORMAT BINARY)"
        conflict = f"ORDER BY 1 ON CONFLICT ({self.key_column})"
        insert = (
            f"INSERT INTO {self.table} ({self.columns}) SELECT {self.columns} FROM {self.stage} {conflict}"
        )
        returning = f"RETURNING {self.key_column}, (xmax = 0)"  # xmax is 0 for an inserted row
        self.upsert_sql = f"{insert} DO UPDATE SET {self.update_set} {returning}"
        self.insert_sql = f"{insert} DO NOTHING {returning}"
        self._small_tail = {
            self.upsert_sql: f"{conflict} DO UPDATE SET {self.update_set} {returning}",
            self.insert_sql: f"{conflict} DO NOTHING {returning}",
        }
        # Each value cast to its column's kind, as COPY's types do: parameters are then typed
        # alike whatever Python type carries them.
        self._small_types = [f"::{t}" for t in self.copy_types]
        self._small_sql = {}  # (statement, row count) -> SQL
        self._stage_exists_on = None  # the raw connection whose session has the stage (committed)
        self._stage_used_on = None  # the raw connection whose transaction may have rows in it

    def _small(self, sql, count):
        text = self._small_sql.get((sql, count))
        if text is None:
            width = len(self._small_types)
            values = ", ".join(
                "("
                + ", ".join(f"${row * width + i + 1}{cast}" for i, cast in enumerate(self._small_types))
                + ")"
                for row in range(count)
            )
            text = (
                f"INSERT INTO {self.table} ({self.columns}) SELECT * FROM (VALUES {values}) AS v "
                f"{self._small_tail[sql]}"
            )
            if len(self._small_sql) > 400:
                self._small_sql.clear()
            self._small_sql[(sql, count)] = text
        return text

    def _stage(self, cursor, rows):
        faults.failpoint("before_copy", self.connection, self.chunk)
        raw = self.connection.connection
        if self._stage_exists_on is not raw:
            cursor.execute(self.create_stage_sql)
            self.connection.on_commit(lambda: setattr(self, "_stage_exists_on", raw))
        if self._stage_used_on is raw:  # an earlier write of this transaction may have left rows
            cursor.execute(self.empty_stage_sql)
        self._stage_used_on = raw
        self.connection.on_commit(lambda: setattr(self, "_stage_used_on", None))  # emptied by COMMIT
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
        self._log(f"{self.copy_sql} ({len(rows)} rows)")

    def _log(self, sql):
        if self.connection.queries_logged:  # visible to query counting, as execute() is
            self.connection.queries_log.append({"sql": sql, "time": "0"})

    def _write(self, sql, rows):
        if len(rows) <= small_rows():
            return self._write_small(sql, rows)
        try:
            with self.connection.cursor() as cursor:
                self._stage(cursor, rows)
                faults.failpoint("before_insert", self.connection, self.chunk)
                cursor.execute(sql)
                return {key for key, inserted in cursor.fetchall() if inserted}
        except Exception:
            self._stage_exists_on = None  # perhaps gone (DISCARD, a lost session): create it again
            raise

    def _write_small(self, sql, rows):
        """One INSERT with the rows as server-side parameters (Django's cursor would bind them
        in Python, value by value)."""
        text = self._small(sql, len(rows))
        params = [value for row in rows for value in row]
        self.connection.ensure_connection()
        # No COPY here: its failpoint comes at the same moment as the INSERT's.
        faults.failpoint("before_copy", self.connection, self.chunk)
        faults.failpoint("before_insert", self.connection, self.chunk)
        # PostgreSQL's own $n placeholders: psycopg sends the SQL as it is, without parsing it
        # for %s on every call (it caches no parse of SQL this long).
        with self.connection.wrap_database_errors, psycopg.RawCursor(self.connection.connection) as cursor:
            cursor.execute(text, params)
            inserted = {key for key, new in cursor.fetchall() if new}
        self._log(f"{text[:200]}... ({len(rows)} rows)")
        return inserted


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
    """The writer of ``spec``'s table on ``connection``: built once per connection object (one per
    thread and database alias, kept across requests and reconnections) and entity."""
    writers = connection.__dict__.setdefault("_vba_writers", {})
    writer = writers.get(spec.model)
    if writer is None or writer.spec is not spec:
        if connection.vendor == "postgresql":
            writer = PostgresWriter(connection, spec)
        elif connection.vendor == "sqlite":
            writer = SqliteWriter(connection, spec)
        else:
            raise NotImplementedError(f"no batch writer for {connection.vendor}")
        writers[spec.model] = writer
    return writer
