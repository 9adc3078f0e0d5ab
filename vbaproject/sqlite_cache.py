"""A cache shared by the processes of one machine, in a SQLite file: ``make run``'s throttle.

``make run`` serves with two gunicorn workers and no Redis. With the local-memory cache each
worker kept its own throttle counters, so a key got up to twice its allowance (119 of 150
requests admitted where the limit admits about 102). ``VBA_CACHE_URL=sqlite:///path`` selects
this backend instead, and the Makefile's ``run`` target sets it to ``var/cache.sqlite3``.

Why not Django's own backends: the throttle needs ``add`` and ``incr`` to be atomic across
processes (``vbaproject.accounts.throttling``). ``FileBasedCache.incr`` and
``DatabaseCache.incr`` are a read followed by a write, so two workers can read the same count
and both admit. Here each operation is one SQL statement, and SQLite runs every statement
under its database write lock:

- ``add``: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired ... RETURNING`` (a row comes
  back only when the key was missing or expired);
- ``incr``: ``UPDATE ... SET value = value + ? WHERE <live integer> RETURNING value``.

Integers are stored as SQLite integers (so ``incr`` can add in SQL), anything else pickled.
Expired rows are removed every ``CULL_EVERY`` writes per process. For one machine only: the
file must be on a local disk (SQLite's locks are not reliable over network file systems);
several machines share Redis instead.
"""

import pickle
import sqlite3
import threading
import time
from pathlib import Path

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

CULL_EVERY = 500
BUSY_TIMEOUT_SECONDS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_expires ON cache (expires);
"""
NEVER = 1e18  # expires for a timeout of None


class SQLiteCache(BaseCache):
    """``BACKEND: vbaproject.sqlite_cache.SQLiteCache``, ``LOCATION``: the file's path."""

    def __init__(self, location, params):
        super().__init__(params)
        self.path = Path(location)
        self._local = threading.local()
        self._writes = 0

    # The connection: one per thread, autocommit, WAL --------------------------------------------

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last writes on power loss is fine
            db.executescript(_SCHEMA)
            self._local.db = db
        return db

    def close(self, **kwargs):
        """Kept open for the thread's life: Django calls this at the end of every request."""

    def _expiry(self, timeout):
        timeout = self.get_backend_timeout(timeout)
        return NEVER if timeout is None else timeout

    @staticmethod
    def _encode(value):
        if type(value) is int and -(2**63) <= value < 2**63:
            return value
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _decode(stored):
        return stored if isinstance(stored, int) else pickle.loads(stored)  # only our own writes are read

    def _run(self, sql, params):
        return self._db().execute(sql, params)

    def _wrote(self):
        self._writes += 1
        if self._writes % CULL_EVERY == 0:
            self._run("DELETE FROM cache WHERE expires <= ?", [time.time()])

    # The cache API --------------------------------------------------------------------------------

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._run(
            "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
            "WHERE cache.expires <= ? RETURNING 1",
            [key, self._encode(value), self._expiry(timeout), time.time()],
        ).fetchone()
        self._wrote()
        return row is not None

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._run(
            "SELECT value FROM cache WHERE key = ? AND expires > ?", [key, time.time()]
        ).fetchone()
        return default if row is None else self._decode(row[0])

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        self._run(
            "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
            [key, self._encode(value), self._expiry(timeout)],
        )
        self._wrote()

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        changed = self._run(
            "UPDATE cache SET expires = ? WHERE key = ? AND expires > ?",
            [self._expiry(timeout), key, time.time()],
        ).rowcount
        return changed == 1

    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._run("DELETE FROM cache WHERE key = ?", [key]).rowcount == 1

    def has_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        sql = "SELECT 1 FROM cache WHERE key = ? AND expires > ?"
        return self._run(sql, [key, time.time()]).fetchone() is not None

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._run(
            "UPDATE cache SET value = value + ? WHERE key = ? AND expires > ? AND typeof(value) = 'integer' "
            "RETURNING value",
            [delta, key, time.time()],
        ).fetchone()
        if row is None:
            raise ValueError(f"Key '{key}' not found.")
        return row[0]

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version=version)

    def clear(self):
        self._run("DELETE FROM cache", [])
