"""A journal is checked when it is reopened (issue 15, item 6): a damaged file is refused; one
that holds less than the high-water mark its writer kept beside it lost commits, and says so
(in the journal, and to whoever reopened it)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bulkx.errors import JournalError
from bulkx.journal import Journal, Operation
from bulkx.journal.integrity import check_constraints, mark_path, read_mark
from bulkx.journal.run_files import run_paths
from tests.journal.conftest import create, new_ops


def _files(root: Path, run_id: str) -> list[Path]:
    db = run_paths(root, run_id)[0]
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def _copy(files: list[Path], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for path in files:
        if path.exists():
            shutil.copy2(path, into / path.name)


def _restore(copied: Path, files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)
        if (copied / path.name).exists():
            shutil.copy2(copied / path.name, path)


def test_the_writer_keeps_a_high_water_mark_beside_the_journal(tmp_path: Path) -> None:
    journal = create(tmp_path)
    ids = journal.add_ops(new_ops(3))
    journal.start(ids[:2])
    journal.succeed(ids[0], "sid-0")
    assert read_mark(journal.path) == (3, 3)  # three state changes, three operations
    assert mark_path(journal.path).stat().st_mode & 0o777 == 0o600
    run_id = journal.run_id
    journal.close()
    reopened = Journal.open(tmp_path, run_id)
    assert reopened.lost_commits is None
    reopened.close()


def test_a_journal_rolled_back_behind_its_mark_says_it_lost_commits(tmp_path: Path) -> None:
    """What cutting the -wal after a kill does: the file is valid, only older."""
    journal = create(tmp_path)
    run_id = journal.run_id
    ids = journal.add_ops(new_ops(4))
    journal.start(ids)
    files = _files(tmp_path, run_id)
    _copy(files, tmp_path / "older")  # a consistent copy: every commit so far is in it
    for op_id in ids:
        journal.succeed(op_id, f"sid-{op_id}")
    journal.close()
    _restore(tmp_path / "older", files)

    reopened = Journal.open(tmp_path, run_id)
    try:
        assert reopened.lost_commits is not None
        assert "lost committed changes" in reopened.lost_commits
        assert "it had recorded 8 state changes" in reopened.lost_commits
        events = [(e.level, e.message) for e in reopened.recent_events(5)]
        assert ("error", reopened.lost_commits) in events
        # The in-flight operations (their success lost) are unknown, to be looked up.
        assert reopened.counts()["unknown"] == 4
    finally:
        reopened.close()


def test_a_damaged_journal_is_refused_with_a_journal_error(tmp_path: Path) -> None:
    journal = create(tmp_path)
    run_id = journal.run_id
    journal.add_ops(new_ops(2000))
    journal.close()
    db = run_paths(tmp_path, run_id)[0]
    with sqlite3.connect(db) as conn:  # every commit into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    with db.open("r+b") as damaged:  # garbage over a page in the middle of the ops table
        damaged.seek(page * (pages // 2))
        damaged.write(b"\xa5" * page)
    with pytest.raises(JournalError) as refused:
        Journal.open(tmp_path, run_id)
    assert str(db) in str(refused.value)
    assert "damaged" in str(refused.value) or "malformed" in str(refused.value)


@pytest.mark.parametrize(
    ("table", "broken"), [("ops", "state = 'succeeded!'"), ("transitions", "to_state = 'x'")]
)
def test_a_row_that_breaks_a_check_constraint_is_refused(
    tmp_path: Path, table: str, broken: str
) -> None:
    """A value no bulkx writes (a state garbled in place, the record still well formed) is
    damage too: the structural check sets CHECK constraints aside, and a query per table
    finds it. The journal's own connection enforces them again afterwards."""
    journal = create(tmp_path)
    run_id = journal.run_id
    ids = journal.add_ops(new_ops(20))
    journal.start(ids[:3])
    journal.close()
    db = run_paths(tmp_path, run_id)[0]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(f"UPDATE {table} SET {broken} WHERE rowid = 2")
    with pytest.raises(JournalError, match=f"damaged: CHECK constraint failed in {table}"):
        Journal.open(tmp_path, run_id)
    with sqlite3.connect(db) as conn:  # mended: it opens, and its constraints hold again
        conn.execute(f"UPDATE {table} SET {broken.split(' = ')[0]} = 'in_flight' WHERE rowid = 2")
    reopened = Journal.open(tmp_path, run_id)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            reopened._conn.execute("UPDATE ops SET state = 'bogus' WHERE op_id = 1")
    finally:
        reopened.close()


def test_every_check_constraint_of_a_journal_is_read_from_its_schema(tmp_path: Path) -> None:
    journal = create(tmp_path)
    tables = journal._conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table'")
    schema = [str(row[0]) for row in tables]
    journal.close()
    conditions = [c for sql in schema for c in check_constraints(sql)]
    assert len(conditions) == sum(sql.count("CHECK (") for sql in schema) >= 10
    assert (
        "state IN ('pending','in_flight','succeeded','failed','unknown','skipped','cancelled')"
        in conditions
    )
    tricky = (
        "CREATE TABLE t (a TEXT DEFAULT 'CHECK (1)', \"check\" INT, [CHECK(] INT,"
        " b CHECK(b > (1)), c TEXT CONSTRAINT k check( c IN ('a)', 'b') ))"
    )
    assert list(check_constraints(tricky)) == ["b > (1)", " c IN ('a)', 'b') "]


def _push(i: int) -> Operation:
    return Operation(
        op_key=f"push-{i}",
        step="notices",
        kind="push.notification",
        key=f"ref-{i}",
        action="create",
        position=f"plan.yaml:{i + 1}",
        depends_on=(),
        change={"method": "POST", "api": "core", "path": "/push", "body": {}},
    )


def test_after_lost_commits_a_resume_skips_sends_it_cannot_find_again(tmp_path: Path) -> None:
    from bulkx.engine.run import open_resume

    journal = create(tmp_path)
    run_id = journal.run_id
    ids = journal.add_ops([_push(0), _push(1), *new_ops(2)])
    files = _files(tmp_path, run_id)
    _copy(files, tmp_path / "older")
    journal.start(ids)
    journal.succeed_many([(op_id, None, None) for op_id in ids])
    journal.close()
    _restore(tmp_path / "older", files)

    reopened = Journal.open(tmp_path, run_id)
    try:
        run = open_resume(reopened, {})
        by_kind = {op.op_key: op.state for op in reopened.ops(limit=10)}
        # The pushes may have gone out and nothing can find them: never sent again.
        assert by_kind["push-0"] == by_kind["push-1"] == "skipped"
        assert by_kind["key-000000"] == "pending"  # a create: looked up live before it is sent
        assert run.total == 2
    finally:
        reopened.close()
