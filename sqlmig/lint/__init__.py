"""sqlmig lint: lock-aware checks of migrations, in the context sqlmig runs them in.

The library entry points (none of them imports pglast until a PostgreSQL file is parsed):

- ``lint_set(migrations, settings, *, pending=None, server_version=None, paths=None,
  batch=())``: findings for a migration set, without a database (``ci-check``).
- ``lint_pending(migrator)``: findings for what ``apply`` would run now, with the
  connected server's version (``validate``, ``apply --lint``).
- ``Finding`` and ``RULES``; ``findings.text/as_json/github`` print them.
"""

from sqlmig.lint.engine import in_scope, lint_pending, lint_set
from sqlmig.lint.findings import Finding
from sqlmig.lint.rules import RULES

__all__ = ["RULES", "Finding", "in_scope", "lint_pending", "lint_set"]
