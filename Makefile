# make run: set up and serve the demo on 127.0.0.1:8000 (SQLite under var/).
# make test: set up and run the suite on SQLite, then on PostgreSQL when one is reachable.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_URL := $(or $(VBA_TEST_POSTGRES_URL),postgresql://postgres@127.0.0.1:5432/)
# PG_DB_SUFFIX keeps the databases of runs side by side on one server apart.
PG_DB_SUFFIX ?=
PG_TEST_ENV := DATABASE_URL=$(PG_URL)vba_control$(PG_DB_SUFFIX) \
	VBA_DATABASES='{"demo": "$(PG_URL)vba_demo$(PG_DB_SUFFIX)", "other": "$(PG_URL)vba_other$(PG_DB_SUFFIX)"}'

.PHONY: run test test-sqlite test-postgres lint bench bench-scale bench-topology topology topology-down clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The demo's own secret key, made once and kept in var/ (settings refuse to start without one);
# a DJANGO_SECRET_KEY in the environment wins.
var/demo-secret-key:
	mkdir -p var
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(64))' > $@

# Its two workers share the throttle's counters in var/cache.sqlite3 (vbaproject/sqlite_cache.py)
# unless VBA_CACHE_URL names another cache.
run: export DJANGO_SECRET_KEY ?= $(shell cat var/demo-secret-key 2>/dev/null)
run: $(VENV)/.installed var/demo-secret-key
	$(PY) manage.py migrate_all -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	@echo "Admin: http://127.0.0.1:8000/admin/   API: http://127.0.0.1:8000/vbasoftware/"
	VBA_CACHE_URL="$${VBA_CACHE_URL:-sqlite:///$(CURDIR)/var/cache.sqlite3}" \
		$(VENV)/bin/gunicorn vbaproject.wsgi --bind 127.0.0.1:8000 --workers 2 --threads 4 --access-logfile -

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

test: lint test-sqlite test-postgres

test-sqlite: $(VENV)/.dev
	mkdir -p var/test
	# tests/settings.py: a bare pytest runs on SQLite files under var/test/
	env -u DATABASE_URL -u VBA_DATABASES VBA_TEST_DATABASE=sqlite $(PY) -m pytest $(PYTEST_ARGS)

# Mandatory in CI (CI=true): an unreachable server fails the run instead of skipping it.
test-postgres: $(VENV)/.dev
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)postgres', connect_timeout=3).close()" 2>/dev/null; then \
		$(PG_TEST_ENV) VBA_TEST_DATABASE=postgres $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at $(PG_URL) is not reachable, and CI requires the PostgreSQL run." >&2; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipped the PostgreSQL run."; \
	fi

# Speed and memory of the batch routes against the naive DRF way and the database's floor.
bench: $(VENV)/.dev
	$(PY) -m bench.run $(BENCH_ARGS)

# Lists, sorts, search and the admin with millions of rows (PostgreSQL; see the README).
bench-scale: $(VENV)/.dev
	$(PY) -m bench.scale $(BENCH_ARGS)

# The production topology on this machine, for a try-out (deploy/README.md): nginx, two gunicorn
# instances, PgBouncer, two client databases on PostgreSQL, Redis.
topology: $(VENV)/.installed
	$(PY) deploy/topology.py up

topology-down:
	$(PY) deploy/topology.py down --drop

# Two tenants on that topology, one stalled by a table lock: the healthy one's p50/p99 and errors,
# with and without the per-database cap (bench/topology.py; its own ports and databases).
bench-topology: $(VENV)/.dev
	$(PY) -m bench.topology $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
