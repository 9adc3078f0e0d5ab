"""Two tenants on the production topology, one of them stalled: does the healthy one still get
fast answers? (``make bench-topology``; the figures are in the README's *Deployment* section.)

The issue's worst finding was one tenant starving the others: with a table of one client
database locked, every thread of every worker ended up waiting on it and a request for another
database got no answer at all. The bulkheads against that are the per-database
``lock_timeout``/``statement_timeout`` and the per-database cap on concurrent requests (503 +
``Retry-After`` when exceeded; ``vbaproject.db.bulkheads``). This measures them where they
matter, on the real topology of deploy/ (nginx → 2 gunicorn instances of 2 workers x 4
threads → PgBouncer → PostgreSQL, Redis), brought up by deploy/topology.py on free ports with
its own throwaway databases (``vba_bench_*``, dropped at the end):

- ``globex`` is stalled: a transaction holds ``LOCK TABLE grievances_grievance IN ACCESS
  EXCLUSIVE MODE`` on it for the whole run, so every grievance request to it waits for the
  lock until its ``lock_timeout`` (or is refused at once by the cap);
- ``acme`` is healthy. A bounded number of requests (``--requests``, default 400; loopback
  only): a quarter from 4 healthy clients (a grievance list, then a 10-item batch, in turn),
  three quarters from 24 stalled-tenant clients (lists; each waits the answer's Retry-After
  but at most 1 s, else 0.1 s, before its next) — more stalled requests at once than the 16
  threads behind nginx.

Reported: the healthy tenant's p50/p99 latency and its errors (any answer but 200/207, or no
answer) beside the targets (0 errors, p99 under 1 s), and what the stalled tenant got (503s
at capacity, lock timeouts, others). Run twice by default, with the cap (``max_requests``
``--cap`` per database and process) and without it (``--no-contrast`` skips that run), both with
``lock_timeout`` ``--lock-timeout`` s. Nothing here is a test: it measures, ``--json`` writes the
figures to a file, and the exit status is 0 whatever the figures.

    .venv/bin/python -m bench.topology                 # both runs, about a minute
    .venv/bin/python -m bench.topology --requests 200 --no-contrast
"""

import argparse
import base64
import contextlib
import http.client
import io
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg

from deploy import topology

HEALTHY, STALLED = "acme", "globex"
TARGET_P99_S = 1.0
BATCH = "/vbasoftware/grievances-batch"
LIST = "/vbasoftware/grievances?pageSize=20"


def call(port, method, path, body=None, headers=None, timeout=60.0):
    """(status, headers, body) of one request on a fresh connection; status None: no answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except OSError as exc:
        return None, {}, str(exc).encode()
    finally:
        connection.close()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))] if ordered else None


def stalled_kind(status, body):
    """What a stalled-tenant answer was: 503 at capacity, a lock timeout, or its status."""
    if status == 503 and b"capacity" in body:
        return "503 at capacity"
    if status == 503:
        return "503 (lock/statement timeout)"
    return str(status)


def measure(args, cap, run_name):
    """Bring the topology up with ``max_requests`` = ``cap``, stall one tenant, send the load."""
    workdir = Path(tempfile.mkdtemp(prefix="vba-bench-topology-"))
    workdir.chmod(0o755)  # nginx's workers and PgBouncer run as nobody when run as root
    nginx_port, pgbouncer_port, *gunicorn_ports = topology.free_ports(4)
    # fmt: off
    options = topology.parse_args([
        "--workdir", str(workdir), "--pg-url", args.postgres,
        "--prefix", f"vba_bench{uuid.uuid4().hex[:6]}_", "--clients", f"{HEALTHY},{STALLED}",
        "up", "--nginx-port", str(nginx_port), "--pgbouncer-port", str(pgbouncer_port),
        "--gunicorn-ports", ",".join(map(str, gunicorn_ports)), "--redis-url", args.redis,
        "--throttle-rate", "0", "--seed-rows", "20",
        "--db-option", f"lock_timeout={args.lock_timeout}",
        "--db-option", f"statement_timeout={args.statement_timeout}",
        "--db-option", f"max_requests={cap}",
    ])
    # fmt: on
    holder = None
    try:
        chatter = io.StringIO()  # topology.py's progress and summary: shown only if `up` fails
        try:
            with contextlib.redirect_stdout(chatter):
                topology.up(options, drop_on_failure=True)
        except BaseException:
            print(chatter.getvalue())
            raise
        state = topology.State(workdir)
        key = state.data["api_key"]
        basic = base64.b64encode(f"{topology.DEMO_USER}:{topology.DEMO_PASSWORD}".encode()).decode()
        headers = {}
        for database in (HEALTHY, STALLED):
            status, _, body = call(
                nginx_port,
                "POST",
                "/vbasoftware/user-authentication",
                headers={
                    "x-api-key": key,
                    "vbasoftware-database": database,
                    "Authorization": f"Basic {basic}",
                },
            )
            if status != 200:
                raise RuntimeError(f"login to {database}: {status} {body[:300]!r}")
            token = json.loads(body)["data"]["authenticationResult"]["idToken"]
            headers[database] = {
                "x-api-key": key,
                "Authorization": f"Bearer {token}",
                "vbasoftware-database": database,
                "Content-Type": "application/json",
            }

        # Warm-up, not measured: every thread of every worker opens its connections to both
        # databases and runs the code paths once (16 threads; nginx spreads the requests).
        def warm(database):
            for _ in range(8):
                call(nginx_port, "GET", LIST, headers=headers[database], timeout=120)

        warmers = [threading.Thread(target=warm, args=(db,)) for db in (HEALTHY, STALLED) for _ in range(8)]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()

        # Stall one tenant: a lock on its grievances table, held by a transaction for the run.
        stalled_db = state.data["databases"][STALLED]
        holder = psycopg.connect(args.postgres.rsplit("/", 1)[0] + "/" + stalled_db, connect_timeout=10)
        holder.execute("LOCK TABLE grievances_grievance IN ACCESS EXCLUSIVE MODE")

        healthy_n = args.requests // 4
        stalled_n = args.requests - healthy_n
        healthy_clients, stalled_clients = 4, 24
        healthy, stalled, slowest, lock = [], [], [], threading.Lock()
        run_started = time.monotonic()
        marker = uuid.uuid4().hex[:8]

        def healthy_client(number, count):
            for i in range(count):
                if i % 2:
                    items = [
                        {"grievance_Key": 0, "admin_Change": f"bench-{marker}-{number}-{i}-{j}"}
                        for j in range(10)
                    ]
                    request = ("PUT", BATCH, json.dumps(items))
                else:
                    request = ("GET", LIST, None)
                started = time.monotonic()
                status, _, _ = call(nginx_port, *request, headers=headers[HEALTHY], timeout=120)
                with lock:
                    healthy.append((time.monotonic() - started, status))
                    slowest.append((time.monotonic() - started, request[0], started - run_started))

        def stalled_client(count):
            for _ in range(count):
                started = time.monotonic()
                status, answer_headers, body = call(
                    nginx_port, "GET", LIST, headers=headers[STALLED], timeout=120
                )
                with lock:
                    stalled.append((time.monotonic() - started, stalled_kind(status, body)))
                # Retry-After, as the README asks of integrators, but at most 1 s: an impatient
                # tenant, and a run that stays short.
                time.sleep(min(float(answer_headers.get("retry-after", args.pause)), 1))

        threads = [
            threading.Thread(target=stalled_client, args=(share,), daemon=True)
            for share in split(stalled_n, stalled_clients)
        ]
        threads += [
            threading.Thread(target=healthy_client, args=(n, share), daemon=True)
            for n, share in enumerate(split(healthy_n, healthy_clients))
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        latencies = [seconds for seconds, _ in healthy]
        errors = sum(1 for _, status in healthy if status not in (200, 207))
        result = {
            "run": run_name,
            "max_requests": cap,
            "lock_timeout_s": args.lock_timeout,
            "seconds": round(elapsed, 1),
            "healthy": {
                "requests": len(healthy),
                "errors": errors,
                "statuses": dict(Counter(str(status) for _, status in healthy)),
                "p50_ms": round(1000 * statistics.median(latencies)),
                "p90_ms": round(1000 * percentile(latencies, 0.90)),
                "p99_ms": round(1000 * percentile(latencies, 0.99)),
                "max_ms": round(1000 * max(latencies)),
                "slowest": [
                    {"ms": round(1000 * seconds), "method": method, "at_s": round(at, 1)}
                    for seconds, method, at in sorted(slowest, reverse=True)[:5]
                ],
            },
            "stalled": {
                "requests": len(stalled),
                "answers": dict(Counter(kind for _, kind in stalled)),
                "p50_ms": round(1000 * statistics.median(seconds for seconds, _ in stalled)),
            },
        }
        return result
    finally:
        if holder is not None:
            holder.close()
        with contextlib.redirect_stdout(io.StringIO()):
            topology.down(workdir, True, options.pg_url, options.prefix, options.clients)
        shutil.rmtree(workdir, ignore_errors=True)


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def report(results):
    print()
    print(f"Healthy tenant ({HEALTHY}) while {STALLED} is stalled (a table lock held for the run)")
    columns = f"{'run':<22}{'requests':>9}{'errors':>8}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"
    print(f"{columns}   target: 0 errors, p99 < {TARGET_P99_S:g} s")
    for r in results:
        h = r["healthy"]
        verdict = "meets" if h["errors"] == 0 and h["p99_ms"] < TARGET_P99_S * 1000 else "MISSES"
        print(
            f"{r['run']:<22}{h['requests']:>9}{h['errors']:>8}{h['p50_ms']:>7}ms{h['p90_ms']:>7}ms"
            f"{h['p99_ms']:>7}ms{h['max_ms']:>7}ms   {verdict}"
        )
    print()
    print(f"Stalled tenant ({STALLED})")
    for r in results:
        s = r["stalled"]
        answers = ", ".join(f"{count} x {kind}" for kind, count in sorted(s["answers"].items()))
        print(f"{r['run']:<22}{s['requests']:>9}   p50 {s['p50_ms']} ms   {answers}   ({r['seconds']} s run)")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres", help="a superuser URL"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=400, help="requests in all, per run (default 400)")
    parser.add_argument(
        "--cap", type=int, default=3, help="max_requests per client database and process (shipped: 3)"
    )
    parser.add_argument(
        "--lock-timeout", type=float, default=2.0, help="seconds (VBA_DATABASES lock_timeout)"
    )
    parser.add_argument("--statement-timeout", type=float, default=10.0, help="seconds")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds a stalled-tenant client waits between requests when the answer has no Retry-After",
    )
    parser.add_argument("--no-contrast", action="store_true", help="skip the run without the cap")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    runs = [(args.cap, f"cap {args.cap}/process")]
    if not args.no_contrast:
        runs.append((0, "no cap"))
    results = []
    for cap, name in runs:
        print(f"--- {name}: bringing the topology up", flush=True)
        results.append(measure(args, cap, name))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
