"""Gunicorn settings for vbaproject behind nginx (deploy/nginx.conf.template).

Used by both deploy/systemd/vbaproject@.service and deploy/topology.py:

    gunicorn -c deploy/gunicorn.conf.py

Each instance is its own master process on its own loopback port (GUNICORN_BIND); nginx
balances over the instances and retries idempotent requests on another one, so one instance can
be restarted (or crash) while the other answers. Everything an operator may want to change per
host is an environment variable (GUNICORN_*) so the file itself stays the same everywhere.
"""

import os
from pathlib import Path


def _int(name, default):
    return int(os.environ.get(name, default))


wsgi_app = "vbaproject.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8101")]  # loopback only: nginx is the front door
proc_name = "vbaproject-" + bind[0].rsplit(":", 1)[-1]

# 2 workers x 4 threads per instance. gthread: a thread is held for the request's whole
# duration (the batch engine's COPY and upsert included), while idle keep-alive connections
# wait in the worker's poller without holding one. nginx buffers request bodies, so a slow
# client never occupies a thread. Every thread keeps one persistent connection per database it
# touched (CONN_MAX_AGE=60): size PgBouncer's pools for instances x workers x threads.
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
backlog = _int("GUNICORN_BACKLOG", 256)

# gthread workers send their heartbeat from the main loop, so `timeout` only catches a wedged
# process, not a long request; nginx's proxy_read_timeout (120 s) bounds what a client waits.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM / restart a worker gets this long to finish requests in flight (a 10,000-Auth
# batch takes about a second). systemd's TimeoutStopSec must be longer.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than nginx's upstream keepalive_timeout (60 s): the proxy, not gunicorn, closes idle
# upstream connections, so nginx never sends a request on a connection gunicorn just closed.
keepalive = _int("GUNICORN_KEEPALIVE", 75)

# Recycle workers now and then (memory of 64 MiB batches is returned to the OS); the jitter
# keeps the two workers of an instance from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Request-line and header limits, matched by nginx's large_client_header_buffers (4 x 16k):
# list URLs with many filters, ID tokens and admin session cookies fit; nothing larger gets in.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16380

# Trust X-Forwarded-Proto from nginx (on loopback) only, and only that one header: nginx
# clears X-Forwarded-Ssl / X-Forwarded-Protocol, which gunicorn would otherwise also honour.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# The heartbeat file on tmpfs, as recommended for containers and systemd hosts.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None

# gunicorn >= 24 opens a control socket at one per-user default path, which two instances
# would fight over; not used here. (Unknown settings are ignored by older gunicorn.)
control_socket_disable = True

# Logs go to stdout/stderr (the journal under systemd). nginx writes the access log, with the
# x-activity-id of every answer; set GUNICORN_ACCESSLOG=- to have gunicorn write one too.
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
capture_output = False
