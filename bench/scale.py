"""Lists, sorts, search and the admin with millions of rows, on PostgreSQL.

``make bench`` (bench/run.py) measures the batch routes on 10,000 rows; this measures what a
client and a grievance clerk wait for once a client database holds years of data: by default
1,000,000 Grievances and 3,000,000 Auths.

How: it creates throwaway databases on the PostgreSQL server at ``--postgres`` (a control
database and one client database, both named ``vba_scale_*``), migrates them with
``manage.py migrate_all``, and loads the rows straight into the tables with COPY (text
format, in one transaction: the secondary indexes are dropped first and rebuilt after, the
key sequences moved past the loaded keys, then VACUUM ANALYZE). The values are plausible
and varied: a few status and type codes with realistic weights, members ``S`` + 6-8 digits
with member sequences 01-04, dates over three years in the order records were entered,
some of them null. It never goes through the API for the load: that would take hours.

Then it starts the real server (gunicorn, like bench/run.py; gunicorn's default 30 s worker
timeout unless ``--worker-timeout``), creates an API key, an API user and a superuser with
the manage.py commands, logs in to the API and to the admin (session cookie), and times
each query of ``QUERIES`` ``--repeat`` times after one untimed warm-up: p50 and p95 in ms
beside its target. Every answer is checked (status 200, and rows where rows are expected);
a failure shows in the table, never hidden. Last, once, the admin's CSV export of every
grievance (*Select all*), with its time and the worker's peak memory: it may be slow, or be
killed by the worker timeout, and the table says which.

``--keep`` leaves the databases in place and ``--reuse`` uses them again when they hold the
same numbers of rows, so a rerun skips the load. Without ``--keep`` they are dropped at the
end, also after an error or Ctrl-C. Nothing here is a test: it measures, and ``--json``
writes the figures to a file.

    .venv/bin/python -m bench.scale --grievances 100000 --auths 100000   # a quick run
    .venv/bin/python -m bench.scale --keep                                # full size, kept
    .venv/bin/python -m bench.scale --reuse --keep --json scale.json      # again, no load
"""

import argparse
import base64
import contextlib
import datetime as dt
import http.client
import http.cookies
import json
import math
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bench.server import ROOT, Server, manage, request

CONTROL_DB = "vba_scale_control"
CLIENT_DB = "vba_scale_client"
ALIAS = "scale"  # the client database's name in VBA_DATABASES and in the vbasoftware-database header
API_USER, ADMIN_USER = "scale-api", "scale-admin"
PASSWORD = "Measure-at-scale-9431!"
NULL = "\\N"  # COPY's text format


def log(message):
    print(message, file=sys.stderr, flush=True)


# The queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One timed request. ``path`` is formatted with the facts read from the loaded data."""

    group: str  # "api" (key and token), "admin" (session cookie) or "public" (no credentials)
    label: str
    path: str | None  # None: not implemented yet, reported as n/a
    target_ms: float
    rows: bool = True  # the answer must hold rows (API: non-empty data; admin: a result list)


API_MS, ADMIN_MS = 20, 300
G, A = "/vbasoftware/grievances", "/vbasoftware/auths"
GA, AA = f"/admin/{ALIAS}/grievances/grievance/", f"/admin/{ALIAS}/auths/auth/"


def api_queries(noun, path, status_filter, subscriber, sort_field, deep_page, cursor):
    """The API queries asked of one entity's list: page 1, a filter, an ID, a sort both ways, a
    filter with a sort, the deepest page an offset may reach, and a deep page by cursor."""
    sorts = [f"sortBy={sort_field}:{direction}" for direction in ("desc", "asc")]
    return [
        Query("api", f"{noun} page 1", path, API_MS),
        *(
            Query("api", f"{noun} {q}", f"{path}?{q}", API_MS)
            for q in [status_filter, subscriber, *sorts, f"{status_filter}&{sorts[0]}"]
        ),
        Query(
            "api", f"{noun} page 100, pageSize 100 (offset 9,900: the deepest)", f"{path}?page=100", API_MS
        ),
        Query("api", f"{noun} page {deep_page} via cursor (after=)", f"{path}?after={cursor}", API_MS),
    ]


QUERIES = [
    *api_queries(
        "grievances",
        G,
        "grievance_Status=OPEN",
        "subscriber_ID={subscriber}",
        "grievance_Received",
        "{deep_page}",
        "{cursor}",
    ),
    Query(
        "api",
        "grievances sortBy=grievance_Received:desc, page {deep_page} via cursor",
        G + "?sortBy=grievance_Received:desc&after={sorted_cursor}",
        API_MS,
    ),
    *api_queries(
        "auths",
        A,
        "status=APPROVED",
        "subscriber_ID={auth_subscriber}",
        "received_Date",
        "{auth_deep_page}",
        "{auth_cursor}",
    ),
    Query("public", "openapi.json", "/vbasoftware/openapi.json", API_MS, rows=False),
    Query("admin", "grievances changelist", GA, ADMIN_MS),
    Query("admin", "grievances search key q={grievance_key}", GA + "?q={grievance_key}", ADMIN_MS),
    Query("admin", "grievances search member q={subscriber_prefix}", GA + "?q={subscriber_prefix}", ADMIN_MS),
    Query(
        "admin",
        "grievances filter grievance_Status__exact=OPEN",
        GA + "?grievance_Status__exact=OPEN",
        ADMIN_MS,
    ),
    Query(
        "admin",
        "grievances drill-down {year}-{month:02d}",
        GA + "?grievance_Received__year={year}&grievance_Received__month={month}",
        ADMIN_MS,
    ),
    Query("admin", "auths changelist", AA, ADMIN_MS),
    Query("admin", "auths search number q={auth_number}", AA + "?q={auth_number}", ADMIN_MS),
    Query(
        "admin",
        "auths search member q={auth_subscriber_prefix}",
        AA + "?q={auth_subscriber_prefix}",
        ADMIN_MS,
    ),
    Query("admin", "auths filter status__exact=APPROVED", AA + "?status__exact=APPROVED", ADMIN_MS),
]


# Databases ------------------------------------------------------------------------------------


def connect(server, name, **kwargs):
    import psycopg

    return psycopg.connect(server + name, **kwargs)


def database_exists(server, name):
    with connect(server, "postgres", autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def create_databases(server):
    with connect(server, "postgres", autocommit=True) as admin:
        for name in (CONTROL_DB, CLIENT_DB):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")


def drop_databases(server):
    with connect(server, "postgres", autocommit=True) as admin:
        for name in (CONTROL_DB, CLIENT_DB):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def loaded_marker(server):
    """What the client database holds, as the load wrote it in the database's comment."""
    with connect(server, "postgres", autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [CLIENT_DB]
        ).fetchone()
    return row[0] if row else None


def marker_text(args):
    return f"vba scale bench: grievances={args.grievances} auths={args.auths} seed={args.seed}"


# The rows -------------------------------------------------------------------------------------

SPAN_DAYS = 3 * 365  # records entered over the last three years
TODAY = dt.date.today()
FIRST_DAY = TODAY - dt.timedelta(days=SPAN_DAYS)
MARGIN = 400  # days before and after the span that derived dates may fall on
DAYS = [(FIRST_DAY + dt.timedelta(days=d - MARGIN)).isoformat() + " " for d in range(SPAN_DAYS + 2 * MARGIN)]
TIMES = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(86400)]
OFFICE = TIMES[7 * 3600 : 19 * 3600]  # entered in office hours
MIDNIGHT = TIMES[0]
LAST = MARGIN + SPAN_DAYS - 1  # yesterday: the last day anything has happened on
USERS = [
    f"{first}{last}"[:20]
    for first in ("a", "j", "m", "s", "k")
    for last in ("nguyen", "smith", "garcia", "okafor", "muller")
]
PHRASES = [
    "member called about",
    "a delayed claim payment",
    "asked for a review of the decision",
    "the provider office reported",
    "the referral was not on file",
    "the prior authorization was requested late",
    "the pharmacy denied the refill at the counter",
    "transport to the appointment did not arrive",
    "billing sent the balance to collections in error",
    "the specialist wait time exceeded the standard",
    "follow-up letter mailed",
    "escalated to the medical director",
    "member satisfied with the outcome",
    "no further action needed",
]


def _sentences(rng, count, low, high):
    return [
        ", ".join(rng.choices(PHRASES, k=rng.randint(low, high))).capitalize() + "." for _ in range(count)
    ]


class Pools:
    """Values drawn from per row: members, providers, texts, amounts."""

    def __init__(self, rng, members):
        self.subscribers = [f"S{rng.randrange(100_000, 100_000_000)}" for _ in range(members)]
        self.providers = [f"P{rng.randrange(10**7):07d}" for _ in range(25_000)]
        self.federal_ids = [f"{rng.randrange(10**8, 10**9)}" for _ in self.providers]
        self.texts = _sentences(rng, 400, 2, 8)
        self.notes = _sentences(rng, 200, 1, 3)
        self.amounts = [f"{rng.lognormvariate(6.5, 1.2):.2f}" for _ in range(5000)]
        self.units = [str(n) for n in range(1, 61)]
        self.service_codes = [f"{rng.randrange(10000, 99999)}" for _ in range(300)]
        self.plans = [f"PLAN{n:03d}" for n in range(1, 13)]


SEQS, SEQ_WEIGHTS = ["01", "02", "03", "04"], [60, 25, 10, 5]
LAGS = list(range(31))
LAG_WEIGHTS = [1 / (1 + lag) for lag in LAGS]  # most received a few days before entry


def _randoms(rng, n):
    return [rng.random() for _ in range(n)]


def _stamp(days, times):
    return [DAYS[d] + t for d, t in zip(days, times, strict=True)]


def _maybe(rng, values, filled):
    return [v if r < filled else NULL for v, r in zip(values, _randoms(rng, len(values)), strict=True)]


def _entry_days(start, n, total):
    """The day (index into DAYS) each row was entered: keys follow time, as in a live system."""
    return [MARGIN + (i * SPAN_DAYS) // total for i in range(start, start + n)]


def _members(rng, pools, n):
    return rng.choices(pools.subscribers, k=n), rng.choices(SEQS, SEQ_WEIGHTS, k=n)


def grievance_chunk(rng, pools, start, n, total):
    """Columns (name → text values) of grievances ``start`` .. ``start + n - 1``."""
    day = _entry_days(start, n, total)
    received_day = [d - lag for d, lag in zip(day, rng.choices(LAGS, LAG_WEIGHTS, k=n), strict=True)]
    entry = _stamp(day, rng.choices(OFFICE, k=n))
    status = rng.choices(["OPEN", "PENDING", "REVIEW", "RESOLVED", "CLOSED"], [14, 9, 7, 55, 15], k=n)
    resolved_day = [r + rng.randint(1, 90) for r in received_day]
    resolved = [
        DAYS[min(d, LAST)] + t if s in ("RESOLVED", "CLOSED") else NULL
        for d, t, s in zip(resolved_day, rng.choices(OFFICE, k=n), status, strict=True)
    ]
    entry_user = rng.choices(USERS, k=n)
    subscribers, seqs = _members(rng, pools, n)
    return {
        "grievance_Key": [str(i + 1) for i in range(start, start + n)],
        "entry_Date": entry,
        "entry_User": entry_user,
        "update_Date": [max(e, r) if r != NULL else e for e, r in zip(entry, resolved, strict=True)],
        "update_User": [
            u if r == NULL else v
            for u, v, r in zip(entry_user, rng.choices(USERS, k=n), resolved, strict=True)
        ],
        "grievance_Received": _maybe(rng, _stamp(received_day, rng.choices(TIMES, k=n)), 0.96),
        "grievance_Filed": _maybe(
            rng,
            _stamp([min(d + rng.randint(0, 3), LAST) for d in received_day], rng.choices(OFFICE, k=n)),
            0.85,
        ),
        "grievance_Resolved": resolved,
        "resolution_Date": resolved,
        "resolution_Type": [
            NULL if r == NULL else t
            for r, t in zip(
                resolved,
                rng.choices(["UPHELD", "OVERTURN", "WITHDRAWN", "PARTIAL"], [50, 30, 12, 8], k=n),
                strict=True,
            )
        ],
        "resolution": [
            NULL if r == NULL else t for r, t in zip(resolved, rng.choices(pools.texts, k=n), strict=True)
        ],
        "grievance_Status": status,
        "grievance_Type": rng.choices(
            ["QUALITY", "ACCESS", "BILLING", "SERVICE", "APPEAL"], [30, 25, 25, 15, 5], k=n
        ),
        "grievance_Category": rng.choices(
            ["CLINICAL", "ADMIN", "PHARMACY", "BEHAVIORAL", NULL], [35, 35, 15, 5, 10], k=n
        ),
        "grievance_Source": rng.choices(
            ["PHONE", "MAIL", "PORTAL", "FAX", "EMAIL"], [45, 15, 25, 5, 10], k=n
        ),
        "issue_Type": rng.choices(
            ["DELAY", "DENIAL", "RUDENESS", "COST", "ACCESS", NULL], [30, 25, 10, 20, 10, 5], k=n
        ),
        "issue_Date": _maybe(
            rng, _stamp([d - rng.randint(0, 20) for d in received_day], [MIDNIGHT] * n), 0.75
        ),
        "issue": _maybe(rng, rng.choices(pools.texts, k=n), 0.9),
        "subscriber_ID": subscribers,
        "member_Seq": seqs,
        "provider_ID": _maybe(rng, rng.choices(pools.providers, k=n), 0.8),
        "patient_Account_Number": _maybe(rng, [f"PA{rng.randrange(10**9):09d}" for _ in range(n)], 0.4),
        "call_Key": _maybe(rng, [str(rng.randrange(1, 2**31 - 1)) for _ in range(n)], 0.3),
        "admin_Change_Type": _maybe(rng, rng.choices(["REPROCESS", "POLICY", "EXCEPTION"], k=n), 0.03),
    }


AUTH_BASE = 10_000_001  # auth numbers are numeric strings, as the server assigns them


def auth_chunk(rng, pools, start, n, total):
    """Columns (name → text values) of auths ``start`` .. ``start + n - 1``."""
    day = _entry_days(start, n, total)
    received_day = [d - rng.randint(0, 5) for d in day]
    entry = _stamp(day, rng.choices(OFFICE, k=n))
    status = rng.choices(
        ["APPROVED", "PENDED", "DENIED", "OPEN", "VOID", "CLOSED"], [62, 10, 12, 8, 4, 4], k=n
    )
    approved = [s in ("APPROVED", "CLOSED") for s in status]
    denied = [s == "DENIED" for s in status]
    decided = [s in ("APPROVED", "CLOSED", "DENIED", "PENDED") for s in status]
    from_day = [r + rng.randint(0, 14) for r in received_day]
    thru_day = [f + rng.choice((30, 60, 90, 180, 365)) for f in from_day]
    decided_day = [min(r + rng.randint(0, 10), LAST) for r in received_day]
    requested_from = _stamp(from_day, [MIDNIGHT] * n)
    requested_thru = _stamp(thru_day, [MIDNIGHT] * n)
    decision = [
        DAYS[d] + t if ok else NULL
        for d, t, ok in zip(decided_day, rng.choices(OFFICE, k=n), decided, strict=True)
    ]
    entry_user = rng.choices(USERS, k=n)
    subscribers, seqs = _members(rng, pools, n)
    provider = rng.choices(range(len(pools.providers)), k=n)
    requested_amount = rng.choices(pools.amounts, k=n)
    requested_units = rng.choices(pools.units, k=n)
    urgent = rng.choices(["t", "f"], [12, 88], k=n)

    def when(flags, values):
        return [v if ok else NULL for v, ok in zip(values, flags, strict=True)]

    return {
        "auth_Number": [str(AUTH_BASE + i) for i in range(start, start + n)],
        "entry_Date": entry,
        "entry_User": entry_user,
        "update_Date": [max(e, d) if d != NULL else e for e, d in zip(entry, decision, strict=True)],
        "update_User": entry_user,
        "received_Date": _maybe(rng, _stamp(received_day, rng.choices(TIMES, k=n)), 0.98),
        "status": status,
        "auth_Type": rng.choices(
            ["OUTPAT", "INPAT", "REFERRAL", "DME", "HOMEHLTH", "RX"], [45, 20, 12, 10, 8, 5], k=n
        ),
        "auth_Code": [
            ("URGENT" if u == "t" else c)
            for u, c in zip(urgent, rng.choices(["STD", "RETRO"], [90, 10], k=n), strict=True)
        ],
        "service_Type": rng.choices(
            ["MEDICAL", "SURGICAL", "THERAPY", "BEHAV", "RADIOLOGY"], [40, 20, 20, 10, 10], k=n
        ),
        "service_Code": rng.choices(pools.service_codes, k=n),
        "treatment_Type": _maybe(
            rng, rng.choices(["PT", "OT", "CHIRO", "SPEECH"], [50, 25, 15, 10], k=n), 0.4
        ),
        "unit_Type": rng.choices(["VISITS", "DAYS", "UNITS"], [60, 20, 20], k=n),
        "urgent": urgent,
        "requested_From": requested_from,
        "requested_Thru": requested_thru,
        "requested_Location": rng.choices(["11", "21", "22", "12", "81"], k=n),
        "amount_Requested": requested_amount,
        "units_Requested": requested_units,
        "visits_Requested": requested_units,
        "approved_Date": decision,
        "approved_By": when(decided, rng.choices(USERS, k=n)),
        "approved_From": when(approved, requested_from),
        "approved_Thru": when(approved, requested_thru),
        "amount_Approved": when(approved, requested_amount),
        "units_Approved": when(approved, requested_units),
        "visits_Approved": when(approved, requested_units),
        "denied_From": when(denied, requested_from),
        "denied_Thru": when(denied, requested_thru),
        "amount_Denied": when(denied, requested_amount),
        "units_Denied": when(denied, requested_units),
        "subscriber_ID": subscribers,
        "member_Seq": seqs,
        "plan_ID": rng.choices(pools.plans, k=n),
        "provider_ID": _maybe(rng, [pools.providers[p] for p in provider], 0.95),
        "federal_ID": _maybe(rng, [pools.federal_ids[p] for p in provider], 0.9),
        "assigned_User": _maybe(rng, rng.choices(USERS, k=n), 0.7),
        "case_Number": _maybe(rng, [f"CC{rng.randrange(10**7):07d}" for _ in range(n)], 0.15),
        "prior_Auth": _maybe(
            rng, [str(AUTH_BASE + rng.randrange(max(i, 1))) for i in range(start, start + n)], 0.04
        ),
        "region": rng.choices(["N", "S", "E", "W", NULL], [20, 20, 20, 20, 20], k=n),
        "notes": _maybe(rng, rng.choices(pools.notes, k=n), 0.25),
        "closed": ["t" if s in ("CLOSED", "VOID") else "f" for s in status],
        "new_Or_Extended": rng.choices(["t", "f"], [10, 90], k=n),
        "previous_Treatment": rng.choices(["t", "f"], [15, 85], k=n),
        "tPlan_DownLoaded": ["f"] * n,
        "tPlan_Printed": rng.choices(["N", "Y"], [90, 10], k=n),
    }


def _fallback(field, n, columns):
    """A value for a NOT NULL column the generator does not know (the model gained one)."""
    kind = field.get_internal_type()
    if kind == "BooleanField":
        return ["f"] * n
    if kind in ("IntegerField", "BigIntegerField", "SmallIntegerField", "FloatField", "DecimalField"):
        return ["0"] * n
    if kind == "DateTimeField":
        return columns["entry_Date"]
    return ["N"[: field.max_length or 1]] * n


def complete(model, columns, n, warned):
    """Check ``columns`` against the model and fill the NOT NULL columns the generator left out."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    unknown = sorted(set(columns) - set(fields))
    if unknown:
        raise RuntimeError(f"{model.__name__}: the generator writes columns the model lacks: {unknown}")
    for column, field in fields.items():
        if column not in columns and not field.null:
            if column not in warned:
                log(f"  {model.__name__}.{column} is NOT NULL, unknown to the generator: a default")
                warned.add(column)
            columns[column] = _fallback(field, n, columns)
    return columns


def load_table(server, model, total, make_chunk, rng, pools, chunk_rows):
    """TRUNCATE, drop the secondary indexes, COPY every row, rebuild the indexes: one transaction."""
    from psycopg import sql
    from psycopg.copy import QueuedLibpqWriter

    meta = model._meta
    table = sql.Identifier(meta.db_table)
    started = time.perf_counter()
    with connect(server, CLIENT_DB) as conn, conn.cursor() as cursor:
        if cursor.execute("SELECT to_regclass(%s)", [meta.db_table]).fetchone()[0] is None:
            raise RuntimeError(f"migrate_all did not create {meta.db_table} in {CLIENT_DB}")
        cursor.execute("SET LOCAL session_replication_role = replica")  # no user triggers while loading
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        indexes = cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1",
            [meta.db_table],
        ).fetchall()
        cursor.execute(sql.SQL("TRUNCATE {}").format(table))
        for name, _ in indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        warned, done = set(), 0
        n = min(chunk_rows, total)
        columns = complete(model, make_chunk(rng, pools, 0, n, total), n, warned)
        order = list(columns)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT text, FREEZE true)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, order))
        )
        # The queued writer sends on a thread of its own while this one makes the next chunk.
        with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
            while True:
                data = "\n".join(map("\t".join, zip(*(columns[c] for c in order), strict=True))) + "\n"
                copy.write(data.encode())
                done += n
                rate = done / (time.perf_counter() - started)
                log(f"  {meta.db_table}: {done:,} / {total:,} rows sent ({rate:,.0f} rows/s)")
                if done >= total:
                    break
                n = min(chunk_rows, total - done)
                columns = complete(model, make_chunk(rng, pools, done, n, total), n, warned)
        copied = time.perf_counter() - started
        log(f"  {meta.db_table}: COPY done in {copied:.0f} s; rebuilding {len(indexes)} indexes")
        for _, definition in indexes:
            cursor.execute(definition)
        pk = meta.pk
        column = sql.Identifier(pk.column)
        if pk.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField"):
            cursor.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max({}) FROM {}))").format(
                    column, table
                ),
                [meta.db_table, pk.column],
            )
        else:  # string keys drawn from a plain sequence (vbaproject's keys module: table + "_key_seq")
            sequence = f"{meta.db_table}_key_seq"
            if cursor.execute("SELECT to_regclass(%s)", [sequence]).fetchone()[0] is None:
                log(f"  {sequence} does not exist: the key sequence was not moved")
            else:
                cursor.execute(
                    sql.SQL(
                        "SELECT setval(%s, (SELECT max({c}::bigint) FROM {t} WHERE {c} ~ '^[0-9]{{1,18}}$'))"
                    ).format(c=column, t=table),
                    [sequence],
                )
    with connect(server, CLIENT_DB, autocommit=True) as conn:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(table))
    seconds = time.perf_counter() - started
    log(f"  {meta.db_table}: {total:,} rows loaded in {seconds:.0f} s (COPY {copied:.0f} s)")
    return {"table": meta.db_table, "rows": total, "seconds": seconds, "copy_seconds": copied}


def load(server, args):
    from django.apps import apps

    rng = random.Random(args.seed)
    pools = Pools(rng, max(1000, (args.grievances + args.auths) // 8))
    figures = []
    for label, total, make_chunk in (
        ("grievances.Grievance", args.grievances, grievance_chunk),
        ("auths.Auth", args.auths, auth_chunk),
    ):
        figures.append(
            load_table(server, apps.get_model(label), total, make_chunk, rng, pools, args.chunk_rows)
        )
    with connect(server, "postgres", autocommit=True) as admin:
        admin.execute(f"COMMENT ON DATABASE {CLIENT_DB} IS '{marker_text(args)}'")
    return figures


def facts(server, args):
    """Values the queries name (an existing key, a member prefix, a month), read from the data."""
    from django.apps import apps
    from psycopg import sql

    grievance, auth = apps.get_model("grievances.Grievance"), apps.get_model("auths.Auth")
    names = {
        "g": sql.Identifier(grievance._meta.db_table),
        "a": sql.Identifier(auth._meta.db_table),
        "gk": sql.Identifier(grievance._meta.pk.column),
        "an": sql.Identifier(auth._meta.pk.column),
    }
    with connect(server, CLIENT_DB) as conn:
        key, subscriber, received, count = conn.execute(
            sql.SQL(
                'SELECT {gk}, "subscriber_ID", "grievance_Received", (SELECT count(*) FROM {g}) FROM {g} '
                'WHERE {gk} >= (SELECT max({gk}) / 2 FROM {g}) AND "subscriber_ID" IS NOT NULL '
                'AND "grievance_Received" IS NOT NULL ORDER BY {gk} LIMIT 1'
            ).format(**names)
        ).fetchone()
        number, auth_subscriber, auth_count = conn.execute(
            sql.SQL(
                'SELECT {an}, "subscriber_ID", (SELECT count(*) FROM {a}) FROM {a} '
                'WHERE {an} >= %s AND "subscriber_ID" IS NOT NULL ORDER BY {an} LIMIT 1'
            ).format(**names),
            [str(AUTH_BASE + args.auths // 2)],
        ).fetchone()
        deep_page, auth_deep_page = (min(5000, max(2, n // 200)) for n in (count, auth_count))
        # The record just before each deep page, for its cursor (what NextCursor would have said).
        (before_deep,) = conn.execute(
            sql.SQL("SELECT {gk} FROM {g} ORDER BY {gk} OFFSET %s LIMIT 1").format(**names),
            [(deep_page - 1) * 100 - 1],
        ).fetchone()
        before_sorted = conn.execute(
            sql.SQL(
                'SELECT "grievance_Received", {gk} FROM {g} '
                'ORDER BY "grievance_Received" DESC NULLS LAST, {gk} DESC OFFSET %s LIMIT 1'
            ).format(**names),
            [(deep_page - 1) * 100 - 1],
        ).fetchone()
        (before_auth,) = conn.execute(
            sql.SQL("SELECT {an} FROM {a} ORDER BY {an} OFFSET %s LIMIT 1").format(**names),
            [(auth_deep_page - 1) * 100 - 1],
        ).fetchone()
    from vbaproject.api.lists import cursor_for

    return {
        "cursor": cursor_for(grievance, G, deep_page, [before_deep]),
        "sorted_cursor": cursor_for(
            grievance, G, deep_page, list(before_sorted), sort_by="grievance_Received:desc"
        ),
        "auth_cursor": cursor_for(auth, A, auth_deep_page, [before_auth]),
        "grievance_key": key,
        "subscriber": subscriber,
        "subscriber_prefix": subscriber[:5],
        "year": received.year,
        "month": received.month,
        "deep_page": deep_page,
        "grievance_count": count,
        "auth_number": number,
        "auth_subscriber": auth_subscriber,
        "auth_subscriber_prefix": auth_subscriber[:5],
        "auth_deep_page": auth_deep_page,
        "auth_count": auth_count,
    }


# The server -----------------------------------------------------------------------------------


class Session:
    """A browser's cookie jar, enough for the admin: csrftoken and sessionid."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, form=None, timeout=300):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, answer_headers, data = request(self.port, method, path, body, headers, timeout)
        for raw in answer_headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(raw).items():
                self.cookies[name] = morsel.value
        return status, answer_headers, data


CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(page):
    match = CSRF_INPUT.search(page)
    if not match:
        raise RuntimeError("no csrfmiddlewaretoken on the page")
    return match.group(1).decode()


def credentials(env, port):
    """API headers (key and ID token) and a logged-in admin session."""
    key = manage(env, "create_api_key", "scale bench", "--databases", ALIAS).strip().splitlines()[-1]
    user_env = {**env, "VBA_USER_PASSWORD": PASSWORD}
    manage(user_env, "create_api_user", API_USER, "--databases", ALIAS)
    manage(user_env, "create_api_user", ADMIN_USER, "--superuser")
    basic = base64.b64encode(f"{API_USER}:{PASSWORD}".encode()).decode()
    status, _, body = request(
        port,
        "POST",
        "/vbasoftware/user-authentication",
        headers={"x-api-key": key, "Authorization": f"Basic {basic}", "vbasoftware-database": ALIAS},
    )
    if status != 200:
        raise RuntimeError(f"API login answered {status}: {body[:500]!r}")
    token = json.loads(body)["data"]["authenticationResult"]["idToken"]
    api = {"x-api-key": key, "Authorization": f"Bearer {token}", "vbasoftware-database": ALIAS}
    session = Session(port)
    status, _, page = session.request("GET", "/admin/login/?next=/admin/")
    if status != 200:
        raise RuntimeError(f"GET /admin/login/ answered {status}")
    form = {
        "username": ADMIN_USER,
        "password": PASSWORD,
        "next": "/admin/",
        "csrfmiddlewaretoken": csrf_token(page),
    }
    status, headers, _ = session.request("POST", "/admin/login/?next=/admin/", form)
    if status != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(
            f"the admin login answered {status}, location {headers.get('Location')}: not logged in"
        )
    return api, session


# Timing ---------------------------------------------------------------------------------------


def percentile(samples, fraction):
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def has_rows(query, body):
    if query.group == "admin":
        return b'id="result_list"' in body
    try:
        return bool(json.loads(body)["data"])
    except (ValueError, KeyError, TypeError):
        return False


def time_query(query, known, port, api, session, repeat):
    label = query.label.format(**known)
    result = {"group": query.group, "query": label, "target_ms": query.target_ms}
    if query.path is None:
        return {**result, "path": None, "error": "n/a until implemented"}
    path = query.path.format(**known)
    result["path"] = path

    def once():
        started = time.perf_counter()
        if query.group == "admin":
            status, _, body = session.request("GET", path)
        else:
            status, _, body = request(port, "GET", path, headers=api if query.group == "api" else {})
        return (time.perf_counter() - started) * 1000, status, body

    samples, failures = [], {}
    try:
        for attempt in range(repeat + 1):
            ms, status, body = once()
            problem = None
            if status != 200:
                problem = f"status {status}"
            elif query.rows and not has_rows(query, body):
                problem = "no rows in the answer"
            if problem:
                failures[problem] = failures.get(problem, 0) + 1
                if attempt == 0 and status >= 500:
                    break  # the server fails it: no use asking 20 more times
            elif attempt:  # the first answer warms up and is not timed
                samples.append(ms)
    except OSError as exc:
        failures[f"{type(exc).__name__}: {exc}"] = 1
    if samples:
        result.update(p50_ms=percentile(samples, 0.5), p95_ms=percentile(samples, 0.95), samples_ms=samples)
        result["met"] = result["p50_ms"] < query.target_ms
    if failures:
        result["error"] = "; ".join(f"{problem} x{count}" for problem, count in failures.items())
        result["met"] = False
    return result


def export_csv(server, session, known):
    """The admin's CSV export of every grievance, once: status, seconds, size, worker peak memory."""
    label = f"CSV export, select all {known['grievance_count']:,} grievances (once)"
    result = {"group": "admin", "query": label, "target_ms": None}
    status, _, page = session.request("GET", GA)
    if status != 200:
        return {**result, "error": f"the changelist answered {status}", "met": False}
    workers = server.workers()
    idle = max(server.memory_mb("VmRSS", pid) for pid in workers)
    peaks = {pid: server.memory_mb("VmHWM", pid) for pid in workers}
    done = threading.Event()

    def watch():  # the worker may be killed mid-request: keep its last high-water mark
        while not done.wait(0.1):
            for pid in workers:
                with contextlib.suppress(OSError, LookupError):
                    peaks[pid] = server.memory_mb("VmHWM", pid)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    form = {
        "action": "export_csv",
        "select_across": "1",
        "index": "0",
        "_selected_action": str(known["grievance_key"]),
        "csrfmiddlewaretoken": csrf_token(page),
    }
    timeouts = server.timeouts()
    started = time.perf_counter()
    try:
        status, headers, body = session.request("POST", GA, form, timeout=3600)
        outcome = f"status {status}"
        if status == 200 and headers.get("Content-Type", "").startswith("text/csv"):
            rows = body.count(b"\n") - 1
            outcome += f", {rows:,} rows, {len(body) / 2**20:,.0f} MB of CSV"
        elif status == 200:
            outcome += ", but not a CSV file"
            status = None
    except (OSError, http.client.HTTPException) as exc:
        status, outcome = None, f"no answer ({type(exc).__name__}: {exc}; worker killed by its timeout?)"
    seconds = time.perf_counter() - started
    time.sleep(0.5)  # for gunicorn to log the timeout
    if server.timeouts() > timeouts:
        outcome += " (gunicorn: WORKER TIMEOUT, the worker was killed)"
    done.set()
    watcher.join()
    peak = max(peaks.values())
    result.update(seconds=seconds, status=status, idle_mb=idle, peak_mb=peak, met=status == 200)
    result["note"] = f"{outcome}, {seconds:,.1f} s, worker peak RSS {peak:,.0f} MB (idle {idle:,.0f} MB)"
    if status != 200:
        result["error"] = result["note"]
    return result


# The report -----------------------------------------------------------------------------------


def table(results, meta):
    width = max(len(r["query"]) for r in results) + 7
    head = f"{'query':<{width}} {'p50 ms':>9} {'p95 ms':>9} {'target':>9}  met?"
    lines = [head, "-" * len(head)]
    notes = []
    for r in results:
        name = f"{r['group']:<6} {r['query']}"
        target = f"<{r['target_ms']:g} ms" if r["target_ms"] else "-"
        if r.get("error") == "n/a until implemented":
            lines.append(f"{name:<{width}} {'n/a':>9} {'n/a':>9} {target:>9}  n/a until implemented")
            continue
        if "seconds" in r:
            lines.append(
                f"{name:<{width}} {r['seconds'] * 1000:>9,.0f} {'-':>9} {target:>9}  "
                f"{'ok' if r['met'] else 'FAILED'}: {r['note']}"
            )
            continue
        p50 = f"{r['p50_ms']:,.1f}" if "p50_ms" in r else "-"
        p95 = f"{r['p95_ms']:,.1f}" if "p95_ms" in r else "-"
        met = "yes" if r["met"] else "NO"
        if r.get("error"):
            met = "FAILED"
            notes.append(f"  {r['query']}: {r['error']} ({r.get('path')})")
        lines.append(f"{name:<{width}} {p50:>9} {p95:>9} {target:>9}  {met}")
    summary = (
        f"{meta['grievances']:,} grievances, {meta['auths']:,} auths; {meta['repeat']} timed requests per "
        f"query after a warm-up; gunicorn {meta['workers']} sync worker(s), "
        f"timeout {meta['worker_timeout']} s"
    )
    if meta.get("load_seconds") is not None:
        summary += f"; loaded in {meta['load_seconds']:,.0f} s"
    lines = [summary, "", *lines]
    if notes:
        lines += ["", "Failures:", *notes]
    return "\n".join(lines)


# The run --------------------------------------------------------------------------------------


def run(args):
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "scale-bench-only",
        "DATABASE_URL": args.postgres + CONTROL_DB,
        "VBA_DATABASES": json.dumps({ALIAS: args.postgres + CLIENT_DB}),
        "VBA_THROTTLE_RATE": "0",
        "VBA_LOG_LEVEL": "WARNING",
    }
    env.pop("VBA_CACHE_URL", None)
    os.environ.update({k: env[k] for k in ("DJANGO_SECRET_KEY", "DATABASE_URL", "VBA_DATABASES")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbaproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()  # for the models' metadata only: every row goes in by COPY

    meta = {
        "grievances": args.grievances,
        "auths": args.auths,
        "repeat": args.repeat,
        "workers": args.workers,
        "worker_timeout": args.worker_timeout or 30,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_seconds": None,
    }
    reuse = (
        args.reuse
        and database_exists(args.postgres, CONTROL_DB)
        and loaded_marker(args.postgres) == marker_text(args)
    )
    if reuse:
        log(f"Reusing {CLIENT_DB} ({marker_text(args)})")
    else:
        create_databases(args.postgres)
    log("Migrating")
    manage(env, "migrate_all", "-v0")
    if not reuse:
        log(f"Loading {args.grievances:,} grievances and {args.auths:,} auths")
        started = time.perf_counter()
        meta["tables"] = load(args.postgres, args)
        meta["load_seconds"] = time.perf_counter() - started
        log(f"Loaded in {meta['load_seconds']:,.0f} s")
    known = facts(args.postgres, args)
    meta["facts"] = dict(known)
    log("Starting the server")
    server = Server(env, args.port, args.workers, args.worker_timeout)
    results = []
    try:
        api, session = credentials(env, args.port)
        pattern = re.compile(args.only) if args.only else None
        for query in QUERIES:
            if pattern and not pattern.search(query.label):
                continue
            result = time_query(query, known, args.port, api, session, args.repeat)
            results.append(result)
            shown = f"p50 {result['p50_ms']:.1f} ms" if "p50_ms" in result else result.get("error", "")
            log(f"  {result['group']} {result['query']}: {shown}")
        if not args.no_export:
            log("CSV export of every grievance")
            results.append(export_csv(server, session, known))
            log(f"  {results[-1]['note']}")
    finally:
        server.stop()
        if any(r.get("error") not in (None, "n/a until implemented") for r in results):
            log(f"The server's log: {server.log.name}")
        else:
            Path(server.log.name).unlink()
    return results, meta


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--grievances", type=int, default=1_000_000, help="grievances to load (default 1,000,000)"
    )
    parser.add_argument("--auths", type=int, default=3_000_000, help="auths to load (default 3,000,000)")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per query (default 20)")
    parser.add_argument(
        "--postgres", default=os.environ.get("VBA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/")
    )
    parser.add_argument("--keep", action="store_true", help=f"keep {CONTROL_DB} and {CLIENT_DB} at the end")
    parser.add_argument("--reuse", action="store_true", help="reuse kept databases holding the same rows")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument(
        "--worker-timeout", type=int, default=0, help="gunicorn's --timeout (default: its own, 30 s)"
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--only", help="only the queries whose label matches this regular expression")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated rows")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="rows generated per COPY write")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if min(args.grievances, args.auths) < 2:
        parser.error("load at least 2 grievances and 2 auths")
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill as on Ctrl-C
    try:
        results, meta = run(args)
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_databases(args.postgres)
                log(f"Dropped {CONTROL_DB} and {CLIENT_DB}")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    print(table(results, meta))


if __name__ == "__main__":
    main()
