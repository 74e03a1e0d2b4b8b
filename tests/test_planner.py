"""Every refusal and state rule, as the pure functions they are: no database here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlmig.discovery import checksum
from sqlmig.errors import (
    ConfigError,
    DirtyError,
    IrreversibleError,
    StateError,
    ValidationError,
)
from sqlmig.models import (
    AppliedRow,
    Direction,
    Irreversible,
    Migration,
    RowKind,
    RowStatus,
    SqlFile,
    State,
)
from sqlmig.planmoves import plan_goto, plan_redo
from sqlmig.planner import (
    FOREIGN_HINT,
    HINT,
    ApplyPlan,
    RollbackPlan,
    foreign_set,
    mismatch,
    plan_apply,
    plan_rollback,
    problems,
    rollback_note,
    statuses,
    warnings,
)
from sqlmig.planrules import (
    empty_file_problem,
    invalid_left,
    plan_accept,
    plan_baseline,
    plan_resolve,
    refuse_resolve_with_invalid,
    refuse_unadopted,
)


def mig(v: int, *, irreversible: str | None = None, edit: str = "") -> Migration:
    """Migration ``v``; ``edit`` changes its files' text (as an edit after applying does)."""
    name = f"m{v}"
    up, down = f"CREATE TABLE t{v} (a int);{edit}", f"DROP TABLE t{v};{edit}"
    return Migration(
        v,
        name,
        SqlFile(Path(f"sql/up/{v:04d}_{name}.sql"), up, checksum(up)),
        SqlFile(
            Path(f"sql/down/{v:04d}_{name}.sql"),
            down,
            checksum(down),
            irreversible=None if irreversible is None else Irreversible(irreversible),
        ),
    )


def row(v: int, status: RowStatus = RowStatus.APPLIED, **changes: object) -> AppliedRow:
    m = mig(v)
    values: dict[str, object] = {
        "version": v,
        "name": m.name,
        "checksum": m.up.checksum,
        "down_checksum": m.down.checksum,
        "status": status,
        "kind": RowKind.MIGRATION,
        "applied_at": "2026-12-01T00:00:00+00:00",
        "applied_by": "me@host",
        "db_user": "",
        "execution_ms": 1,
        "sqlmig_version": "0",
    }
    return AppliedRow(**{**values, **changes})  # type: ignore[arg-type]


def states(migrations: list[Migration], rows: list[AppliedRow]) -> list[tuple[int, State, str]]:
    return [(e.version, e.state, e.detail) for e in statuses(migrations, rows)]


@pytest.mark.parametrize(
    ("files", "rows", "expected"),
    [
        ([1, 2], [], [(1, State.PENDING, ""), (2, State.PENDING, "")]),
        ([1, 2], [1], [(1, State.APPLIED, ""), (2, State.PENDING, "")]),
        ([1], [1, 2], [(1, State.APPLIED, ""), (2, State.MISSING, "applied, but its files")]),
        (
            [1, 3],
            [1, 2, 3],
            [(1, State.APPLIED, ""), (2, State.MISSING, "applied"), (3, State.APPLIED, "")],
        ),
        ([], [], []),
    ],
)
def test_states_from_files_and_rows(files, rows, expected):
    found = states([mig(v) for v in files], [row(v) for v in rows])
    assert [(v, s) for v, s, _ in found] == [(v, s) for v, s, _ in expected]
    assert all(d.startswith(e) for (_, _, d), (_, _, e) in zip(found, expected, strict=True))


@pytest.mark.parametrize(
    ("the_row", "state", "detail"),
    [
        (row(1, checksum="x"), State.CHANGED, "sql/up/0001_m1.sql edited since applied"),
        (
            row(1, down_checksum="x"),
            State.DOWN_CHANGED,
            "sql/down/0001_m1.sql edited since applied; a rollback runs it as it is now",
        ),
        (
            row(1, checksum="x", down_checksum="y"),
            State.CHANGED,
            "up/0001_m1.sql edited since applied; sql/down",
        ),
        (
            row(1, down_checksum=None),
            State.APPLIED,
            "",
        ),  # no down checksum recorded: nothing to compare
        (row(1, RowStatus.DIRTY), State.DIRTY, "run `sqlmig resolve 1 --applied|--rolled-back`"),
        (row(1, RowStatus.DIRTY, checksum="x"), State.DIRTY, "failed part-way"),  # dirty first
        (row(1, kind=RowKind.BASELINE), State.APPLIED, "baseline"),
        (row(1, name="old_name"), State.APPLIED, "applied as old_name"),
    ],
)
def test_the_state_of_one_applied_version(the_row, state, detail):
    ((_, found_state, found_detail),) = states([mig(1)], [the_row])
    assert found_state is state and detail in found_detail


@pytest.mark.parametrize(
    ("files", "rows", "allow", "dirty", "expected"),
    [
        (
            [1, 2, 3],
            [1, 3],
            False,
            False,
            ["version 2 (m2) is pending but version 3 is already applied"],
        ),
        ([1, 2, 3], [1, 3], True, False, []),
        ([1, 2], [1, 2, 5], False, False, ["version 5 (m5) is applied but its files are missing"]),
        ([1, 2], [1], False, False, []),  # pending in order is not a problem
    ],
)
def test_problems(files, rows, allow, dirty, expected):
    found = problems(
        statuses([mig(v) for v in files], [row(v) for v in rows]),
        allow_out_of_order=allow,
        include_dirty=dirty,
    )
    assert [p.message[: len(e)] for p, e in zip(found, expected, strict=True)] == expected


def test_dirty_is_a_problem_only_where_asked():
    entries = statuses([mig(1), mig(2)], [row(1), row(2, RowStatus.DIRTY)])
    assert problems(entries, allow_out_of_order=False) == []
    (dirty,) = problems(entries, allow_out_of_order=False, include_dirty=True)
    assert dirty.version == 2 and "is dirty" in dirty.message


@pytest.mark.parametrize(
    ("rows", "kwargs", "expected"),
    [
        ([], {}, [1, 2, 3]),
        ([1], {}, [2, 3]),
        ([1], {"target": 2}, [2]),
        ([1, 2, 3], {}, []),
        ([1, 3], {"allow_out_of_order": True}, [2]),
    ],
)
def test_plan_apply(rows, kwargs, expected):
    plan = plan_apply([mig(1), mig(2), mig(3)], [row(v) for v in rows], **kwargs)
    assert [m.version for m in plan] == expected


@pytest.mark.parametrize(
    ("rows", "kwargs", "error", "match"),
    [
        ([1, 3], {}, ValidationError, "out of order; pass --allow-out-of-order"),
        ([], {"target": 7}, ConfigError, "there is no migration with version 7"),
        ([row(1, checksum="x")], {}, ValidationError, "edited since applied"),
        ([row(1, RowStatus.DIRTY)], {}, DirtyError, "sqlmig resolve 1 --applied"),
        ([1, 2, 3, 9], {}, ValidationError, "database is ahead of this code"),
    ],
)
def test_plan_apply_refuses(rows, kwargs, error, match):
    rows = [r if isinstance(r, AppliedRow) else row(r) for r in rows]
    with pytest.raises(error, match=match):
        plan_apply([mig(1), mig(2), mig(3)], rows, **kwargs)


def test_an_edited_file_comes_with_the_hint_to_accept():
    with pytest.raises(ValidationError) as info:
        plan_apply([mig(1)], [row(1, checksum="x")])
    assert info.value.hint == HINT and "sqlmig accept VERSION" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [3]),
        ({"count": 2}, [3, 2]),
        ({"count": 0}, []),
        ({"count": 9}, [3, 2, 1]),
        ({"to": 1}, [3, 2]),
        ({"to": 0}, [3, 2, 1]),
        ({"to": 3}, []),
    ],
)
def test_plan_rollback(kwargs, expected):
    ms = [mig(1), mig(2), mig(3)]
    assert [m.version for m in plan_rollback(ms, [row(1), row(2), row(3)], **kwargs)] == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"count": -1}, ConfigError, "0 or more"),
        ({"to": -1}, ConfigError, "use 0 to roll back every migration"),
        ({"count": 2}, IrreversibleError, "0002_m2.sql is marked irreversible: drops data"),
    ],
)
def test_plan_rollback_refuses(kwargs, error, match):
    ms = [mig(1), mig(2, irreversible="drops data"), mig(3)]
    with pytest.raises(error, match=match):
        plan_rollback(ms, [row(1), row(2), row(3)], **kwargs)


def test_irreversible_without_a_reason_says_so_plainly():
    with pytest.raises(IrreversibleError, match=r"0001_m1.sql is marked irreversible\. Restore"):
        plan_rollback([mig(1, irreversible="")], [row(1)])


# A rollback runner chose {2, 3} when the database was at 3; what it does next, as the
# database changes under it (other SQLite runners share no lock with it).
@pytest.mark.parametrize(
    ("rows", "done", "expected"),
    [
        ([1, 2, 3], 0, [3, 2]),
        ([1, 2], 1, [2]),  # it undid 3 itself
        ([1, 2, 3], 1, [3]),  # it undid 3, another runner applied it again: once more, no more
        ([1, 2, 3, 4], 0, []),  # another runner applied 4: never a down file underneath it
        ([1], 0, []),  # another runner already undid both
        ([1, 2], 2, []),
    ],
)
def test_a_rollback_plan_only_undoes_the_newest_and_only_what_it_chose(rows, done, expected):
    plan = RollbackPlan([mig(v) for v in (1, 2, 3, 4)], frozenset({2, 3}))
    assert [m.version for m in plan.steps([row(v) for v in rows], done)] == expected


def test_plans_refuse_when_the_database_became_unsafe_between_steps():
    ms = [mig(1), mig(2), mig(3)]
    with pytest.raises(DirtyError):
        RollbackPlan(ms, frozenset({3})).steps([row(1), row(2), row(3, RowStatus.DIRTY)], 0)
    with pytest.raises(DirtyError):
        ApplyPlan(ms).steps([row(1), row(2, RowStatus.DIRTY)], 1)
    assert [m.version for m in ApplyPlan(ms, target=2).steps([row(1)], 1)] == [2]


@pytest.mark.parametrize(
    ("files", "rows", "expected"),
    [
        ([1, 2], [1, 2], None),
        ([1, 2, 3], [1], "behind the code: 2 pending migration(s) 2, 3"),
        ([1], [1, 2], "ahead of the code: version(s) 2 applied but not in sql"),
        ([1], [row(1, checksum="x")], "version 1 is changed: sql/up/0001_m1.sql edited"),
        ([1], [row(1, RowStatus.DIRTY)], "version 1 is dirty: failed part-way"),
    ],
)
def test_version_mismatch(files, rows, expected):
    rows = [r if isinstance(r, AppliedRow) else row(r) for r in rows]
    found = mismatch(statuses([mig(v) for v in files], rows), "sqlite:///app.db", Path("sql"))
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in str(found)
        assert str(found).startswith("version mismatch for sqlite:///app.db: ")


def test_mismatch_names_the_versions_it_counts():
    found = mismatch(statuses([mig(v) for v in range(1, 14)], []), "db", Path("sql"))
    assert found is not None and found.pending == list(range(1, 14)) and found.unknown == []
    assert "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ..." in str(found)


def test_baseline_rules():
    ms = [mig(1), mig(2), mig(3)]
    assert [m.version for m in plan_baseline(ms, [], 2)] == [1, 2]
    with pytest.raises(ConfigError, match="baseline 7: there is no migration with version 7"):
        plan_baseline(ms, [], 7)
    with pytest.raises(ValidationError, match=r"already has 1 row\(s\) \(newest 1\)"):
        plan_baseline(ms, [row(1)], 2)
    assert plan_baseline(ms, [], 0) == []  # none applied: the objects there are another's
    with pytest.raises(ValidationError, match="already has 1 row"):
        plan_baseline(ms, [row(1)], 0)


UP, DOWN = Path("sql/up/0001_a.sql"), Path("sql/down/0001_a.sql")


@pytest.mark.parametrize(
    ("direction", "has_statements", "empty", "expected"),
    [
        (Direction.UP, True, None, None),
        (Direction.UP, False, None, "has no statements, so applying it would change nothing"),
        (Direction.UP, False, "the data moved to the seeds", None),
        (Direction.UP, True, "why not", "has statements but says '-- sqlmig: empty <reason>'"),
        (Direction.UP, False, "", "needs the reason the file does nothing"),
        (Direction.DOWN, True, None, None),
        (Direction.DOWN, False, None, None),  # allowed: rollback and test say so
        (Direction.DOWN, False, "an INSERT of audit rows stays", None),
        (Direction.DOWN, True, "nothing", "has statements but says"),
        (Direction.DOWN, False, "", "needs the reason"),
    ],
)
def test_empty_file_rules(direction, has_statements, empty, expected):
    path = UP if direction is Direction.UP else DOWN
    found = empty_file_problem(SqlFile(path, "", "", empty=empty), direction, has_statements)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.path == path and expected in found.message


@pytest.mark.parametrize(
    ("steps", "objects", "refused"),
    [
        ([], [], False),
        ([mig(1)], [], False),
        ([], ["table public.accounts"], False),  # nothing to run: nothing to refuse
        ([mig(1), mig(2)], ["table public.accounts"], True),
    ],
)
def test_a_database_built_by_other_means_is_not_migrated(steps, objects, refused):
    if not refused:
        refuse_unadopted(steps, objects)
        return
    with pytest.raises(StateError) as info:
        refuse_unadopted(steps, objects)
    message = str(info.value)
    assert "already holds table public.accounts" in message and "0001_m1.sql" in message
    assert "`sqlmig baseline N`" in message and "`sqlmig baseline 0`" in message


def test_the_refusal_names_a_few_objects_and_counts_the_rest():
    objects = [f"table public.t{i}" for i in range(8)]
    with pytest.raises(StateError, match=r"table public\.t4 and 3 more"):
        refuse_unadopted([mig(1)], objects)


def test_accept_rules():
    ms = [mig(1), mig(2), mig(3)]
    rows = [row(1, checksum="x"), row(2), row(3, down_checksum="y")]
    assert [e.version for e in plan_accept(ms, rows, None)] == [1, 3]
    assert [e.version for e in plan_accept(ms, rows, [3])] == [3]
    assert plan_accept(ms, [row(1)], None) == []
    with pytest.raises(StateError, match="accept 2: version 2 is applied, not changed"):
        plan_accept(ms, rows, [2])
    with pytest.raises(StateError, match="accept 9: version 9 is unknown"):
        plan_accept(ms, rows, [9])


def test_resolve_rules():
    ms = [mig(1), mig(2)]
    m, r = plan_resolve(ms, [row(1), row(2, RowStatus.DIRTY)], 2, Path("sql"))
    assert m.version == 2 and r.status is RowStatus.DIRTY
    with pytest.raises(StateError, match="resolve 1: version 1 is not dirty"):
        plan_resolve(ms, [row(1), row(2, RowStatus.DIRTY)], 1, Path("sql"))
    with pytest.raises(StateError, match="resolve 5: version 5 is not dirty"):
        plan_resolve(ms, [row(1)], 5, Path("sql"))
    with pytest.raises(ConfigError, match="resolve 3: its files are not in sql"):
        plan_resolve(ms, [row(3, RowStatus.DIRTY)], 3, Path("sql"))


def test_a_dirty_version_that_left_invalid_indexes_says_how_to_drop_them():
    ms, rows = [mig(1), mig(2)], [row(1), row(2, RowStatus.DIRTY)]
    left = ["public.a", '"App"."B"']
    entry = statuses(ms, rows, {2: left})[1]
    assert entry.invalid_indexes == tuple(left)
    assert entry.detail == (
        'failed part-way, leaving indexes public.a, "App"."B" INVALID: run '
        '`DROP INDEX CONCURRENTLY public.a;` and `DROP INDEX CONCURRENTLY "App"."B";`, '
        "then `sqlmig resolve 2 --rolled-back`"
    )
    assert statuses(ms, rows, {2: []})[1].detail.endswith("--applied|--rolled-back`")
    assert "run `DROP INDEX CONCURRENTLY public.a;` before `sqlmig resolve 2 --rolled-back`" in (
        invalid_left(2, ["public.a"])
    )


@pytest.mark.parametrize(
    ("applied", "match"),
    [
        (False, "not undone while it exists. Run `DROP INDEX CONCURRENTLY public.a;`"),
        (True, "an invalid index is not an applied migration. Run `DROP INDEX CONCURRENTLY"),
    ],
)
def test_resolve_refuses_while_an_invalid_index_is_left(applied, match):
    with pytest.raises(StateError, match=re.escape(match)):
        refuse_resolve_with_invalid(2, ["public.a"], applied=applied)
    refuse_resolve_with_invalid(2, [], applied=applied)  # none left: resolve goes on


DOWN_EDITED = row(2, down_checksum="old")


@pytest.mark.parametrize(
    ("check", "outcome"),
    [
        (lambda e: problems(e, allow_out_of_order=False, include_dirty=True), []),
        (lambda e: mismatch(e, "db", Path("sql")), None),
        (lambda e: [p.message for p in warnings(e)], ["version 2: sql/down/0002_m2.sql edited"]),
        (
            lambda e: [
                x.version for x in plan_accept([mig(1), mig(2)], [row(1), DOWN_EDITED], [2])
            ],
            [2],
        ),
    ],
)
def test_a_changed_down_file_alone_stops_nothing_and_is_a_warning(check, outcome):
    entries = statuses([mig(1), mig(2)], [row(1), DOWN_EDITED])
    found = check(entries)
    if isinstance(outcome, list) and outcome and isinstance(outcome[0], str):
        assert len(found) == 1 and found[0].startswith(outcome[0])
    else:
        assert found == outcome


def test_a_changed_down_file_is_rolled_back_as_it_is_now_and_says_so():
    plans = [
        plan_apply([mig(1), mig(2), mig(3)], [row(1), DOWN_EDITED]),
        plan_rollback([mig(1), mig(2)], [row(1), DOWN_EDITED]),
    ]
    assert [[m.version for m in p] for p in plans] == [[3], [2]]
    note = rollback_note(mig(2), DOWN_EDITED)
    assert note.startswith("sql/down/0002_m2.sql changed since applied: ran it as it is now")
    assert mig(2).down.checksum[:12] in note and "applied with old" in note
    assert rollback_note(mig(2), row(2)) == "" and rollback_note(mig(2), None) == ""
    both = statuses([mig(1)], [row(1, checksum="x", down_checksum="y")])[0]
    assert both.state is State.CHANGED  # an edited up file stays changed, down or not


@pytest.mark.parametrize(
    ("files", "rows", "version", "expected"),
    [
        ([1, 2, 3], [], 2, (Direction.UP, [1, 2])),
        ([1, 2, 3], [1], 3, (Direction.UP, [2, 3])),
        ([1, 2, 3], [1, 2, 3], 1, (Direction.DOWN, [3, 2])),
        ([1, 2, 3], [1, 2, 3], 0, (Direction.DOWN, [3, 2, 1])),
        ([1, 2, 3], [1, 2], 2, (Direction.UP, [])),
        ([1, 2, 3], [], 0, (Direction.UP, [])),
    ],
)
def test_goto_is_an_apply_up_to_or_a_rollback_down_to(files, rows, version, expected):
    ms, rs = [mig(v) for v in files], [row(v) for v in rows]
    direction, steps = plan_goto(ms, rs, version)
    assert (direction, [m.version for m in steps]) == expected


@pytest.mark.parametrize(
    ("rows", "version", "error", "match"),
    [
        ([], 9, ConfigError, "goto 9: there is no migration with version 9"),
        ([], -1, ConfigError, "goto -1: a version is 0"),
        ([1, 3], 2, StateError, "version 2 is not applied, and the database is at 3"),
        ([row(1, RowStatus.DIRTY)], 0, DirtyError, "version 1"),
        ([row(1, checksum="x")], 3, ValidationError, "edited since applied"),
        ([1, 2, 3, 4], 2, ValidationError, "version 4 .* files are missing"),  # as rollback
    ],
)
def test_goto_refuses(rows, version, error, match):
    rows = [r if isinstance(r, AppliedRow) else row(r) for r in rows]
    with pytest.raises(error, match=match):
        plan_goto([mig(1), mig(2), mig(3)], rows, version)


@pytest.mark.parametrize(
    ("files", "rows", "expected"),
    [
        ([1, 2], [1, 2], 2),
        ([1, 2], [1, row(2, checksum="x")], 2),  # its edited up file is what redo is for
        ([1, 2, 3], [1, 2], 2),  # pending above it: untouched
    ],
)
def test_redo_takes_the_newest_applied(files, rows, expected):
    rows = [r if isinstance(r, AppliedRow) else row(r) for r in rows]
    assert plan_redo([mig(v) for v in files], rows).version == expected


@pytest.mark.parametrize(
    ("files", "rows", "error", "match"),
    [
        ([1], [], StateError, "no migration is applied"),
        ([1, 2], [1, row(2, RowStatus.DIRTY)], StateError, r"version 2 \(m2\) is dirty"),
        ([1], [1, 2], StateError, "applied but its files are not in the migration folder"),
        ([1, 2, 3], [1, 3], StateError, "version\\(s\\) 2 pending below 3"),
        (
            [1, 2],
            [row(1, checksum="x"), 2],
            ValidationError,
            "version 1: sql/up/0001_m1.sql edited",
        ),
    ],
)
def test_redo_refuses(files, rows, error, match):
    rows = [r if isinstance(r, AppliedRow) else row(r) for r in rows]
    with pytest.raises(error, match=match):
        plan_redo([mig(v) for v in files], rows)


def test_redo_refuses_an_irreversible_newest():
    with pytest.raises(IrreversibleError, match="marked irreversible: drops data, and redo rolls"):
        plan_redo([mig(1), mig(2, irreversible="drops data")], [row(1), row(2)])


def test_a_rollback_plan_tolerates_only_redos_edited_version():
    rows = [row(1, checksum="x"), row(2, checksum="y")]
    plan = RollbackPlan([mig(1), mig(2)], frozenset({2}), edited=frozenset({2}))
    with pytest.raises(ValidationError, match="version 1"):
        plan.steps(rows, 0)
    assert [m.version for m in plan.steps([row(1), rows[1]], 0)] == [2]


def _other_project(versions: range, *, same_names: int = 0) -> list[AppliedRow]:
    """Rows another project's migrations left: other names and other SQL, but for the
    first ``same_names`` versions, which are this folder's under their own names."""
    return [
        row(v) if v <= same_names else row(v, name=f"other{v}", checksum=checksum(f"x{v}"))
        for v in versions
    ]


def test_a_folder_run_against_another_projects_database_asks_wrong_database() -> None:
    migrations = [mig(v) for v in (1, 2, 3)]
    rows = _other_project(range(1, 5))  # and one version more than the folder has
    found = foreign_set(statuses(migrations, rows), Path("sql"), "sqlite:///other.db")
    assert found is not None
    assert str(found) == (
        "the migrations in sql and the database sqlite:///other.db do not seem to belong "
        "together (wrong database?): 3 of the 3 version(s) both have were applied under "
        "other names (version 1: 'other1' in the database, 0001_m1.sql in the folder), and "
        "their checksums differ"
    )
    with pytest.raises(ValidationError) as refused:
        plan_apply(migrations, rows, folder=Path("sql"), database="sqlite:///other.db")
    assert refused.value.problems[0] == found and refused.value.hint == FOREIGN_HINT
    assert "sqlmig accept` here would record" in str(refused.value)
    with pytest.raises(ValidationError, match="wrong database"):
        plan_rollback(migrations, rows, folder=Path("sql"), database="sqlite:///other.db")
    mismatched = mismatch(statuses(migrations, rows), "sqlite:///other.db", Path("sql"))
    assert mismatched is not None and "wrong database?" in str(mismatched)


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        (_other_project(range(1, 4), same_names=2), "only 1 of 3 names differ"),
        (_other_project(range(1, 5), same_names=2), "2 of 4 is not most"),
        ([row(1), row(2), row(3, name="renamed")], "names differ but no checksum does"),
        ([row(1, name="renamed"), row(2), row(3)], "renamed without an edit"),
    ],
)
def test_an_edited_or_renamed_file_is_not_a_wrong_database(
    rows: list[AppliedRow], why: str
) -> None:
    migrations = [mig(v) for v in (1, 2, 3, 4)]
    assert foreign_set(statuses(migrations, rows), Path("sql"), "db") is None, why


def test_an_edit_in_this_projects_database_keeps_the_accept_hint() -> None:
    migrations = [mig(1), mig(2, edit="--x")]
    with pytest.raises(ValidationError) as refused:
        plan_apply(migrations, [row(1), row(2)], folder=Path("sql"), database="db")
    assert refused.value.hint == HINT and "wrong database" not in str(refused.value)
