"""The production topology, run for real: nginx → two gunicorn instances → PgBouncer →
PostgreSQL (the control database and two client databases), with Redis for the throttle.

Why a test of the deployment at all: what the issue found broken (one slow client freezing the
server, a crash losing or doubling writes, two processes throttling apart) is a property of how
the pieces are put together, not of any one view. So the module brings the whole topology up
from the repository's own files (deploy/topology.py renders deploy/*.template and
deploy/gunicorn.conf.py exactly as `make topology` does), on free ports, in its own work
directory and under its own database prefix, so it runs beside a developer's `make topology`;
and drives it only through nginx, as a client would.

Robustness on a loaded 2-core CI machine comes first: every wait is a loop with a generous
deadline, nothing asserts a latency, only that things answered, without an error, and counts.
The kill is deterministic (after a fixed number of successful writes, the whole process group
of one instance, by the pid in state.json). Everything started is stopped and the databases
dropped in the fixture's teardown, also when a test fails; the logs are printed then.

PostgreSQL only (PgBouncer needs it); it needs Debian's nginx-light and pgbouncer and Redis,
and is skipped without them except in CI (``CI`` set), where it fails.
"""

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from deploy import topology

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

REDIS_URL = os.environ.get("VBA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS = ("acme", "globex")
# Low on purpose, so the throttle test is short: 40 requests at once per API key, then 2/s
# (windows of 20 s). Every test below uses its own API key and stays under this.
THROTTLE_RATE, THROTTLE_BURST = 2, 40
LOGIN = "/vbasoftware/user-authentication"
BATCH = "/vbasoftware/grievances-batch"
LIST = "/vbasoftware/grievances?pageSize=5"


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI requires the topology test (.ci/run installs it)")
    pytest.skip(reason)


def superuser_url():
    """The PostgreSQL server of the suite's own client databases, as its superuser."""
    settings = connections["demo"].settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgresql://{settings.get('USER') or 'postgres'}{password}@{host}:{port}/postgres"


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Topology:
    """The running topology, and a client that talks to it through nginx."""

    def __init__(self, args):
        self.args = args
        self.workdir = args.workdir
        self.state = topology.State(args.workdir)
        self.port = args.nginx_port
        self.instances = list(self.state.data["gunicorn_ports"])
        self.databases = self.state.data["databases"]

    def call(self, method, path, body=None, headers=None, timeout=30.0, port=None):
        """One request on a fresh connection; an Answer, or OSError when nothing answered."""
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def new_api_key(self, name):
        output = topology.manage(self.state, "create_api_key", name, "--databases", ",".join(CLIENTS))
        return output.strip().splitlines()[-1]

    def log_in(self, key, database, deadline_s=60):
        """An ID token for seed_demo's superuser; retried while the service is not there."""
        basic = base64.b64encode(f"{topology.DEMO_USER}:{topology.DEMO_PASSWORD}".encode()).decode()
        headers = {"x-api-key": key, "vbasoftware-database": database, "Authorization": f"Basic {basic}"}
        answer = retry(lambda: self.call("POST", LOGIN, headers=headers), deadline_s)
        assert answer.status == 200, answer
        return answer.json()["data"]["authenticationResult"]["idToken"]

    def api_headers(self, key, token, database, **extra):
        return {
            "x-api-key": key,
            "Authorization": f"Bearer {token}",
            "vbasoftware-database": database,
            "Content-Type": "application/json",
            **extra,
        }

    def count(self, client, marker_prefix):
        """(rows, distinct markers) of grievances whose admin_Change starts with the prefix."""
        url = self.args.pg_url.rsplit("/", 1)[0] + "/" + self.databases[client]
        with psycopg.connect(url, connect_timeout=10) as conn:
            return conn.execute(
                'SELECT count(*), count(DISTINCT "admin_Change") FROM grievances_grievance'
                ' WHERE "admin_Change" LIKE %s',
                [marker_prefix + "%"],
            ).fetchone()

    def instance_up(self, port):
        return topology.http_status(f"http://127.0.0.1:{port}{topology.READY}", timeout=10) == 200

    def ensure_instances_up(self):
        """Both gunicorn instances answer (a test that killed one restarts it; belt and braces)."""
        for port in self.instances:
            if not self.instance_up(port):
                topology.restart(self.workdir, port)

    def upstreams_of(self, agent):
        """The instances nginx sent the requests with this User-Agent to (its access log)."""
        seen = set()
        for line in (self.workdir / "nginx" / "access.log").read_text().splitlines():
            entry = json.loads(line)
            if entry["user_agent"] == agent:
                seen.update(address.strip() for address in entry["upstream_addr"].split(","))
        return seen

    def wait_for_both_instances_in_nginx(self, deadline_s=60):
        """nginx sends requests to both instances again (after a restart it may keep one out for
        fail_timeout = 5 s): probe /readyz through it until both have answered."""
        agent = f"probe-{uuid.uuid4().hex}"
        wanted = {f"127.0.0.1:{port}" for port in self.instances}
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for _ in range(4):
                with contextlib.suppress(OSError):
                    self.call("GET", topology.READY, headers={"User-Agent": agent}, timeout=10)
            if self.upstreams_of(agent) >= wanted:
                return
            time.sleep(0.5)
        pytest.fail(f"nginx did not use both instances within {deadline_s} s: {self.upstreams_of(agent)}")


def retry(send, deadline_s, retry_on=(502, 503, 504)):
    """``send()`` until it answers with a status not in ``retry_on``, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            answer = send()
            if answer.status not in retry_on:
                return answer
        except OSError as exc:
            answer = exc
        if time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def dump_logs(workdir):
    for path in sorted(Path(workdir).rglob("*.log")):
        if path.name != "access.log" or path.stat().st_size < 200_000:
            print(f"----- {path} (last lines)\n{topology.tail(path, 40)}")


def topology_args(workdir):
    nginx_port, pgbouncer_port, *gunicorn_ports = topology.free_ports(4)
    # fmt: off
    return topology.parse_args([
        "--workdir", str(workdir), "--pg-url", superuser_url(),
        "--prefix", f"vba_tt{uuid.uuid4().hex[:8]}_", "--clients", ",".join(CLIENTS),
        "up", "--nginx-port", str(nginx_port), "--pgbouncer-port", str(pgbouncer_port),
        "--gunicorn-ports", ",".join(map(str, gunicorn_ports)), "--redis-url", REDIS_URL,
        "--throttle-rate", str(THROTTLE_RATE), "--throttle-burst", str(THROTTLE_BURST),
        "--seed-rows", "3",
        # A loaded machine must not make Redis look down (0.5 s by default): the throttle
        # would then count per process, which is not what the throttle test is about.
        "--env", "VBA_CACHE_TIMEOUT=5",
    ])
    # fmt: on


@pytest.fixture(scope="module")
def topo(request):
    if connections["demo"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    for binary in (topology.NGINX, topology.PGBOUNCER):
        if not os.access(binary, os.X_OK):
            unavailable(f"{binary} is missing (apt-get install nginx-light pgbouncer)")
    if not topology.redis_ping(REDIS_URL):
        unavailable(f"Redis at {REDIS_URL} is not reachable")
    # Not pytest's tmp_path: nginx's workers and PgBouncer run as `nobody` when the suite runs
    # as root, and must reach their files; pytest's base directory is private (0700).
    workdir = Path(tempfile.mkdtemp(prefix="vba-topology-test-"))
    workdir.chmod(0o755)
    failed_before, args = request.session.testsfailed, None
    try:
        for attempt in (1, 2):  # a free port taken by someone else meanwhile: once more
            args = topology_args(workdir)
            try:
                topology.up(args, drop_on_failure=True)
                break
            except topology.TopologyError as exc:
                if attempt == 2:
                    pytest.fail(f"the topology did not come up: {exc}")
        yield Topology(args)
    finally:
        if request.session.testsfailed > failed_before:
            dump_logs(workdir)
        try:
            if args is not None:
                topology.down(workdir, True, args.pg_url, args.prefix, args.clients)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def test_logins_batches_and_the_admin_through_nginx(topo):
    key = topo.state.data["api_key"]
    marker = f"batch-{uuid.uuid4().hex[:8]}-"
    for client in CLIENTS:
        token = topo.log_in(key, client)
        items = [{"grievance_Key": 0, "admin_Change": f"{marker}{i}"} for i in range(300)]
        answer = topo.call("PUT", BATCH, json.dumps(items), topo.api_headers(key, token, client), timeout=60)
        assert answer.status == 207, answer
        assert [item["status"] for item in answer.json()["data"]] == [201] * 300
        assert answer.headers["x-activity-id"]
        assert topo.count(client, marker) == (300, 300)
        listed = topo.call("GET", LIST, headers=topo.api_headers(key, token, client))
        assert listed.status == 200, listed
    # The admin's login page, and its static files served by nginx itself.
    page = topo.call("GET", "/admin/login/")
    assert page.status == 200 and b'name="password"' in page.body
    assert topo.call("GET", "/static/admin/css/base.css").status == 200


def test_one_instance_killed_mid_load(topo):
    """SIGKILL one instance while a client writes: the other carries on, every item lands once.

    The writer sends batches with server-assigned keys, each with its own Idempotency-Key, and
    retries a batch with the same key when it gets no answer, a 5xx, a 409 (the first attempt
    still counts as running) or a 429, as a client should. nginx also resends a keyed write
    that meets the dead instance to the other one (deploy/nginx.conf.template); either way the
    service applies it once.
    """
    topo.ensure_instances_up()
    key = topo.new_api_key("topology kill test")
    token = topo.log_in(key, "acme")
    run = uuid.uuid4().hex[:8]
    per_batch, kill_after, after_kill = 50, 6, 10
    started, landed, attempts, problems = [], [], [0], []
    lock = threading.Lock()
    killed = threading.Event()
    landed_after_kill = [0]

    def write(batch):
        items = [{"grievance_Key": 0, "admin_Change": f"kill-{run}-{batch}-{i}"} for i in range(per_batch)]
        body = json.dumps(items)
        headers = topo.api_headers(key, token, "acme", **{"Idempotency-Key": f"kill-{run}-{batch}"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                attempts[0] += 1
            try:
                answer = topo.call("PUT", BATCH, body, headers, timeout=30)
            except OSError:
                time.sleep(0.2)
                continue
            if answer.status == 207:
                statuses = [item["status"] for item in answer.json()["data"]]
                if statuses != [201] * per_batch:
                    problems.append((batch, answer))
                return True
            if answer.status in (409, 429) or answer.status >= 500:
                time.sleep(min(float(answer.headers.get("retry-after", 0.5)), 5))
                continue
            problems.append((batch, answer))
            return False
        problems.append((batch, "no 207 within 60 s"))
        return False

    def writer():
        # Until enough batches sent after the kill have landed (or 90 s, or a problem).
        deadline = time.monotonic() + 90
        while not problems and time.monotonic() < deadline:
            if len(started) >= kill_after + 4:
                # However late the kill comes on a loaded machine, at most a few batches more
                # before it: the API key's throttle (40 at once) must not answer the reads and
                # keyed writes the test sends after the kill 429.
                killed.wait(60)
            with lock:
                if landed_after_kill[0] >= after_kill:
                    return
                batch = len(started)
                started.append(batch)
            sent_after_kill = killed.is_set()
            if write(batch):
                with lock:
                    landed.append(batch)
                    landed_after_kill[0] += sent_after_kill
            time.sleep(0.05)  # paced, so the kill comes early in the run

    # Two writers, so the kill meets requests in flight (with the main thread, at most 3 at
    # once: the cap per client database and process never answers them 503).
    threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(landed) < kill_after and time.monotonic() < deadline and not problems:
        time.sleep(0.02)
    assert len(landed) >= kill_after, f"the writers did not get going: {problems}"
    victim, survivor = topo.instances
    try:
        topology.kill_instance(topo.workdir, victim)
        killed.set()
        # Reads, and writes with an Idempotency-Key, that meet the dead instance are sent to
        # the other one by nginx itself: answered at the first attempt.
        reads = [topo.call("GET", LIST, headers=topo.api_headers(key, token, "acme")) for _ in range(6)]
        keyed_writes = []
        for n in range(4):
            items = json.dumps(
                [{"grievance_Key": 0, "admin_Change": f"failover-{run}-{n}-{i}"} for i in range(5)]
            )
            headers = topo.api_headers(key, token, "acme", **{"Idempotency-Key": f"failover-{run}-{n}"})
            keyed_writes.append(topo.call("PUT", BATCH, items, headers))
        for thread in threads:
            thread.join(timeout=150)
        assert not any(thread.is_alive() for thread in threads), "the writers did not finish"
        assert not problems, problems
        assert landed_after_kill[0] >= after_kill, "the other instance did not carry on"
        assert sorted(landed) == sorted(started)
        assert [read.status for read in reads] == [200] * len(reads), reads
        assert [write.status for write in keyed_writes] == [207] * len(keyed_writes), keyed_writes
        assert topo.count("acme", f"failover-{run}-") == (20, 20)
        # Every item exactly once, however many attempts it took.
        expected = len(started) * per_batch
        assert topo.count("acme", f"kill-{run}-") == (expected, expected), attempts
        assert topo.instance_up(survivor)
    finally:
        killed.set()
        topology.restart(topo.workdir, victim)


def test_slow_clients_are_absorbed_by_the_proxy(topo):
    """20 clients dribbling a POST to /admin/login/ (more than the 16 threads behind nginx):
    nginx buffers them, so the other requests are answered meanwhile."""
    topo.ensure_instances_up()
    slow, stop = [], threading.Event()
    sent_bytes = [0]

    def dribble(sock):
        with contextlib.suppress(OSError):
            while not stop.is_set():
                sock.sendall(b"a")
                sent_bytes[0] += 1
                stop.wait(0.5)

    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", topo.port), timeout=10)
            sock.sendall(
                b"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
            )
            slow.append(sock)
        threads = [threading.Thread(target=dribble, args=(sock,), daemon=True) for sock in slow]
        for thread in threads:
            thread.start()
        time.sleep(1)  # every slow client is sending its body
        answers = []
        for _ in range(8):
            answers.append(topo.call("GET", "/admin/login/", timeout=10).status)
            answers.append(topo.call("GET", "/vbasoftware/openapi.json", timeout=10).status)
        assert answers == [200] * 16
        # The slow clients were still connected and sending all along (not dropped early).
        still = sum(1 for sock in slow if not _closed(sock))
        assert still == len(slow), f"only {still} of {len(slow)} slow clients still connected"
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def _closed(sock):
    """Did the server close (or answer) this connection? (a non-blocking peek)"""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) is not None
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def test_the_throttle_is_shared_by_both_instances(topo):
    """One API key, a burst of 100 requests over both instances: admitted about once the limit
    (40 at once, then 2/s), not once per process, because the counters are in Redis."""
    topo.ensure_instances_up()
    topo.wait_for_both_instances_in_nginx()
    key = topo.new_api_key("topology throttle test")
    token = topo.log_in(key, "acme")  # counts as one request of the key
    agent = f"throttle-{uuid.uuid4().hex}"
    headers = topo.api_headers(key, token, "acme", **{"User-Agent": agent})
    statuses, lock = [], threading.Lock()

    def burst(count):
        for _ in range(count):
            try:
                status = topo.call("PUT", BATCH, b"[]", headers, timeout=30).status
            except OSError:
                status = None
            with lock:
                statuses.append(status)

    started = time.monotonic()
    # Three at a time: the shipped cap of 3 requests per client database and process
    # (VBA_DATABASE_MAX_REQUESTS) never answers one of them 503.
    threads = [threading.Thread(target=burst, args=(n,), daemon=True) for n in (34, 33, 33)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    admitted, throttled = statuses.count(207), statuses.count(429)
    assert admitted + throttled == 100, statuses
    # The bound of the sliding window counter (vbaproject/accounts/throttling.py): at most the
    # burst plus the rate over the elapsed time; four separate counters would admit all 100.
    assert THROTTLE_BURST - 2 <= admitted <= THROTTLE_BURST + THROTTLE_RATE * elapsed + 1, (admitted, elapsed)
    # ... and both instances served the burst (nginx's access log names the upstream).
    upstreams = topo.upstreams_of(agent)
    assert upstreams == {f"127.0.0.1:{port}" for port in topo.instances}, upstreams
