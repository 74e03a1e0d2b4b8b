# Everyday targets; DATABASE_URL picks the database (default: sqlite:///sqlmig.db here).
#
# `make install` puts sqlmig and its test tools in a project virtual environment, .venv,
# made from the system python3: Debian's and Ubuntu's own Python refuse `pip install`
# outside one (PEP 668). Every target then runs that environment's Python. Without .venv
# (sqlmig installed with pipx, or into a venv of your own that is active), the targets
# use the python3 on PATH; PYTHON=... names another.
SYSTEM_PYTHON ?= python3
VENV ?= .venv
PYTHON ?= $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,$(SYSTEM_PYTHON))
SQLMIG ?= $(PYTHON) -m sqlmig

.PHONY: install demo migrate rollback status validate seed schema test lint bench ci-migrate ci-check

install:  ## create .venv (if needed) and install sqlmig, editable, with the test tools into it
	@$(SYSTEM_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "sqlmig needs Python 3.11 or newer; $(SYSTEM_PYTHON) is older or missing (SYSTEM_PYTHON=... names another)" >&2; exit 1; }
	@$(VENV)/bin/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); \
	  $(SYSTEM_PYTHON) -m venv $(VENV) >/dev/null 2>&1 || { rm -rf $(VENV); \
	    echo "cannot create $(VENV): $(SYSTEM_PYTHON) has no working venv module; on Debian or Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }; }
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@echo "sqlmig installed in $(VENV): run it as $(VENV)/bin/sqlmig, or 'source $(VENV)/bin/activate' first"

demo:  ## apply the demo set and its seeds to the embedded SQLite default and show status
	$(SQLMIG) apply --seed
	$(SQLMIG) status

migrate:  ## apply pending migrations to $$DATABASE_URL
	$(SQLMIG) apply

rollback:  ## undo the newest applied migration
	$(SQLMIG) rollback 1

status:  ## show migrations; exits 1 when anything is pending or wrong
	$(SQLMIG) status --exit-code

validate:
	$(SQLMIG) validate

seed:  ## apply new or changed seeds/*.sql
	$(SQLMIG) seed

# SCRATCH_URL: a PostgreSQL server where the drift check may create its scratch database,
# when the deploy role lacks CREATEDB.
SCRATCH = $(if $(SCRATCH_URL),--scratch-url $(SCRATCH_URL))

ci-migrate:  ## deploy step: wait, validate, back up, migrate and seed, check drift, gate
	$(SQLMIG) wait --timeout 60
	$(SQLMIG) validate
	$(SQLMIG) apply --backup --seed --verify $(SCRATCH)
	$(SQLMIG) status --exit-code

# LINT_SINCE: lint only files added or changed since this git ref (e.g. origin/main).
LINT = $(if $(LINT_SINCE),--since $(LINT_SINCE))

# The pull request's migrations are not applied anywhere yet: every check that needs them
# applied runs in a scratch database. `test` builds the schema from the migrations there,
# round-trips every down file and compares the result with schema.sql, in one pass.
ci-check:  ## pull-request step: validate, lint, build schema.sql from the migrations and round-trip every down file in a scratch database; changes nothing
	$(SQLMIG) validate
	$(SQLMIG) lint $(LINT)
	$(SQLMIG) test $(SCRATCH)

schema:  ## rewrite sql/schema.sql from the migrations, built in a scratch database
	$(SQLMIG) dump --from-migrations $(SCRATCH)

# -P and --import-mode=append: the tests import sqlmig as installed in $(PYTHON)'s
# environment (editable after `make install`, the wheel in CI), never the source folder
# merely because it is the current directory.
test:  ## the whole suite, against real SQLite files and a throwaway PostgreSQL cluster
	$(PYTHON) -P -m pytest --import-mode=append -q $(PYTEST_ARGS)

lint:  ## ruff (lint and format) and mypy --strict
	$(PYTHON) -m ruff check sqlmig tests bench
	$(PYTHON) -m ruff format --check sqlmig tests bench
	$(PYTHON) -m mypy

# BASE=<git ref> measures that ref (in a temporary worktree) and this tree in the same run.
bench:  ## sqlmig's time and peak RSS as ratios to floors measured in the same run (bench/README.md)
	$(PYTHON) bench/bench.py $(if $(BASE),--base '$(BASE)')
