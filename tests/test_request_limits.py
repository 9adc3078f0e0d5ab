"""Requests refused before a view reads them (vbaproject/middleware.py): bodies over Django's
2.5 MB outside the API, and NUL characters in URLs and form values.

The body limit is shown two ways: through Django's WSGI handler with a body stream that counts
what is read of it (nothing is), and against a real gunicorn, which answers a 200 MB POST to
``/admin/login/`` while the client has sent 64 KiB of it. The API's batch routes keep their own,
larger limit. NUL: on PostgreSQL an admin search or filter with ``%00`` used to be a 500; on
every backend it is now a 400.
"""

import base64
import io
import json
import os
import socket
import sys
import time
import uuid

import pytest
from django.test.client import ClientHandler
from django.urls import reverse

from grievances.models import Grievance
from tests.support.answers import problem_of
from tests.support.entities import batch_url, collection_url
from tests.support.factories import StaffFactory, make_record
from tests.test_login_limits import Gunicorn
from vbaproject.admin.sites import site_name

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

MB = 1024 * 1024
LIMIT = 2_621_440  # DATA_UPLOAD_MAX_MEMORY_SIZE: Django's default


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes that is made up as it is read, counting what was read."""

    def __init__(self, size):
        self.size = size
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


def wsgi_post(path, size, content_type):
    """(status, body bytes read) of a POST with a ``size``-byte body through Django's handler."""
    body = CountingBody(size)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(size),
        "wsgi.input": body,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    # Django's WSGI handling as the test client runs it (which leaves the test's connections open).
    response = ClientHandler()(environ)
    return response.status_code, body.read_bytes


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/octet-stream"],
)
def test_a_200_mb_post_to_the_admin_login_is_413_without_reading_the_body(content_type):
    started = time.monotonic()
    status, read = wsgi_post("/admin/login/", 200 * MB, content_type)
    assert (status, read) == (413, 0)
    assert time.monotonic() - started < 10


def test_a_body_just_over_the_limit_anywhere_outside_the_api(client):
    assert wsgi_post(
        "/admin/demo/grievances/grievance/add/", LIMIT + 1, "application/x-www-form-urlencoded"
    ) == (
        413,
        0,
    )
    body = f"username=x&password={'y' * (LIMIT - 1000)}"
    response = client.post("/admin/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200  # under the limit: an ordinary failed login


def test_the_api_keeps_its_own_larger_limit(api):
    """A 3 MB batch body (an empty list padded with whitespace) is read by the API's parser."""
    body = b"[" + b" " * (3 * MB) + b"]"
    assert api.put(batch_url(Grievance), body).status_code == 207


def test_a_real_server_answers_a_200_mb_admin_post_before_it_is_sent(tmp_path):
    """gunicorn + Django answer 413 while the client has sent 64 KiB of its 200 MB: the worker
    never reads (or holds) the body."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VBA_", "GUNICORN_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="vbaproject.settings",
        DJANGO_SECRET_KEY="request-limits-test-" + uuid.uuid4().hex,
        DATABASE_URL=f"sqlite:///{tmp_path / 'control.sqlite3'}",
        VBA_DATABASES=json.dumps({"demo": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}),
        VBA_VAR_DIR=str(tmp_path),
        PYTHONWARNINGS="ignore",
    )
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            head = (
                "POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {200 * MB}\r\n\r\n"
            )
            sock.sendall(head.encode() + b"username=a&password=" + b"b" * (64 * 1024))
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    finally:
        server.stop()


# --- NUL characters ------------------------------------------------------------------------------


@pytest.fixture
def superuser(client):
    client.force_login(StaffFactory(username="boss", is_superuser=True))


def changelist():
    return reverse("admin:grievances_grievance_changelist", current_app=site_name("demo"))


@pytest.mark.parametrize(
    "query",
    [
        {"q": "\x00"},
        {"q": "ABC\x00"},
        {"grievance_Status": "\x00"},
        {"grievance_Type__exact": "OPEN\x00"},
        {"\x00": "1"},
    ],
)
def test_nul_in_an_admin_search_or_filter_is_400(client, superuser, query):
    make_record(Grievance, "demo", subscriber_ID="ABC01")
    response = client.get(changelist(), query)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_searches_and_filters_without_nul_still_work(client, superuser):
    make_record(Grievance, "demo", subscriber_ID="ABC01", grievance_Status="OPEN")
    response = client.get(changelist(), {"q": "ABC", "grievance_Status": "OPEN"})
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 1


def test_nul_in_a_path_or_a_form_value_is_400(client, superuser):
    grievance = make_record(Grievance, "demo")
    change = reverse("admin:grievances_grievance_change", args=[grievance.pk], current_app=site_name("demo"))
    assert client.get(change.replace(f"/{grievance.pk}/", "/1%00/")).status_code == 400
    assert client.post(change, {"issue": "text\x00more"}).status_code == 400
    assert client.post("/admin/login/", {"username": "boss\x00", "password": "x"}).status_code == 400


def test_the_api_answers_nul_itself(api):
    """Left to the API's own checks: a list parameter with NUL is a 400 naming it, a key with NUL
    names no record (404), and Basic credentials with NUL are a 401 (before any hashing)."""
    error = problem_of(api.get(f"{collection_url(Grievance)}?grievance_Status=%00"), 400)
    assert "grievance_Status" in error["detail"]
    problem_of(api.get("/vbasoftware/auths/A%00B"), 404)
    basic = base64.b64encode(b"api-user\x00:x").decode()
    response = api.client.post(
        "/vbasoftware/user-authentication",
        headers={"x-api-key": api.key, "Authorization": f"Basic {basic}", "vbasoftware-database": "demo"},
    )
    assert response.status_code == 401
