"""Server-assigned keys that never collide with keys a client chose.

Integer keys are identity columns; on PostgreSQL a statement trigger keeps their sequence
ahead of explicit keys (``vbaproject.db.operations``), and SQLite's AUTOINCREMENT does so by
itself. Auth numbers are strings: they are drawn from a PostgreSQL sequence (or, on SQLite,
which has one writer at a time, from the largest numeric number in the table) and any
candidate already taken is skipped.

``insert_under_fresh_keys`` is the one loop that inserts rows under drawn keys and draws again
for any key a concurrent writer took meanwhile; the batch writers and the admin both use it.

The trigger moves the sequence only when the statement writing an explicit key runs. A batch
writes in chunks: between its first chunk and its last, another batch could draw the keys its
later chunks name, and those items would then update rows they never created. So a batch that
names numeric keys *reserves* them first (``reserve_keys``, in its first write transaction): the
sequence is moved past its largest numeric key under an exclusive transaction advisory lock on
the sequence, and every draw takes the same lock shared in the statement that calls
``nextval``, so a draw happens either wholly before a reservation or after it. On SQLite (one
writer at a time) the reservation is a row of ``sqlite_sequence``, which draws read too.

What remains: keys drawn *before* a batch's first write transaction, by a batch that
committed them first; the later batch's items naming them then update those records (200),
exactly as if the two requests had been sent one after the other, in that order.
"""

from django.db import DataError, transaction

from vbaproject.db.operations import sequence_name

KEY_MAX = 2**31 - 1  # integer keys are 32-bit (README, *For API consumers*)


class KeySpaceExhausted(Exception):
    """No integer key is left to assign."""


def insert_under_fresh_keys(connection, model, count, insert, avoid=frozenset()):
    """Insert ``count`` new records under fresh keys; give their keys, in order.

    ``insert(pairs)`` inserts record ``position`` under ``key`` for each ``(key, position)``
    pair, skipping a key someone else took meanwhile, and gives the set of keys it inserted;
    the records left over are given fresh keys again until every one is in.
    """
    keys = [None] * count
    pending = list(range(count))
    while pending:
        fresh = allocate_keys(connection, model, len(pending), avoid)
        candidates = dict(zip(fresh, pending, strict=True))
        for key in insert(list(candidates.items())):
            keys[candidates.pop(key)] = key
        pending = sorted(candidates.values())
    return keys


def _pg_sequence_values(cursor, sequence_sql, count):
    # The reservation lock, shared, taken before nextval runs (the CTE is evaluated first).
    cursor.execute(
        f"WITH s AS MATERIALIZED (SELECT q, pg_advisory_xact_lock_shared(hashtext(q)) "
        f"FROM (SELECT {sequence_sql} AS q) AS n) "
        f"SELECT nextval(s.q::regclass) FROM s, generate_series(1, %s)",
        [count],
    )
    return [row[0] for row in cursor.fetchall()]


def _integer_key(meta):
    return meta.pk.get_internal_type() in {"AutoField", "BigAutoField", "IntegerField"}


def _pg_sequence_sql(model):
    """The SQL naming ``model``'s key sequence as text (also the text of its advisory lock)."""
    meta = model._meta
    if _integer_key(meta):
        return f"pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}')"
    return f"'{sequence_name(model)}'"


def _largest_numeric(keys, integer_key):
    if integer_key:
        return max((k for k in keys if isinstance(k, int)), default=None)
    # Auth numbers: only the canonical decimal form can ever be drawn (str(n)).
    numeric = (k for k in keys if isinstance(k, str) and k.isdigit() and len(k) < 19)
    return max((int(k) for k in numeric if str(int(k)) == k), default=None)


def reserve_keys(connection, model, explicit_keys):
    """Keep every later draw of ``model``'s keys past the numeric keys in ``explicit_keys``.

    Call it inside the batch's first write transaction, before it writes anything. Nothing to
    do (and no statement) when the batch names no numeric key; one statement when the
    sequence is already past them, as it is for a batch of updates.
    """
    meta = model._meta
    integer_key = _integer_key(meta)
    top = _largest_numeric(explicit_keys, integer_key)
    if top is None:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT q, coalesce(pg_sequence_last_value(q::regclass), 0) < %s "
                f"FROM (SELECT {_pg_sequence_sql(model)} AS q) AS s",
                [top],
            )
            sequence, behind = cursor.fetchone()
            if behind:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [sequence])
                cursor.execute(
                    "SELECT setval(%s::regclass, %s, true) "
                    "WHERE coalesce(pg_sequence_last_value(%s::regclass), 0) < %s",
                    [sequence, top, sequence, top],
                )
            return
        name = meta.db_table if integer_key else sequence_name(model)
        cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s AND seq < %s", [top, name, top])
        cursor.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT %s, %s "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)",
            [name, top, name],
        )


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
    integer_key = _integer_key(meta)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sequence_sql = _pg_sequence_sql(model)
            if integer_key:
                try:
                    with transaction.atomic(using=connection.alias):
                        return _pg_sequence_values(cursor, sequence_sql, count)
                except DataError:  # the sequence is exhausted: a client took the largest key
                    return _free_keys_below_the_top(cursor, table, column, count, taken)
            candidates = [str(v) for v in _pg_sequence_values(cursor, sequence_sql, count)]
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
            numeric = f"{column} GLOB '[0-9]*' AND {column} NOT GLOB '*[^0-9]*' AND length({column}) < 19"
            cursor.execute(  # the largest numeric number, or a reservation beyond it
                f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                f"coalesce((SELECT max(CAST({column} AS INTEGER)) FROM {table} WHERE {numeric}), 0))",
                [sequence_name(model)],
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
