"""Settings, all read from the environment (see the README's table)."""

import os
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from vbaproject.db.config import database_config, parse_client_databases

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the demo's SQLite files and collected static files live (make run creates it).
VAR_DIR = Path(os.environ.get("VBA_VAR_DIR", BASE_DIR / "var"))


def env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_flag("DJANGO_DEBUG")
# Sessions, CSRF and (unless VBA_JWT_SECRET is set) ID tokens are signed with it: a server must
# not run on a key everyone can read. `make run` keeps a random one in var/demo-secret-key.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to 50 or more random characters "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(64))'), "
            "or set DJANGO_DEBUG=true to run with a public development key."
        )
    warnings.warn("DJANGO_SECRET_KEY is not set: using a public development key (debug).", stacklevel=1)
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "vbaproject",
    # The entity apps (their AppConfig is a vbaproject.apps.EntityAppConfig): listed here only.
    "carecases",
    "grievances",
    "claims",
    "auths",
    # After the entity apps: their history tables are declared from their models.
    "vbaproject.history",
    "vbaproject.idempotency",  # Idempotency-Key records, in every client database
]

MIDDLEWARE = [
    "vbaproject.api.activity.ActivityIdMiddleware",
    "vbaproject.db.limits.RequestDeadlineMiddleware",  # VBA_REQUEST_TIMEOUT starts here
    "django.middleware.security.SecurityMiddleware",
    "vbaproject.middleware.BodyLimitMiddleware",  # 413 for big bodies outside the API, unread
    "vbaproject.middleware.RejectNulMiddleware",  # 400 for NUL in a query string or form value
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "vbaproject.timezones.UserTimeZoneMiddleware",  # the admin in the user's time zone
    "vbaproject.accounts.login_limits.AdminLoginLimitMiddleware",  # the admin logins' limits
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vbaproject.urls"
WSGI_APPLICATION = "vbaproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vbaproject.admin.sites.databases_context",
            ],
        },
    },
]

# The control database holds users, API keys, sessions and the admin log; every client
# database (VBA_DATABASES) holds the five entity tables.
DATABASES = {
    "default": database_config(os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'control.sqlite3'}"),
    **parse_client_databases(
        os.environ.get("VBA_DATABASES") or f'{{"demo": "sqlite:///{VAR_DIR / "demo.sqlite3"}"}}'
    ),
}
DATABASE_ROUTERS = ["vbaproject.db.routing.ClientDatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # collectstatic fills it (make run)

# Request bodies outside the API (the admin's forms): Django's 2.5 MB; a larger Content-Length
# is answered 413 before the body is read (vbaproject/middleware.py). The API's parser reads the
# body stream itself, within its own, larger limit (VBA_BATCH_MAX_BYTES): this one does not apply.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

VBA_BATCH_MAX_ITEMS = int(os.environ.get("VBA_BATCH_MAX_ITEMS", 10_000))
# The admin's import (vbaproject/admin/imports.py): a file's size, under the admin's body limit
# above; its rows are limited by VBA_BATCH_MAX_ITEMS, as a batch's items.
VBA_IMPORT_MAX_BYTES = int(os.environ.get("VBA_IMPORT_MAX_BYTES", 2_000_000))
# The plan's time zone: every admin user's until they pick their own (My settings). Storage,
# the API and the server's clock stay UTC (TIME_ZONE).
VBA_PLAN_TIME_ZONE = os.environ.get("VBA_PLAN_TIME_ZONE", "America/New_York")
# The grievance queue (grievances/queue.py): days to resolve per grievance type, JSON over the
# Medicare defaults {"STANDARD": 30, "EXPEDITED": 1} (an unlisted type gets STANDARD's), and
# how many days ahead a deadline counts as "due soon".
VBA_GRIEVANCE_LIMITS = os.environ.get("VBA_GRIEVANCE_LIMITS", "")
VBA_GRIEVANCE_DUE_SOON_DAYS = float(os.environ.get("VBA_GRIEVANCE_DUE_SOON_DAYS", 5))
VBA_BATCH_MAX_BYTES = int(os.environ.get("VBA_BATCH_MAX_BYTES", 64 * 1024 * 1024))
# A request's writes stop (and are answered) this many seconds after it arrived: below the
# server's worker timeout (gunicorn's default is 30 s), so a worker is never killed mid-write.
# Per-database statement and lock timeouts: VBA_STATEMENT_TIMEOUT, VBA_LOCK_TIMEOUT (db/limits.py).
VBA_REQUEST_TIMEOUT = float(os.environ.get("VBA_REQUEST_TIMEOUT", 25))

# Every API route needs an API key and a user's ID token (vbaproject/accounts/) and is
# throttled per API key (vbaproject/accounts/throttling.py).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["vbaproject.accounts.authentication.ApiKeyAndIdTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["vbaproject.accounts.permissions.IsApiCaller"],
    "DEFAULT_THROTTLE_CLASSES": ["vbaproject.accounts.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "vbaproject.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "vbaproject.api.schema.VbaAutoSchema",
}

# The OpenAPI document (/vbasoftware/openapi.json, Swagger UI at /vbasoftware/docs/), generated
# from the code by drf-spectacular: paths relative to the /vbasoftware server, as VBAPI's are.
SPECTACULAR_SETTINGS = {
    "TITLE": "VBASoftware",
    "VERSION": "v1",
    "DESCRIPTION": (
        "A VBASoftware-compatible API (VBAPI) for care cases, care-case clinical trials, grievances, "
        "claim prompt pays and auths. Every call names its client database in the vbasoftware-database "
        "header and carries the application's API key (x-api-key) and the user's ID token "
        "(Authorization: Bearer, from POST /user-authentication). Every answer is the envelope "
        '{"data", "debug"}; a request that fails as a whole also carries error, a problem-details '
        "object (RFC 9457)."
    ),
    "SERVERS": [{"url": "/vbasoftware", "description": "This server"}],
    "SCHEMA_PATH_PREFIX": "/vbasoftware",
    "SCHEMA_PATH_PREFIX_TRIM": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "vbaproject.api.schema.add_vba_components",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# ID tokens from POST /vbasoftware/user-authentication: HS256 JWTs under a key derived from
# VBA_JWT_SECRET (else SECRET_KEY); changing it ends every token issued.
VBA_JWT_SECRET = os.environ.get("VBA_JWT_SECRET") or SECRET_KEY
VBA_TOKEN_LIFETIME_SECONDS = int(os.environ.get("VBA_TOKEN_LIFETIME_SECONDS", 24 * 60 * 60))

# Throttling per API key (VBAPI: 25 requests/s sustained, bursts to 50; a rate of 0 turns it
# off). The counters live in the default cache: set VBA_CACHE_URL to a Redis server so that
# every server process shares them.
VBA_THROTTLE_RATE = float(os.environ.get("VBA_THROTTLE_RATE", 25))
VBA_THROTTLE_BURST = int(os.environ.get("VBA_THROTTLE_BURST", 50))

# Failed logins (API and admin) per username and per client address within a window of seconds
# from the first failure; past either, logins answer 429 without checking the password
# (vbaproject/accounts/login_limits.py). 0 turns a limit off.
VBA_LOGIN_FAILURES_PER_USER = int(os.environ.get("VBA_LOGIN_FAILURES_PER_USER", 10))
VBA_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("VBA_LOGIN_FAILURES_PER_ADDRESS", 50))
VBA_LOGIN_FAILURE_WINDOW = int(os.environ.get("VBA_LOGIN_FAILURE_WINDOW", 900))
# How many proxies in front append to X-Forwarded-For (nginx: 1): the client address is the
# N-th entry from the right. 0: REMOTE_ADDR, X-Forwarded-For ignored.
VBA_TRUSTED_PROXY_COUNT = int(os.environ.get("VBA_TRUSTED_PROXY_COUNT", 0))

# HTTPS, terminated by the proxy in front (README, *Deployment*): DJANGO_HTTPS=true turns on the
# redirect to https://, secure cookies, HSTS and trust in the proxy's X-Forwarded-Proto; each
# has its own override. The load balancer's health checks stay reachable over plain HTTP.
HTTPS = env_flag("DJANGO_HTTPS")
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz)/?$"]
SESSION_COOKIE_SECURE = env_flag("DJANGO_SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_flag("DJANGO_CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31_536_000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD")


def proxy_ssl_header(value):
    """``X-Forwarded-Proto: https`` -> ``("HTTP_X_FORWARDED_PROTO", "https")``; empty or off: None."""
    value = value.strip()
    if value.lower() in {"", "0", "off", "false", "no", "none"}:
        return None
    name, sep, expected = value.partition(":")
    if not sep or not name.strip() or not expected.strip():
        raise ImproperlyConfigured("DJANGO_SECURE_PROXY_SSL_HEADER must be 'Header-Name: value' or off")
    return "HTTP_" + name.strip().upper().replace("-", "_"), expected.strip()


SECURE_PROXY_SSL_HEADER = proxy_ssl_header(
    os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https" if HTTPS else "")
)


# Seconds the Redis client waits to connect and for an answer before the cache counts as down
# (vbaproject/cache_outage.py: the throttle then falls back to a per-process count).
VBA_CACHE_TIMEOUT = float(os.environ.get("VBA_CACHE_TIMEOUT", 0.5))
# Seconds a worker reuses an API key + ID token pair it verified; any change to a key, user or
# grant ends it at once (vbaproject/accounts/credentials.py). 0 verifies every request in full.
VBA_CREDENTIALS_CACHE_SECONDS = float(os.environ.get("VBA_CREDENTIALS_CACHE_SECONDS", 60))


def cache_config(url, timeout=VBA_CACHE_TIMEOUT):
    """``redis://`` / ``rediss://`` / ``unix://`` URLs use Redis; ``sqlite:///path`` a SQLite
    file shared by the processes of one machine (``make run``); none, the per-process memory cache."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "vba"}}
    if url.startswith("sqlite:///"):
        # As DATABASE_URL: sqlite:////absolute/path, sqlite:///relative/path
        path = url[len("sqlite:///") :]
        return {"default": {"BACKEND": "vbaproject.sqlite_cache.SQLiteCache", "LOCATION": path}}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("VBA_CACHE_URL must be a redis://, rediss://, unix:// or sqlite:/// URL")
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }
    }


CACHES = cache_config(os.environ.get("VBA_CACHE_URL", "").strip())

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"activity": {"()": "vbaproject.api.activity.ActivityIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [activity %(activity_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["activity"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("VBA_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
VBA_BATCH_CHUNK_ROWS = int(os.environ.get("VBA_BATCH_CHUNK_ROWS", 1000))
# A write of at most this many rows skips PostgreSQL's staging table: one INSERT ... VALUES.
VBA_BATCH_SMALL_ROWS = int(os.environ.get("VBA_BATCH_SMALL_ROWS", 50))
# A batch of more than one chunk is validated chunk by chunk in a thread, while the previous
# chunk is written (vbaproject/engine/upsert.py); off, the whole batch is validated first.
VBA_BATCH_OVERLAP = os.environ.get("VBA_BATCH_OVERLAP", "on").strip().lower() not in {"off", "0", "false"}
# How long a write's Idempotency-Key is remembered (vbaproject.idempotency), in seconds.
VBA_IDEMPOTENCY_TTL = int(os.environ.get("VBA_IDEMPOTENCY_TTL", 86400))
# Static files (the admin's) are served by WhiteNoise, found in the apps when collectstatic has
# not run; no manifest, so a missing collectstatic never fails a page.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
