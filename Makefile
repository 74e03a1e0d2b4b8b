# Everyday targets; DATABASE_URL picks the database (default: sqlite:///sqlmig.db here).
PYTHON ?= python3
SQLMIG ?= $(PYTHON) -m sqlmig

.PHONY: install demo migrate rollback status validate seed schema test lint bench ci-migrate ci-check

install:  ## install sqlmig and the test tools into the current Python
	$(PYTHON) -m pip install -e '.[dev]'

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

ci-check:  ## pull-request step: validate, check drift, round-trip every down file; changes nothing
	$(SQLMIG) validate
	$(SQLMIG) diff $(SCRATCH)
	$(SQLMIG) test $(SCRATCH)

schema:  ## rewrite sql/schema.sql from $$DATABASE_URL (after migrating it)
	$(SQLMIG) dump

test:  ## the whole suite, against real SQLite files and a throwaway PostgreSQL cluster
	$(PYTHON) -m pytest -q

lint:
	ruff check sqlmig tests bench
	ruff format --check sqlmig tests bench
	mypy

bench:  ## 1,000 generated migrations on each engine, next to the driver-only floor
	$(PYTHON) bench/bench.py
