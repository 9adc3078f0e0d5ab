"""Bring the production topology up on one machine, for a try-out, on loopback only.

    nginx :8080 -> gunicorn :8101 and :8102 (2 workers x 4 threads each) -> PgBouncer :6432
        -> PostgreSQL :5432 (control database + client databases acme and globex); Redis cache

Run it with the project's virtualenv (it needs psycopg):

    .venv/bin/python deploy/topology.py up        # create, render, start, migrate, seed; print URLs
    .venv/bin/python deploy/topology.py status
    .venv/bin/python deploy/topology.py kill 8101      # SIGKILL one instance (master + workers)
    .venv/bin/python deploy/topology.py restart 8101   # one gunicorn instance, stopped or crashed
    .venv/bin/python deploy/topology.py down      # stop what `up` started
    .venv/bin/python deploy/topology.py down --drop   # ... and drop its databases and role

Everything lives in the work directory (default var/topology/, git-ignored): the rendered
configurations (nginx/nginx.conf, pgbouncer/pgbouncer.ini, vbaproject.env), the logs and
state.json (pids, ports, names, the demo API key). The databases and the role are named with the
prefix `vba_topo_`. nginx and PgBouncer are Debian's binaries, run by this script as its own
processes (never as system services); when run as root, their workers drop to `nobody`.

tests/test_topology.py and bench/topology.py import this file (``from deploy import topology``)
and call `free_ports`, `parse_args`, `up`, `kill_instance`, `restart` and `down` with their own
ports, work directory and prefix, so they run beside a developer's `make topology`.
"""

import argparse
import concurrent.futures
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - depends on the interpreter used
    sys.exit("topology.py needs psycopg: run it with the project's virtualenv (.venv/bin/python)")

DEPLOY_DIR = Path(__file__).resolve().parent
ROOT = DEPLOY_DIR.parent
VENV_BIN = ROOT / ".venv" / "bin"
NGINX = Path("/usr/sbin/nginx")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
LOOPBACK = "127.0.0.1"
DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"  # seed_demo's superuser
PLACEHOLDER_OPEN, PLACEHOLDER_CLOSE = "{{", "}}"
# The readiness check a load balancer uses: 200 once the control database answers (README,
# "Health checks and bulkheads").
READY = "/readyz"


class TopologyError(Exception):
    """Something the operator must fix; printed without a traceback."""


# ---------------------------------------------------------------------------------------------
# small helpers


def say(message):
    print(f"topology: {message}", flush=True)


def render(template_path, values):
    """Replace every {{name}} in the template; a placeholder without a value is an error."""
    text = template_path.read_text()
    out, pos = [], 0
    while (start := text.find(PLACEHOLDER_OPEN, pos)) != -1:
        end = text.find(PLACEHOLDER_CLOSE, start)
        name = text[start + 2 : end].strip()
        if end == -1 or name not in values:
            raise TopologyError(f"{template_path.name}: no value for placeholder {text[start : end + 2]!r}")
        out.append(text[pos:start])
        out.append(str(values[name]))
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def free_ports(count):
    """``count`` distinct loopback ports nothing listens on (all bound at once, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port, host=LOOPBACK, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def pid_alive(pid, name):
    """Is ``pid`` running and is it ``name`` (guards against a recycled pid)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return name in cmdline


def tail(path, lines=25):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


def wait_until(check, what, timeout, process=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise TopologyError(f"{what}: exited with {process.returncode}; {log}:\n{tail(log)}")
        time.sleep(0.2)
    raise TopologyError(f"{what}: no answer within {timeout} s; {log}:\n{tail(log)}")


def redis_ping(url):
    parts = urlsplit(url)
    if parts.scheme != "redis":
        return True  # rediss:// or unix://: left to the application
    try:
        with socket.create_connection((parts.hostname or LOOPBACK, parts.port or 6379), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def drop_privileges_user():
    """nginx workers and PgBouncer must not run as root (PgBouncer refuses to)."""
    return "nobody" if os.geteuid() == 0 else None


def env_file_line(key, value):
    return f"{key}={shlex.quote(value)}" if any(c in value for c in " '\"{}$") else f"{key}={value}"


class State:
    """state.json in the work directory: what `up` created and started."""

    def __init__(self, workdir):
        self.path = workdir / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}

    def save(self):
        self.path.write_text(json.dumps(self.data, indent=2) + "\n")
        self.path.chmod(0o600)

    def processes(self):
        return self.data.setdefault("processes", {})


# ---------------------------------------------------------------------------------------------
# the pieces


def check_prerequisites(app_dir):
    missing = [str(p) for p in (NGINX, PGBOUNCER) if not os.access(p, os.X_OK)]
    if missing:
        raise TopologyError(
            f"missing {', '.join(missing)}: apt-get install nginx-light pgbouncer "
            "(then stop and disable their services: this script runs its own instances)"
        )
    for tool in ("python", "gunicorn"):
        if not os.access(VENV_BIN / tool, os.X_OK):
            raise TopologyError(f"missing {VENV_BIN / tool}: run `make -C {ROOT} .venv/.installed` first")
    if not (app_dir / "manage.py").is_file():
        raise TopologyError(f"no manage.py in {app_dir} (--app-dir)")


def database_names(prefix, clients):
    return {"control": f"{prefix}control", **{client: f"{prefix}{client}" for client in clients}}


def client_database_value(url, options):
    """A VBA_DATABASES value: the URL alone, or {"url": ..., option: value, ...} with options."""
    return {"url": url, **dict(options)} if options else url


def key_value(text, parse_json=False):
    """``KEY=VALUE`` from the command line; with ``parse_json`` the value is JSON when it parses."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if parse_json:
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return key, value


def create_databases(pg_url, role, names):
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            say(f"created role {role}")
        for name in names.values():
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                say(f"database {name} exists; reusing it")
                continue
            create = sql.SQL("CREATE DATABASE {} OWNER {}")
            conn.execute(create.format(sql.Identifier(name), sql.Identifier(role)))
            say(f"created database {name}")


def drop_databases(pg_url, role, names):
    def drop(name):
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        say(f"dropped database {name}")

    # At once: each DROP DATABASE waits for a checkpoint, which the drops can then share.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        list(pool.map(drop, names))
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        if role:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            say(f"dropped role {role}")


def app_environment(state):
    """The service's environment: what vbaproject.env holds, over a clean copy of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "VBA_", "GUNICORN_")) and k != "DATABASE_URL"
    }
    env.update(state.data["app_env"])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(state, *args):
    """Run manage.py with the service's environment; give its output."""
    return manage_together(state, args)[0]


def manage_together(state, *commands):
    """Run several manage.py commands at once (each is mostly Django's start-up); their outputs."""
    processes = [
        subprocess.Popen(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=state.data["app_dir"],
            env=app_environment(state),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outputs = [process.communicate() for process in processes]
    for args, process, (stdout, stderr) in zip(commands, processes, outputs, strict=True):
        if process.returncode != 0:
            raise TopologyError(f"manage.py {' '.join(args)} failed:\n{stdout}{stderr}")
    return [stdout for stdout, _ in outputs]


def spawn(state, key, command, log_path, env=None, cwd=None):
    """Start a long-running process in its own session; remember its pid in state.json."""
    log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    log.close()
    state.processes()[key] = {"pid": process.pid, "name": Path(command[0]).name, "log": str(log_path)}
    state.save()
    return process


def stop_process(key, info, signum, grace):
    pid, name = info["pid"], info["name"]
    if pid_alive(pid, name):
        os.kill(pid, signum)
        deadline = time.monotonic() + grace
        while pid_alive(pid, name) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid, name):
            say(f"{key} (pid {pid}) did not stop within {grace} s: SIGKILL")
            os.kill(pid, signal.SIGKILL)
        say(f"stopped {key} (pid {pid})")
    else:
        say(f"{key} (pid {pid}) was not running")
    if name == "gunicorn":
        # Workers of a master that was killed outright linger until they notice; they share
        # the master's process group (its own session, started by spawn()).
        leftovers = group_members(pid)
        if leftovers:
            for member in leftovers:
                os.kill(member, signal.SIGTERM)
            say(f"stopped the leftover workers of {key}: {', '.join(map(str, leftovers))}")


def group_members(pgid):
    """Live (not zombie) processes of process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


# ---------------------------------------------------------------------------------------------
# commands


def cmd_up(args):
    check_prerequisites(args.app_dir)
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    state = State(workdir)
    running = [k for k, v in state.processes().items() if pid_alive(v["pid"], v["name"])]
    if running:
        raise TopologyError(f"already running ({', '.join(running)}): `topology.py down` first")
    gunicorn_ports = [int(p) for p in args.gunicorn_ports.split(",")]
    for port in [args.nginx_port, args.pgbouncer_port, *gunicorn_ports]:
        if port_open(port):
            raise TopologyError(f"port {LOOPBACK}:{port} is in use; choose another (see --help)")
    if not redis_ping(args.redis_url):
        raise TopologyError(f"Redis does not answer at {args.redis_url}")

    args.clean_up_on_failure = True  # from here on, a failure stops what this run started
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    role = args.prefix.rstrip("_")
    names = database_names(args.prefix, clients)
    pg = urlsplit(args.pg_url)
    state.data = {
        "workdir": str(workdir),
        "role": role,
        "databases": names,
        "clients": clients,
        "pg_url": args.pg_url,
        "nginx_port": args.nginx_port,
        "gunicorn_ports": gunicorn_ports,
        "pgbouncer_port": args.pgbouncer_port,
        "pool_mode": args.pool_mode,
        "processes": {},
        "app_dir": str(args.app_dir),
    }
    state.save()
    try:
        create_databases(args.pg_url, role, names)
    except psycopg.OperationalError as exc:
        raise TopologyError(f"PostgreSQL at {args.pg_url}: {exc}") from None

    run_as = drop_privileges_user()
    nginx_dir, pgb_dir, var_dir = workdir / "nginx", workdir / "pgbouncer", workdir / "var"
    for directory in (nginx_dir / "tmp", pgb_dir, var_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(pgb_dir, user=run_as)

    # PgBouncer: one [databases] entry per database; the app connects as `role`.
    via = "" if args.pool_mode == "session" else f" pool_mode={args.pool_mode}"
    entries = "\n".join(
        f"{name} = host={pg.hostname or LOOPBACK} port={pg.port or 5432} dbname={name}{via}"
        for name in names.values()
    )
    (pgb_dir / "pgbouncer.ini").write_text(
        render(
            DEPLOY_DIR / "pgbouncer.ini.template",
            {
                "database_entries": entries,
                "listen_address": LOOPBACK,
                "pgbouncer_port": args.pgbouncer_port,
                "pgbouncer_dir": pgb_dir,
                "admin_user": role,
            },
        )
    )
    # auth_type = trust: the password field is not checked (production: SCRAM secrets).
    (pgb_dir / "userlist.txt").write_text(f'"{role}" ""\n')
    if args.pool_mode != "session":
        say(f"EXPERIMENT: PgBouncer in {args.pool_mode} mode (the shipped configuration is session)")

    def db_url(name):
        return f"postgresql://{role}@{LOOPBACK}:{args.pgbouncer_port}/{name}"

    app_env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db_url(names["control"]),
        "VBA_DATABASES": json.dumps(
            {client: client_database_value(db_url(names[client]), args.db_option) for client in clients}
        ),
        "VBA_CACHE_URL": args.redis_url,
        "VBA_LOG_LEVEL": "INFO",
        "VBA_THROTTLE_RATE": str(args.throttle_rate),
        "VBA_THROTTLE_BURST": str(args.throttle_burst),
        # As deploy/vbaproject.env.example: 3 of each worker's 4 threads per client database
        # (a database's own max_requests, --db-option, overrides it); nginx is the one proxy.
        "VBA_DATABASE_MAX_REQUESTS": "3",
        "VBA_TRUSTED_PROXY_COUNT": "1",
        "VBA_VAR_DIR": str(var_dir),
        "GUNICORN_WORKERS": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
    }
    app_env.update(dict(args.env))
    env_path = workdir / "vbaproject.env"
    env_path.write_text("".join(env_file_line(k, v) + "\n" for k, v in app_env.items()))
    env_path.chmod(0o600)
    state.data["app_env"] = app_env
    state.save()

    nginx_conf = nginx_dir / "nginx.conf"
    nginx_conf.write_text(
        render(
            DEPLOY_DIR / "nginx.conf.template",
            {
                "user_directive": f"user {run_as} nogroup;   # [try-out] started as root" if run_as else "",
                "nginx_dir": nginx_dir,
                "listen_address": LOOPBACK,
                "nginx_port": args.nginx_port,
                "server_names": "127.0.0.1 localhost",
                "static_root": var_dir / "static",
                "upstream_servers": "\n".join(
                    f"        server {LOOPBACK}:{port} max_fails=1 fail_timeout=5s;"
                    for port in gunicorn_ports
                ),
            },
        )
    )

    # 1. PgBouncer
    command = [str(PGBOUNCER), *(["-u", run_as] if run_as else []), str(pgb_dir / "pgbouncer.ini")]
    log = pgb_dir / "console.log"
    process = spawn(state, "pgbouncer", command, log)
    wait_until(lambda: port_open(args.pgbouncer_port), "pgbouncer", 15, process, log)
    say(f"pgbouncer on {LOOPBACK}:{args.pgbouncer_port} (pid {process.pid}, pool_mode {args.pool_mode})")

    # 2. the databases, through PgBouncer
    say("migrate_all, collectstatic, seed_demo, create_api_key (through pgbouncer) ...")
    manage_together(state, ["migrate_all", "-v0"], ["collectstatic", "--noinput", "-v0"])
    _, output = manage_together(
        state,
        ["seed_demo", "--rows", str(args.seed_rows)],
        ["create_api_key", "topology try-out", "--databases", ",".join(clients)],
    )
    state.data["api_key"] = output.strip().splitlines()[-1]
    state.save()

    # 3. gunicorn, one master per port, started together
    start_gunicorn(state, *gunicorn_ports)

    # 4. nginx
    base = [str(NGINX), "-p", str(nginx_dir), "-c", str(nginx_conf), "-e", str(nginx_dir / "error.log")]
    checked = subprocess.run([*base, "-t", "-q"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise TopologyError(f"nginx -t rejected {nginx_conf}:\n{checked.stderr}")
    log = nginx_dir / "console.log"
    process = spawn(state, "nginx", base, log)
    url = f"http://{LOOPBACK}:{args.nginx_port}{READY}"
    wait_until(lambda: http_status(url) == 200, "nginx", 60, process, log)
    say(f"nginx on {LOOPBACK}:{args.nginx_port} (master pid {process.pid})")
    print_summary(state)


def print_summary(state):
    d = state.data
    front = f"http://{LOOPBACK}:{d['nginx_port']}"
    first = d["clients"][0]
    print(f"""
API:        {front}/vbasoftware/   (OpenAPI: {front}/vbasoftware/openapi.json)
Admin:      {front}/admin/         user {DEMO_USER} / {DEMO_PASSWORD}
Instances:  {", ".join(f"http://{LOOPBACK}:{p}/" for p in d["gunicorn_ports"])}
PgBouncer:  psql -h {LOOPBACK} -p {d["pgbouncer_port"]} -U {d["role"]} pgbouncer -c 'SHOW POOLS'
Databases:  {", ".join(f"{k} -> {v}" for k, v in d["databases"].items())}
API key:    {d.get("api_key", "(not created)")}
Work dir:   {d["workdir"]}  (vbaproject.env, nginx/, pgbouncer/, gunicorn-*.log, state.json)

Log in:
  curl -s -X POST {front}/vbasoftware/user-authentication -H 'x-api-key: {d.get("api_key", "")}' \\
    -H 'vbasoftware-database: {first}' -u {DEMO_USER}:{DEMO_PASSWORD}
""")


def cmd_status(args):
    state = State(args.workdir)
    if not state.data:
        say(f"nothing recorded in {state.path}: not up")
        return 1
    d = state.data
    healthy = True
    for key, info in d.get("processes", {}).items():
        alive = pid_alive(info["pid"], info["name"])
        healthy &= alive
        line = f"{key:<16} pid {info['pid']:<8} {'running' if alive else 'NOT RUNNING'}"
        if key == "nginx" or key.startswith("gunicorn"):
            port = d["nginx_port"] if key == "nginx" else int(key.split("-")[1])
            code = http_status(f"http://{LOOPBACK}:{port}{READY}")
            healthy &= code == 200
            line += f"   GET :{port}{READY} -> {code}"
        print(line)
    try:
        with psycopg.connect(
            f"postgresql://{d['role']}@{LOOPBACK}:{d['pgbouncer_port']}/pgbouncer",
            autocommit=True,
            connect_timeout=3,
            cursor_factory=psycopg.ClientCursor,
        ) as conn:
            cursor = conn.execute("SHOW POOLS")
            names = [column.name for column in cursor.description]
            shown = ["database", "cl_active", "cl_waiting", "sv_active", "sv_idle", "pool_mode"]
            print("pgbouncer pools:\n  " + f"{'database':<18}" + "".join(f"{n:>12}" for n in shown[1:]))
            for row in cursor.fetchall():
                pool = dict(zip(names, row, strict=True))
                if pool["database"] != "pgbouncer":
                    print(
                        f"  {pool['database']:<18}" + "".join(f"{pool.get(n, '?')!s:>12}" for n in shown[1:])
                    )
    except psycopg.Error as exc:
        healthy = False
        print(f"pgbouncer admin console: {exc}")
    print_summary(state)
    return 0 if healthy else 1


def start_gunicorn(state, *ports):
    """A gunicorn master per port (as vbaproject@PORT.service would run it); wait until each is ready."""
    started = []
    for port in ports:
        env = app_environment(state)
        env["GUNICORN_BIND"] = f"{LOOPBACK}:{port}"
        command = [str(VENV_BIN / "gunicorn"), "-c", str(DEPLOY_DIR / "gunicorn.conf.py")]
        log = Path(state.data["workdir"]) / f"gunicorn-{port}.log"
        process = spawn(state, f"gunicorn-{port}", command, log, env=env, cwd=state.data["app_dir"])
        started.append((port, process, log))
    for port, process, log in started:
        url = f"http://{LOOPBACK}:{port}{READY}"
        wait_until(lambda url=url: http_status(url) == 200, f"gunicorn on {port}", 120, process, log)
        say(f"gunicorn on {LOOPBACK}:{port} (master pid {process.pid})")


def instance(state, port):
    key = f"gunicorn-{port}"
    if port not in state.data.get("gunicorn_ports", []):
        raise TopologyError(f"no gunicorn instance on port {port} in {state.path}")
    return key, state.processes().get(key)


def kill_instance(workdir, port, timeout=20):
    """SIGKILL one gunicorn instance, master and workers at once, as a crash would end it.

    The master was started in its own session (spawn()), so its pid is the process group of
    the master and its workers: one killpg takes them all, with no time to finish anything.
    Returns once nothing listens on the port any more.
    """
    state = State(workdir)
    key, info = instance(state, port)
    if info and pid_alive(info["pid"], info["name"]):
        for member in [info["pid"], *group_members(info["pid"])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)
        say(f"killed {key} (process group {info['pid']})")
    wait_until(lambda: not port_open(port), f"port {port} to be free", timeout)


def restart(workdir, port):
    """Restart one gunicorn instance (stopped or crashed), like `systemctl restart vbaproject@PORT`."""
    state = State(workdir)
    key, info = instance(state, port)
    if info:
        stop_process(key, info, signal.SIGTERM, 40)
    wait_until(lambda: not port_open(port), f"port {port} to be free", 40)
    start_gunicorn(state, port)


def cmd_kill(args):
    kill_instance(args.workdir, args.port)
    return 0


def cmd_restart(args):
    restart(args.workdir, args.port)
    return 0


def cmd_down(args):
    state = State(args.workdir)
    processes = state.data.get("processes", {})
    plan = [("nginx", signal.SIGQUIT, 15)]  # QUIT: finish the requests in flight
    plan += [(k, signal.SIGTERM, 40) for k in processes if k.startswith("gunicorn")]  # > graceful_timeout
    plan += [("pgbouncer", signal.SIGTERM, 10)]
    for key, signum, grace in plan:
        if key in processes:
            stop_process(key, processes[key], signum, grace)
    state.data["processes"] = {}
    if args.drop:
        d = state.data
        names = list(d.get("databases", database_names(args.prefix, args.clients.split(","))).values())
        drop_databases(d.get("pg_url", args.pg_url), d.get("role", args.prefix.rstrip("_")), names)
        state.path.unlink(missing_ok=True)
    elif state.data:
        state.save()
    say(f"down (logs kept in {args.workdir})")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=ROOT / "var" / "topology",
        help="where configurations, logs and state go (default var/topology)",
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL superuser connection, to create and drop the databases",
    )
    parser.add_argument("--prefix", default="vba_topo_", help="database name prefix; the role is its stem")
    parser.add_argument("--clients", default="acme,globex", help="client database names")
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="the checkout to run (default: this one); the virtualenv is always this checkout's .venv",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="create, configure and start everything")
    up.add_argument("--nginx-port", type=int, default=8080)
    up.add_argument("--gunicorn-ports", default="8101,8102", help="one gunicorn master per port")
    up.add_argument("--pgbouncer-port", type=int, default=6432)
    up.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    up.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    up.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    up.add_argument("--throttle-rate", type=float, default=25, help="VBA_THROTTLE_RATE")
    up.add_argument("--throttle-burst", type=int, default=50, help="VBA_THROTTLE_BURST")
    up.add_argument("--seed-rows", type=int, default=40, help="demo records per entity and database")
    up.add_argument(
        "--env",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="one more variable of the service's environment (repeatable; overrides the defaults)",
    )
    up.add_argument(
        "--db-option",
        action="append",
        type=lambda text: key_value(text, parse_json=True),
        default=[],
        metavar="KEY=VALUE",
        help="an option of every client database in VBA_DATABASES, e.g. lock_timeout=2000 (repeatable)",
    )
    up.add_argument(
        "--pool-mode",
        choices=["session", "transaction"],
        default="session",
        help="experiment only: override PgBouncer's pool_mode per database (shipped: session)",
    )
    commands.add_parser("status", help="what runs, whether it answers, PgBouncer's pools")
    kill = commands.add_parser("kill", help="SIGKILL one gunicorn instance (master and workers), as a crash")
    kill.add_argument("port", type=int)
    restart = commands.add_parser("restart", help="restart one gunicorn instance")
    restart.add_argument("port", type=int)
    down = commands.add_parser("down", help="stop what `up` started")
    down.add_argument("--drop", action="store_true", help="also drop the databases and the role")
    return parser


def parse_args(argv):
    args = build_parser().parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.app_dir = args.app_dir.resolve()
    return args


def up(args, drop_on_failure=False):
    """`up`; when it fails half-way, stop what it started (and drop the databases if asked)."""
    try:
        cmd_up(args)
    except BaseException:
        if getattr(args, "clean_up_on_failure", False):
            kept = "dropping the databases" if drop_on_failure else "databases kept; `down --drop` drops them"
            say(f"up failed: stopping what it started ({kept})")
            down(args.workdir, drop_on_failure, args.pg_url, args.prefix, args.clients)
        raise


def down(workdir, drop=False, pg_url=None, prefix="vba_topo_", clients="acme,globex"):
    options = argparse.Namespace(workdir=workdir, drop=drop, pg_url=pg_url, prefix=prefix, clients=clients)
    return cmd_down(options)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `topology.py status | head` ends quietly
    try:
        if args.command == "up":
            up(args)
            return 0
        commands = {"status": cmd_status, "down": cmd_down, "kill": cmd_kill, "restart": cmd_restart}
        return commands[args.command](args)
    except TopologyError as exc:
        print(f"topology: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
