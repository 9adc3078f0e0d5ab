"""Settings for the test suite: the project's, with test databases a bare ``pytest`` can find.

``make test`` sets the environment for each pass (SQLite, then PostgreSQL); run alone,
``pytest`` uses SQLite files under ``var/test/`` (Django's test runner makes its own copies).
"""

import json
import os
from pathlib import Path

_VAR = Path(__file__).resolve().parent.parent / "var" / "test"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-use")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_VAR / 'control.sqlite3'}")
os.environ.setdefault(
    "VBA_DATABASES",
    json.dumps(
        {"demo": f"sqlite:///{_VAR / 'demo.sqlite3'}", "other": f"sqlite:///{_VAR / 'other.sqlite3'}"}
    ),
)

from vbaproject.settings import *  # noqa: E402, F403

STATIC_ROOT = None  # static files come from the apps (WHITENOISE_USE_FINDERS); nothing is collected

# The admin's tests type and read date-times in UTC; tests/test_time_zones.py sets a user's zone
# and the plan's (VBA_PLAN_TIME_ZONE, America/New_York when deployed) where it is the subject.
VBA_PLAN_TIME_ZONE = "UTC"
