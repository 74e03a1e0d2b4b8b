"""The shape of every --json document, and the function that checks a document against it.

A schema is a small JSON-Schema-like dict: ``type`` (a JSON type name, or a list of
them), ``properties`` (every one required, none other allowed, unless ``optional``
names some), ``items``, ``enum``, ``any_of``, ``format: date-time``, and ``free`` for
an object whose keys are the user's (a migration's variables). Besides the shapes,
``check`` holds every document to the naming scheme: snake_case keys, and a key ending
in ``_at`` is an ISO 8601 UTC time or null. Tests and scripts use it; sqlmig itself
does not need it to print a document.
"""

from __future__ import annotations

import re
from typing import Any

Schema = dict[str, Any]

_KEY = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
FREE: Schema = {"type": ["object", "null"], "free": True}


def obj(**properties: Schema) -> Schema:
    return {"type": "object", "properties": properties, "optional": ()}


def optional(schema: Schema, *keys: str) -> Schema:
    """``schema``, with ``keys`` allowed to be absent."""
    return schema | {"optional": keys}


def null(schema: Schema) -> Schema:
    return {"any_of": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


DIRECTION = enum("up", "down")
STRS = array(STR)
INTS = array(INT)
FINDING = obj(kind=STR, object=null(STR), detail=STR, text=STR)
FINDINGS = array(FINDING)
LINT_FINDING = obj(
    file=STR,
    line=INT,
    column=INT,
    rule=STR,
    severity=enum("error", "warning"),
    message=STR,
    lock=STR,
    why=STR,
    fix=STR,
)
STEP = obj(version=INT, name=STR, direction=DIRECTION, duration_ms=INT, statements=INT, note=STR)
SEED = obj(file=STR, duration_ms=INT, statements=INT)
BACKUP = obj(
    path=STR,
    database=STR,
    version=INT,
    taken_at=TIME,
    size=INT,
    taken_by=null(STR),
    source=null(
        obj(
            dialect=enum("sqlite", "postgres"),
            database=STR,
            cluster=null(STR),
            schemas=STRS,
            left_out=STRS,
        )
    ),
)
STATE = enum("applied", "pending", "changed", "down_changed", "missing", "dirty")
STATUS: dict[str, Schema] = {
    "ok": BOOL,
    "database": STR,
    "current_version": null(INT),
    "dirty_versions": INTS,
    "wrong_database": null(STR),
    "counts": obj(applied=INT, pending=INT, changed=INT, down_changed=INT, missing=INT, dirty=INT),
    "migrations": array(
        obj(
            version=INT,
            name=STR,
            state=STATE,
            detail=STR,
            invalid_indexes=STRS,
            file=null(STR),
            applied_at=TIME,
            execution_ms=null(INT),
            applied_by=null(STR),
        )
    ),
    "seeds": array(obj(file=STR, state=enum("applied", "pending", "changed"))),
}
RUN: dict[str, Schema] = {
    "ok": BOOL,
    "database": STR,
    "direction": DIRECTION,
    "duration_ms": INT,
    "steps": array(STEP),
    "seeds": array(SEED),
    "backup": null(BACKUP),
    "status": null(obj(**STATUS)),
    "differences": null(FINDINGS),
    "notes": STRS,
}
PLAN: dict[str, Schema] = {
    "ok": BOOL,
    "database": STR,
    "dry_run": {"type": "boolean", "enum": [True]},
    "direction": DIRECTION,
    "single_transaction": BOOL,
    "migrations": array(
        obj(
            version=INT,
            name=STR,
            file=STR,
            direction=DIRECTION,
            no_transaction=BOOL,
            statements=array(obj(line=INT, sql=STR)),
        )
    ),
    # apply --dry-run --seed: the seed files that would run after the migrations
    "seeds": array(obj(file=STR, state=STR, statements=array(obj(line=INT, sql=STR)))),
}
DIFFS = {"type": "object", "free": True}  # version (as text) -> unified diff of its files
EVENT = obj(
    id=null(INT),
    event=enum("apply", "rollback", "fail", "baseline", "accept", "resolve", "seed", "restore"),
    version=null(INT),
    name=STR,
    checksum=null(STR),
    success=BOOL,
    duration_ms=INT,
    direction=null(DIRECTION),
    error=null(STR),
    detail=null(STR),
    run_id=STR,
    occurred_at=TIME,
    applied_by=STR,
    db_user=STR,
    sqlmig_version=STR,
    variables=FREE,
)
FAILED = {
    "ok": {"type": "boolean", "enum": [False]},
    "database": null(STR),
    "exit_code": INT,
    "error": optional(
        obj(
            kind=STR,
            exit_code=INT,
            message=STR,
            file=null(STR),
            line=null(INT),
            statement=null(STR),
            db_message=null(STR),
            code=null(STR),
            problems=FINDINGS,
            lint=array(LINT_FINDING),
        ),
        "lint",  # apply --lint's findings, when they stopped it
    ),
    "applied": array(STEP),
    "seeds": array(SEED),
    "backup": null(BACKUP),
    "failed": null(obj(file=STR, name=STR, version=null(INT), direction=null(DIRECTION))),
}

# Each command's document on success (and for status, diff, validate, test and lint, a
# failed check: ok false, exit code 1), without its "command" key.
BODIES: dict[str, Schema] = {
    "status": optional(obj(**STATUS, diffs=DIFFS), "diffs"),  # diffs: status --diff
    "apply": {"any_of": [obj(**RUN), optional(obj(**PLAN), "seeds")]},
    "rollback": {"any_of": [obj(**RUN), obj(**{k: v for k, v in PLAN.items() if k != "seeds"})]},
    # redo's run and plan say "redo"; each step or file has its own direction
    "redo": {
        "any_of": [
            obj(**RUN | {"direction": enum("redo")}),
            obj(**{k: v for k, v in PLAN.items() if k != "seeds"} | {"direction": enum("redo")}),
        ]
    },
    "goto": {"any_of": [obj(**RUN), obj(**{k: v for k, v in PLAN.items() if k != "seeds"})]},
    "validate": obj(
        ok=BOOL,
        database=STR,
        problems=FINDINGS,
        lint=array(LINT_FINDING),
        warnings=FINDINGS,
        diffs=DIFFS,
    ),
    "baseline": obj(ok=BOOL, database=STR, version=INT, marked=INTS),
    "accept": obj(ok=BOOL, database=STR, accepted=INTS),
    "resolve": obj(ok=BOOL, database=STR, version=INT, resolution=enum("applied", "rolled_back")),
    "history": obj(ok=BOOL, database=STR, events=array(EVENT)),
    "new": obj(ok=BOOL, up=STR, down=STR),
    "backup": obj(ok=BOOL, database=STR, backup=BACKUP),
    "backups": obj(ok=BOOL, database=STR, backup_dir=STR, backups=array(BACKUP)),
    "restore": obj(ok=BOOL, database=STR, file=STR, notes=STRS, status=obj(**STATUS)),
    "seed": {
        "any_of": [
            obj(ok=BOOL, database=STR, seeds=array(SEED)),
            obj(ok=BOOL, database=STR, dry_run=BOOL, seeds=PLAN["seeds"]),
        ]
    },
    "metrics": obj(
        ok=BOOL,
        database=STR,
        applied=INT,
        rolled_back=INT,
        failed=INT,
        seeds_failed=INT,
        current_version=null(INT),
        pending=INT,
        dirty=INT,
        last_run_success=null(BOOL),
        last_run_seconds=null(NUM),
        last_run_at=TIME,
    ),
    "wait": obj(ok=BOOL, database=STR, waited_seconds=NUM),
    "diff": obj(
        ok=BOOL,
        database=STR,
        compared_with=STR,
        version=null(INT),
        pending=INTS,
        differences=FINDINGS,
        notes=STRS,
    ),
    "dump": obj(
        ok=BOOL,
        database=STR,
        from_migrations=BOOL,
        file=null(STR),
        statements=INT,
        left_out=STRS,
        notes=STRS,
        sql=null(STR),
    ),
    "test": obj(
        ok=BOOL,
        database=STR,
        migrations=INT,
        irreversible=STRS,
        compared_with_schema_sql=BOOL,
        problems=FINDINGS,
        warnings=STRS,
        notes=STRS,
    ),
    "lint": obj(ok=BOOL, database=null(STR), files=INT, findings=array(LINT_FINDING)),
}

FLEET_TARGET_STATES = enum("ok", "failed", "interrupted", "not_started")


def fleet_schema(command: str) -> Schema:
    """The one document of a run on targets: the run, and each target's own body."""
    return obj(
        command=enum(command),
        run_id=STR,
        ok=BOOL,
        exit_code=INT,
        caused_by=STRS,
        interrupted=BOOL,
        stopped=null(STR),
        targets=array(
            obj(
                target=STR,
                database=STR,
                tenant=null(STR),
                state=FLEET_TARGET_STATES,
                exit_code=INT,
                version_before=null(INT),
                version_after=null(INT),
                duration_ms=INT,
                result=null(BODIES[command]),
                error=null(obj(**FAILED)),
            )
        ),
    )


def schema_for(doc: Any) -> Schema:
    """The schema a document is held to, told by its keys: a fleet run's (it has
    ``targets``), a failure's (``error``), or its command's."""
    command = doc.get("command") if isinstance(doc, dict) else None
    if not isinstance(command, str) or command not in BODIES:
        return obj(command=enum(*BODIES))  # says which commands there are
    if "targets" in doc and "run_id" in doc:
        return fleet_schema(command)
    if "error" in doc:
        return obj(command=STR, **FAILED)
    body = BODIES[command]
    if "any_of" in body:
        return {"any_of": [_with_command(b, command) for b in body["any_of"]]}
    return _with_command(body, command)


def _with_command(body: Schema, command: str) -> Schema:
    return optional(obj(command=enum(command), **body["properties"]), *body["optional"])


def check(doc: Any, schema: Schema | None = None) -> list[str]:
    """Every way ``doc`` differs from ``schema`` (by default the one its keys call for)
    and from the naming scheme, each as ``$.path: what``; [] when it conforms."""
    return _check(doc, schema_for(doc) if schema is None else schema, "$")


def _check(value: Any, schema: Schema, path: str) -> list[str]:
    if "any_of" in schema:
        tried = [_check(value, s, path) for s in schema["any_of"]]
        return [] if any(not t for t in tried) else min(tried, key=len)
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if not any(_is(value, kind) for kind in kinds):
        return [f"{path}: {type(value).__name__} {value!r:.60}, not {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r}, not one of {schema['enum']}"]
    if (
        schema.get("format") == "date-time"
        and isinstance(value, str)
        and not _TIME.fullmatch(value)
    ):
        return [f"{path}: {value!r} is not an ISO 8601 UTC time like 2026-12-01T10:00:00.000Z"]
    if isinstance(value, list) and "items" in schema:
        return [p for i, v in enumerate(value) for p in _check(v, schema["items"], f"{path}[{i}]")]
    if isinstance(value, dict) and not schema.get("free"):
        return _object(value, schema, path)
    return []


def _object(value: dict[str, Any], schema: Schema, path: str) -> list[str]:
    found = []
    properties: dict[str, Schema] = schema.get("properties", {})
    for key in value.keys() - properties.keys():
        found.append(f"{path}: key {key!r} is not in the schema")
    for key in properties.keys() - value.keys() - set(schema.get("optional", ())):
        found.append(f"{path}: key {key!r} is missing")
    for key, item in value.items():
        where = f"{path}.{key}"
        if not _KEY.fullmatch(key):
            found.append(f"{where}: key is not snake_case")
        if key.endswith("_at") and properties.get(key, {}).get("format") != "date-time":
            found.append(f"{where}: a key ending in _at must be a time (format date-time)")
        if key in properties:
            found += _check(item, properties[key], where)
    return sorted(found)


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False  # JSON's true is not 1
    return isinstance(value, _TYPES[kind])
