"""``make bench``: the batch routes against the naive DRF way and against PostgreSQL's floor.

For each backend (SQLite, and PostgreSQL when reachable) and each entity (10,000 Auths and
10,000 Grievances, every field filled) it starts a real server (gunicorn, one worker) on fresh
databases, logs in through the real route, and PUTs the whole batch twice: a create pass, then
an update pass of the same keys. On the same rows it then measures, in this process:

- naive: a DRF ModelSerializer validating and saving one item at a time in a savepoint each,
  as a typical DRF app does (on the first ``--naive-rows`` rows: it is slow; items/s is a rate);
- floor: no validation; PostgreSQL: binary COPY into a temporary table plus one
  ``INSERT ... ON CONFLICT DO UPDATE``; SQLite: one prepared upsert run over every row;
- statements: what the engine sends per batch, counted in process.

It prints items/s, the route's ratio to both, and the server worker's peak memory over its
idle size, also as a multiple of the body's size beside its target (at most 3 times).

Then, for the first entity, what the fixed cost of a call is (``--parts sizes``): PUTs of 1, 10,
100, 1,000 and 10,000 new items, each size repeated, in ms per call and items/s, with ``PUT []``
(the same credentials, nothing to write) beside the 1-item call; and (``--parts scaling``) two
clients sending 100-item PUTs for a few seconds to one worker, then to two workers: the ratio of
their throughputs (the machine has two cores). Nothing here is a test: it measures, and
``--json`` writes the figures to a file.
"""

import argparse
import base64
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from bench.server import ROOT, Server, manage, request

# The entities measured by default: the widest (94 fields) and the most common. Any entity of
# the registry may be named with --entities.
ENTITIES = ("Auth", "Grievance")
PASSWORD = "bench-password-123"
PARTS = ("batch", "sizes", "scaling")
# Batch sizes of the fixed-cost table, and how many calls each is timed over.
SIZES = ((1, 300), (10, 150), (100, 40), (1_000, 8), (10_000, 2))
TARGETS = {"one_item_ms": 3.0, "one_item_over_empty": 2.0, "floor_ratio": 0.8, "two_workers": 1.8}
SCALING_SECONDS = 6


def log(message):
    print(message, file=sys.stderr, flush=True)


# Databases ------------------------------------------------------------------------------------


def sqlite_urls(workdir):
    return f"sqlite:///{workdir / 'control.sqlite3'}", f"sqlite:///{workdir / 'bench.sqlite3'}"


def postgres_urls(server):
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as admin:
        for name in ("vba_bench_control", "vba_bench"):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
    return server + "vba_bench_control", server + "vba_bench"


def postgres_reachable(server):
    try:
        import psycopg

        psycopg.connect(server + "postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


# The server -----------------------------------------------------------------------------------


def credentials(env, server):
    key = manage(env, "create_api_key", "bench", "--databases", "bench").strip().splitlines()[-1]
    manage({**env, "VBA_USER_PASSWORD": PASSWORD}, "create_api_user", "bencher", "--databases", "bench")
    basic = base64.b64encode(f"bencher:{PASSWORD}".encode()).decode()
    status, body = server.request(
        "POST",
        "/vbasoftware/user-authentication",
        headers={"x-api-key": key, "Authorization": f"Basic {basic}", "vbasoftware-database": "bench"},
    )
    assert status == 200, body
    token = orjson.loads(body)["data"]["authenticationResult"]["idToken"]
    return {
        "x-api-key": key,
        "Authorization": f"Bearer {token}",
        "vbasoftware-database": "bench",
        "Content-Type": "application/json",
    }


# The rows -------------------------------------------------------------------------------------


def make_items(model, count, seed, prefix):
    from vbaproject.spec.sample_data import sample_item

    rng = random.Random(seed)
    key = model._meta.pk.name
    make_key = (lambda i: f"{prefix}{i:07d}") if isinstance(prefix, str) else (lambda i: prefix + i)
    return [sample_item(model, rng, fill=1.0, **{key: make_key(i)}) for i in range(count)]


# In-process measurements ---------------------------------------------------------------------


def naive(model, items):
    """The typical DRF app: a ModelSerializer per item, a savepoint each."""
    from django.db import transaction
    from django.utils import timezone
    from rest_framework import serializers

    serializer_class = type(
        "NaiveSerializer",
        (serializers.ModelSerializer,),
        {"Meta": type("Meta", (), {"model": model, "fields": "__all__"})},
    )
    key = model._meta.pk.name
    start = time.perf_counter()
    for item in items:
        with transaction.atomic():
            instance = model.objects.filter(pk=item[key]).first()
            serializer = serializer_class(instance, data=item)
            serializer.is_valid(raise_exception=True)
            now = timezone.now()
            audit = {"update_Date": now, "update_User": "naive"}
            if instance is None:
                audit.update(entry_Date=now, entry_User="naive")
            serializer.save(**audit)
    return len(items) / (time.perf_counter() - start)


def floor(model, items, connection):
    """No validation: the rows straight into the database in one statement."""
    from vbaproject.engine.writers import PG_TYPES
    from vbaproject.spec.entities import FieldKind, entity_spec
    from vbaproject.spec.validation import validator_for

    fields = entity_spec(model).columns
    now = dt.datetime.now(dt.UTC)
    validate = validator_for(model)  # conversion to typed rows is not timed
    rows = [(key, *values, now, "floor", now, "floor") for key, values, _ in map(validate, items)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    update = ", ".join(
        f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields[1:] if not f.kept_on_update
    )
    conflict = f"ON CONFLICT ({quote(fields[0].column)}) DO UPDATE SET {update}"
    connection.ensure_connection()
    raw = connection.connection
    start = time.perf_counter()
    if connection.vendor == "postgresql":
        with raw.transaction(), raw.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE floor_stage (LIKE {table}) ON COMMIT DROP")
            with cursor.copy(f"COPY floor_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([PG_TYPES[f.kind] for f in fields])
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM floor_stage {conflict}")
    else:
        adapt = connection.ops.adapt_datetimefield_value
        positions = [i for i, f in enumerate(fields) if f.kind == FieldKind.DATETIME]
        rows = [[adapt(v) if i in positions and v is not None else v for i, v in enumerate(r)] for r in rows]
        placeholders = ", ".join("?" * len(fields))
        raw.execute("BEGIN")
        raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) {conflict}", rows)
        raw.execute("COMMIT")
    return len(items) / (time.perf_counter() - start)


def statements(model, items):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from vbaproject.engine.upsert import upsert_batch

    with CaptureQueriesContext(connections["bench"]) as queries:
        upsert_batch(model, items, user="count")
    return len(queries)


# The fixed cost of a call, and two workers -----------------------------------------------------


def batch_sizes(server, model, route, headers, string_keys):
    """ms per call and items/s for each batch size of ``SIZES`` (new items each call), and the
    cost of a ``PUT []`` with the same credentials."""
    rows = []
    empty = b"[]"
    for _ in range(20):  # warm-up: the worker's connections, caches and code paths
        server.request("PUT", route, empty, headers)
    for size, calls in SIZES:
        bodies = []
        for call in range(calls):
            prefix = f"S{size}c{call}-" if string_keys else 10_000_000 + size * 1_000 + call * size
            if not string_keys and size >= 1000:
                prefix = 20_000_000 + size * 10 + call * size
            bodies.append(orjson.dumps(make_items(model, size, 100 + call, prefix)))
        server.request(
            "PUT",
            route,
            orjson.dumps(make_items(model, 1, 7, "S-warm" if string_keys else 9_999_999)),
            headers,
        )
        start = time.perf_counter()
        for body in bodies:
            status, _ = server.request("PUT", route, body, headers)
            assert status == 207, status
        seconds = time.perf_counter() - start
        rows.append(
            {
                "size": size,
                "calls": calls,
                "ms_per_call": 1000 * seconds / calls,
                "items_per_s": size * calls / seconds,
            }
        )
    calls = SIZES[0][1]
    start = time.perf_counter()
    for _ in range(calls):
        status, _ = server.request("PUT", route, empty, headers)
        assert status == 207, status
    empty_ms = 1000 * (time.perf_counter() - start) / calls
    return {"sizes": rows, "empty_ms": empty_ms}


def throughput(port, route, headers, bodies_per_client, seconds):
    """Items/s of len(bodies_per_client) clients, each PUTting its bodies in turn for ``seconds``."""
    done = [0] * len(bodies_per_client)
    errors = []
    stop = time.perf_counter() + seconds

    def client(n, bodies):
        i = 0
        try:
            while time.perf_counter() < stop:
                body, count = bodies[i % len(bodies)]
                status, _, _ = request(port, "PUT", route, body, headers)
                if status != 207:
                    errors.append(status)
                    return
                done[n] += count
                i += 1
        except Exception as exc:  # reported below
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n, b)) for n, b in enumerate(bodies_per_client)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return sum(done) / (time.perf_counter() - start)


def scaling(env, port, model, route, headers, string_keys):
    """Two clients of 100-item PUTs (updates of each client's own keys): one worker, then two."""
    bodies = []
    for client in range(2):
        prefix = f"W{client}-" if string_keys else 30_000_000 + client * 10_000
        items = make_items(model, 100, 500 + client, prefix)
        bodies.append([(orjson.dumps(items), 100)])
        for turn in range(1, 4):  # a few different versions of the same records
            bodies[client].append(
                (orjson.dumps(make_items(model, 100, 600 + 10 * client + turn, prefix)), 100)
            )
    rates = {}
    for workers in (1, 2):
        server = Server(env, port, workers=workers)
        try:
            throughput(port, route, headers, bodies, 1.5)  # warm-up: every worker connected
            rates[workers] = throughput(port, route, headers, bodies, SCALING_SECONDS)
        finally:
            server.stop()
    return {
        "one_worker_items_per_s": rates[1],
        "two_workers_items_per_s": rates[2],
        "ratio": rates[2] / rates[1],
    }


# The run --------------------------------------------------------------------------------------


def run_backend(backend, control_url, client_url, args, port):
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "bench-only",
        "DATABASE_URL": control_url,
        "VBA_DATABASES": json.dumps({"bench": client_url}),
        "VBA_THROTTLE_RATE": "1000",
        "VBA_THROTTLE_BURST": "1000",
        "VBA_LOG_LEVEL": "WARNING",
        # A cache shared by the workers (as in production): the throttle's, and the credentials'
        # epoch (vbaproject/accounts/credentials.py), which is not used with a per-process cache.
        "VBA_CACHE_URL": os.environ.get("VBA_CACHE_URL")
        or f"sqlite:///{tempfile.gettempdir()}/vba-bench-cache.sqlite3",
    }
    manage(env, "migrate_all", "-v0")
    os.environ.update({k: env[k] for k in ("DJANGO_SECRET_KEY", "DATABASE_URL", "VBA_DATABASES")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbaproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connections

    from vbaproject.api.routes import batch_route
    from vbaproject.apps import entity_models
    from vbaproject.db.routing import using_client_database
    from vbaproject.spec.entities import entity_spec

    results = []
    models = {model.__name__: model for model in entity_models()}
    for name in args.entities if "batch" in args.parts else ():
        model = models[name]
        route = batch_route(model)
        string_keys = not entity_spec(model).integer_key
        server = Server(env, port)
        try:
            headers = credentials(env, server)
            server.request(
                "PUT",
                route,
                orjson.dumps(make_items(model, 10, 99, "W" if string_keys else 900_000)),
                headers,
            )  # warm-up
            idle = server.memory_mb("VmRSS")
            created = make_items(model, args.rows, 1, "B" if string_keys else 1)
            updated = make_items(model, args.rows, 2, "B" if string_keys else 1)
            body_bytes = 0
            for label, items in (("create", created), ("update", updated)):
                body = orjson.dumps(items)
                body_bytes = max(body_bytes, len(body))
                start = time.perf_counter()
                status, answer = server.request("PUT", route, body, headers)
                seconds = time.perf_counter() - start
                statuses = {r["status"] for r in orjson.loads(answer)["data"]}
                assert status == 207 and statuses == {201 if label == "create" else 200}, (status, statuses)
                results.append(
                    {
                        "backend": backend,
                        "entity": name,
                        "pass": label,
                        "items": len(items),
                        "route_items_per_s": len(items) / seconds,
                    }
                )
            peak = server.memory_mb("VmHWM")
            if backend == "postgres":  # the same update pass again, the history triggers switched off
                unrecorded = make_items(model, args.rows, 9, "B" if string_keys else 1)
                with using_client_database("bench"):
                    history_triggers(connections["bench"], model, enabled=False)
                try:
                    start = time.perf_counter()
                    status, _ = server.request("PUT", route, orjson.dumps(unrecorded), headers)
                    results[-1]["history_off_items_per_s"] = len(unrecorded) / (time.perf_counter() - start)
                    assert status == 207, status
                finally:
                    with using_client_database("bench"):
                        history_triggers(connections["bench"], model, enabled=True)
        finally:
            server.stop()
        with using_client_database("bench"):
            n = min(args.naive_rows, args.rows)
            naive_create = make_items(model, n, 3, "N" if string_keys else 2_000_000)
            naive_update = make_items(model, n, 4, "N" if string_keys else 2_000_000)
            floor_create = make_items(model, args.rows, 5, "F" if string_keys else 3_000_000)
            floor_update = make_items(model, args.rows, 6, "F" if string_keys else 3_000_000)
            count_create = make_items(model, args.rows, 7, "C" if string_keys else 4_000_000)
            figures = {
                "create": (
                    naive(model, naive_create),
                    floor(model, floor_create, connections["bench"]),
                    statements(model, count_create),
                ),
                "update": (
                    naive(model, naive_update),
                    floor(model, floor_update, connections["bench"]),
                    statements(model, make_items(model, args.rows, 8, "C" if string_keys else 4_000_000)),
                ),
            }
        for row in results[-2:]:
            naive_rate, floor_rate, count = figures[row["pass"]]
            row.update(
                naive_items_per_s=naive_rate,
                floor_items_per_s=floor_rate,
                statements=count,
                x_naive=row["route_items_per_s"] / naive_rate,
                floor_slowdown=floor_rate / row["route_items_per_s"],
                idle_mb=idle,
                peak_growth_mb=peak - idle,
                body_mb=body_bytes / 2**20,
            )
        log(f"{backend} {name}: done")
    results += fixed_costs(backend, env, port, models[args.entities[0]], args)
    connections.close_all()
    return results


def fixed_costs(backend, env, port, model, args):
    """The batch-size table and the two-worker scaling for ``model`` (rows of their own part)."""
    from vbaproject.api.routes import batch_route
    from vbaproject.spec.entities import entity_spec

    if not {"sizes", "scaling"} & set(args.parts):
        return []
    route = batch_route(model)
    string_keys = not entity_spec(model).integer_key
    rows = []
    server = Server(env, port)
    try:
        headers = credentials(env, server)
        if "sizes" in args.parts:
            sizes = batch_sizes(server, model, route, headers, string_keys)
            rows.append({"part": "sizes", "backend": backend, "entity": model.__name__, **sizes})
    finally:
        server.stop()
    log(f"{backend} {model.__name__}: batch sizes done")
    if "scaling" in args.parts:
        figures = scaling(env, port, model, route, headers, string_keys)
        rows.append({"part": "scaling", "backend": backend, "entity": model.__name__, **figures})
        log(f"{backend} {model.__name__}: scaling done")
    return rows


def history_triggers(connection, model, enabled):
    """Switch the history triggers of ``model``'s table (PostgreSQL), to measure what history costs."""
    quote = connection.ops.quote_name
    table_name = model._meta.db_table
    switch = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for event in ("insert", "update", "delete"):
            trigger = quote(f"{table_name}_history_{event}")
            cursor.execute(f"ALTER TABLE {quote(table_name)} {switch} TRIGGER {trigger}")


def history_table(results):
    """What the history costs the update pass: items/s with and without it (PostgreSQL)."""
    rows = [r for r in results if "history_off_items_per_s" in r]
    if not rows:
        return ""
    head = f"{'backend':<10} {'entity':<9} {'update/s':>9} {'no history/s':>12} {'ratio':>6} {'target':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r["route_items_per_s"] / r["history_off_items_per_s"]
        lines.append(
            f"{r['backend']:<10} {r['entity']:<9} {r['route_items_per_s']:>9,.0f} "
            f"{r['history_off_items_per_s']:>12,.0f} {ratio:>6.2f} {'>= 0.60':>7}"
        )
    return "\n".join(lines)


def memory_table(results):
    """The server worker's peak growth over its idle size, against the largest body it read."""
    rows = [r for r in results if r.get("pass") == "create" and r.get("body_mb")]
    head = (
        f"{'backend':<10} {'entity':<9} {'body MB':>8} {'peak MB over idle':>17} {'peak÷body':>9} "
        f"{'target':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['backend']:<10} {r['entity']:<9} {r['body_mb']:>8.1f} {r['peak_growth_mb']:>17.0f} "
            f"{r['peak_growth_mb'] / r['body_mb']:>9.2f} {'<= 3.00':>7}"
        )
    return "\n".join(lines)


def sizes_table(results):
    """ms per call and items/s per batch size; the 1-item call against its targets."""
    lines = []
    for r in (r for r in results if r.get("part") == "sizes"):
        head = (
            f"{'backend':<10} {'entity':<9} {'batch size':>10} {'calls':>6} {'ms per call':>11} "
            f"{'items/s':>9}"
        )
        lines += [head, "-" * len(head)]
        for row in r["sizes"]:
            lines.append(
                f"{r['backend']:<10} {r['entity']:<9} {row['size']:>10,} {row['calls']:>6} "
                f"{row['ms_per_call']:>11.2f} {row['items_per_s']:>9,.0f}"
            )
        one = r["sizes"][0]["ms_per_call"]
        lines.append(
            f"{r['backend']:<10} {r['entity']:<9} {'PUT []':>10} {r['sizes'][0]['calls']:>6} "
            f"{r['empty_ms']:>11.2f}"
        )
        lines.append(
            f"  1 item: {one:.2f} ms per call (target <= {TARGETS['one_item_ms']:.0f} ms), "
            f"{one / r['empty_ms']:.2f} x PUT [] (target <= {TARGETS['one_item_over_empty']:.0f} x); "
            "measured at the client, a new connection each call"
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def targets_table(results):
    """The route against the floor (target at least 0.8) and two workers against one (1.8)."""
    lines = []
    for r in results:
        if r.get("part", "batch") == "batch":
            lines.append(
                f"{r['backend']:<10} {r['entity']:<9} {r['pass']:<6} route÷floor "
                f"{r['route_items_per_s'] / r['floor_items_per_s']:>5.2f}  "
                f"(target >= {TARGETS['floor_ratio']})"
            )
        elif r["part"] == "scaling":
            lines.append(
                f"{r['backend']:<10} {r['entity']:<9} two clients of 100-item PUTs: one worker "
                f"{r['one_worker_items_per_s']:,.0f}/s, two workers {r['two_workers_items_per_s']:,.0f}/s, "
                f"{r['ratio']:.2f} x  (target >= {TARGETS['two_workers']})"
            )
    return "\n".join(lines)


def table(results):
    results = [r for r in results if r.get("part", "batch") == "batch"]
    head = (
        f"{'backend':<10} {'entity':<9} {'pass':<6} {'route/s':>9} {'naive/s':>8} {'floor/s':>9} "
        f"{'x naive':>8} {'floor÷route':>11} {'peak MB over idle':>17} {'statements':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['backend']:<10} {r['entity']:<9} {r['pass']:<6} {r['route_items_per_s']:>9,.0f} "
            f"{r['naive_items_per_s']:>8,.0f} {r['floor_items_per_s']:>9,.0f} {r['x_naive']:>8.1f} "
            f"{r['floor_slowdown']:>11.2f} {r['peak_growth_mb']:>17.0f} {r['statements']:>10}"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000, help="items per batch (default 10,000)")
    parser.add_argument("--naive-rows", type=int, default=1_000, help="rows the naive baseline runs on")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], help="only this backend")
    parser.add_argument(
        "--entities",
        nargs="+",
        default=list(ENTITIES),
        help=f"entities to measure (default: {' '.join(ENTITIES)})",
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("VBA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/")
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="what to measure: the 10,000-item batches, the batch-size table, two workers (default: all)",
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    backends = [args.backend] if args.backend else ["sqlite", "postgres"]
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="vba-bench-"))
    try:
        for backend in backends:
            if backend == "postgres" and not postgres_reachable(args.postgres):
                log(f"PostgreSQL at {args.postgres} is not reachable: skipped")
                continue
            if len(backends) > 1:  # Django is set up once per process: each backend gets its own
                out = workdir / f"{backend}.json"
                command = [
                    sys.executable,
                    "-m",
                    "bench.run",
                    "--backend",
                    backend,
                    "--rows",
                    str(args.rows),
                    "--naive-rows",
                    str(args.naive_rows),
                    "--entities",
                    *args.entities,
                    "--parts",
                    *args.parts,
                    "--postgres",
                    args.postgres,
                    "--port",
                    str(args.port),
                    "--json",
                    str(out),
                ]
                subprocess.run(command, cwd=ROOT, check=True)
                results += json.loads(out.read_text())
            else:
                urls = sqlite_urls(workdir) if backend == "sqlite" else postgres_urls(args.postgres)
                results += run_backend(backend, *urls, args, args.port)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if len(backends) > 1 or not args.json:
        if "batch" in args.parts:
            print(table(results))
            print("\nMemory: the worker's peak growth for the batch, against the body's size:")
            print(memory_table(results))
            history = history_table(results)
            if history:
                print("\nThe history of every write (triggers), its cost to the update pass:")
                print(history)
        sizes = sizes_table(results)
        if sizes:
            print("\nThe cost of a call by batch size (new items each call; gunicorn, one worker):")
            print(sizes)
        print("\nTargets:")
        print(targets_table(results))


if __name__ == "__main__":
    main()
