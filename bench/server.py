"""A real server for the benchmarks: gunicorn on loopback, fresh for each measurement.

``make bench`` (``bench.run``) and the scale benchmark (``bench.scale``) both start the project
with ``Server`` and run its management commands with ``manage``; memory is read from the
workers' ``/proc`` status.
"""

import http.client
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


class Server:
    """gunicorn with sync workers; memory is read from the worker's /proc status."""

    def __init__(self, env, port, workers=1, timeout=900):
        self.port = port
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "vbaproject.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        if timeout:
            command += ["--timeout", str(timeout)]
        self.log = tempfile.NamedTemporaryFile(prefix="vba-scale-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server did not start: see {self.log.name}")
            try:
                request(self.port, "GET", "/vbasoftware/openapi.json", timeout=60)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not answer within 60 s")

    def workers(self):
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def memory_mb(self, field, pid=None):
        """``field`` (VmRSS, VmHWM) of worker ``pid`` (by default the first), in MB."""
        pid = pid or self.workers()[0]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise LookupError(field)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def request(self, method, path, body=None, headers=None, timeout=900):
        """(status, body) of one request to this server."""
        status, _, data = request(self.port, method, path, body, headers, timeout)
        return status, data

    def timeouts(self):
        """How many times gunicorn has killed a worker for its timeout so far."""
        return Path(self.log.name).read_text(errors="replace").count("WORKER TIMEOUT")


def request(port, method, path, body=None, headers=None, timeout=300):
    """(status, headers, body); a new connection each time, as gunicorn's sync workers close them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()
