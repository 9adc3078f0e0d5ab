"""Failed-login limits, per username and per client address, checked before any password hashing.

One failed login costs Django's password hasher (PBKDF2, about 0.4 s of CPU at the default
cost, which stays as it is): a flood of wrong guesses would take the CPU from every other
caller long before a per-key request throttle noticed, and the admin login had no limit at
all. So every login, the API's (``POST /vbasoftware/user-authentication``,
``vbaproject.accounts.authentication``) and the admin's (``/admin/login/`` and every client
database's ``/admin/<database>/login/``, ``AdminLoginLimitMiddleware`` below), first calls
``begin_attempt``, which counts the attempt against

- the username: ``VBA_LOGIN_FAILURES_PER_USER`` (10) failures per window, and
- the client address: ``VBA_LOGIN_FAILURES_PER_ADDRESS`` (50) failures per window,

each window being ``VBA_LOGIN_FAILURE_WINDOW`` seconds (900) from that counter's first failure.
An attempt past either limit is refused with 429 and ``Retry-After`` (the seconds until the
window ends) without ``authenticate()`` being called: it costs a few cache operations, no
hashing. That is also the lockout: once a username has used up its failures, its right password
is refused too until the window has passed. A successful login clears its username's count.

The attempt is counted *before* the password is checked (``cache.incr`` hands every concurrent
attempt a distinct number), then given back if it succeeds: so however many requests arrive at
once, at most the limit of them reach the hasher per window, which a check-then-count would not
guarantee. Counters live in Django's default cache, Redis in production (``VBA_CACHE_URL``), so
every process and machine shares them; if the cache fails (Redis down) the counting carries on
in a per-process memory store and a warning is logged (``vbaproject.cache_outage``), rather
than letting every guess through or answering 500.

The client address is ``REMOTE_ADDR``, or with ``VBA_TRUSTED_PROXY_COUNT`` = N > 0 (nginx in
front: 1) the N-th ``X-Forwarded-For`` entry from the right: the address the outermost trusted
proxy saw; entries further left are the client's own word. IPv6 addresses count per /64, the
block one subscriber usually holds.

Why not django-axes, the well-kept library for this: its ``AxesBackend`` does refuse a locked-out
login before the hashing backends run, but it has one failure limit for all its lockout
parameters (we want 10 per user and 50 per address), its default handler writes a database row
per failed attempt into the control database (its cache handler has no fallback when the cache
is down), and its lockout response comes from a middleware reacting to a permission-denied
signal raised inside ``authenticate()``, which the API's login (DRF, answering an RFC 9457
problem with ``Retry-After``) would have to re-map. What is needed here is a counter in the
shared cache and a check before ``authenticate()``, about a hundred lines.
"""

import contextlib
import hashlib
import ipaddress
import math
import time

from django.conf import settings
from django.contrib import admin
from django.shortcuts import render
from django.urls import Resolver404, resolve

from vbaproject.cache_outage import shared_cache

CACHE_PREFIX = "vba-login"


class LoginLimited(Exception):
    """Too many failed logins for the username or from the address: retry after ``retry_after`` s."""

    def __init__(self, retry_after):
        self.retry_after = retry_after
        super().__init__("Too many failed logins for this user or from this address.")

    @property
    def minutes(self):
        return math.ceil(self.retry_after / 60)


def _count(store, key, window, now):
    """One more on the counter ``key`` (created with its start time); (count, window start)."""
    for _ in range(3):
        store.add(f"{key}:t", now, window)
        store.add(f"{key}:n", 0, window)
        try:
            count = store.incr(f"{key}:n")
        except ValueError:  # expired between add and incr: create it again
            continue
        return count, store.get(f"{key}:t", now)
    return 1, now


def _give_back(store, key):
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to give back
        store.decr(f"{key}:n")


def client_address(request):
    """The caller's address: ``REMOTE_ADDR``, or the N-th ``X-Forwarded-For`` entry from the right
    with ``VBA_TRUSTED_PROXY_COUNT`` = N; IPv6 as its /64."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = int(settings.VBA_TRUSTED_PROXY_COUNT)
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            address = forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(kind, value):
    digest = hashlib.sha256(value.encode("utf-8", "backslashreplace")).hexdigest()[:32]
    return f"{CACHE_PREFIX}:{kind}:{digest}"


class Attempt:
    """One login attempt, counted as failed until ``succeeded()`` is called."""

    def __init__(self, user_key, address_key):
        self.user_key = user_key
        self.address_key = address_key

    def succeeded(self):
        """The password was right: clear the username's failures, give the address its count back."""

        def clear(store):
            if self.user_key:
                store.delete_many([f"{self.user_key}:n", f"{self.user_key}:t"])
            if self.address_key:
                _give_back(store, self.address_key)

        shared_cache(clear)


def begin_attempt(request, username):
    """Count a login attempt of ``username`` from the request's address, before the password is
    checked; raises ``LoginLimited`` (nothing counted) when either limit is used up."""
    window = max(1, int(settings.VBA_LOGIN_FAILURE_WINDOW))
    user_key = _key("user", username) if username else None
    address_key = _key("address", client_address(request))
    limits = [
        (key, limit)
        for key, limit in (
            (user_key, int(settings.VBA_LOGIN_FAILURES_PER_USER)),
            (address_key, int(settings.VBA_LOGIN_FAILURES_PER_ADDRESS)),
        )
        if key is not None and limit > 0
    ]
    now = time.time()

    def count(store):
        counted = [(key, limit, *_count(store, key, window, now)) for key, limit in limits]
        over = [since for _, limit, number, since in counted if number > limit]
        if over:
            for key, *_ in counted:
                _give_back(store, key)
        return over

    over = shared_cache(count)
    if over:
        raise LoginLimited(max(1, math.ceil(max(over) + window - now)))
    counted = {key for key, _ in limits}
    return Attempt(user_key if user_key in counted else None, address_key if address_key in counted else None)


# --- the admin's login pages -----------------------------------------------------------------


def _is_admin_login(request):
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.url_name == "login" and match.app_name == "admin"


def login_limited_response(request, limited):
    """The admin's styled page for a refused login: 429 with ``Retry-After``."""
    context = {**admin.site.each_context(request), "title": "Too many failed logins", "limited": limited}
    response = render(request, "admin/vba_login_limited.html", context, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


class AdminLoginLimitMiddleware:
    """Every admin site's login form (the control site's and each client database's) counts
    against the login limits before Django's ``AuthenticationForm`` calls ``authenticate()``.

    A POST is a success when it logged that user in (the login view redirects and
    ``request.user`` is the posted username); anything else (a wrong password, an unknown
    user, a form error) stays counted as a failure. After ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or not _is_admin_login(request):
            return self.get_response(request)
        username = request.POST.get("username", "")
        try:
            attempt = begin_attempt(request, username)
        except LoginLimited as limited:
            return login_limited_response(request, limited)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            response.status_code in (301, 302, 303)
            and user is not None
            and user.is_authenticated
            and user.get_username() == username
        ):
            attempt.succeeded()
        return response
