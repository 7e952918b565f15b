"""A run being prepared a chunk at a time: each chunk written whole or not at all, with the
cursor past it; releases held back and written last; a run being prepared removed whole; an
older journal (schema 3) opened and upgraded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bulkx.errors import JournalError
from bulkx.journal import Journal, JournalReader, Operation
from bulkx.journal.schema import MIGRATIONS
from tests.journal.conftest import new_ops


def preparing(root: Path) -> Journal:
    return Journal.create(
        root,
        plan_path="plan.yaml",
        plan_digest="digest-1",
        target_label="sandbox",
        is_sandbox=True,
        options={},
        changeset_json="{}",
        preparing=True,
        saved={"changes": []},
    )


def release(n: int) -> Operation:
    return Operation(
        f"rel-{n}",
        "gone",
        "did",
        f"+1555{n:07d}",
        "release",
        f"plan.yaml:{n}",
        (),
        {"action": "release", "sid": f"sid-{n}"},
    )


def test_chunks_are_written_whole_with_their_cursor_and_releases_last(tmp_path: Path) -> None:
    journal = preparing(tmp_path)
    state = journal.preparation()
    assert state is not None
    assert (state.step_index, state.row_offset, state.finished) == (0, 0, False)
    assert state.saved == {"changes": []}
    with JournalReader.open(tmp_path, journal.run_id) as reader:
        assert reader.run().state == "preparing"  # its writer is alive

    ops = new_ops(4)
    journal.add_prepared(
        ops[:2],
        refs={("did", "+1"): "sid-1"},
        releases=[(("did", "+15550000007"), release(7))],
        waits=[(("did", "+15550000007"), "key-000001", True)],
        cursor=(0, 3),
        summary={"ops": 3},
    )
    journal.add_prepared(
        ops[2:],
        refs={},
        releases=[(("did", "+15550000008"), release(8))],
        waits=[(("did", "+15550000007"), "rel-8", False)],
        cursor=(1, 0),
        summary={"ops": 6},
    )
    secret = Operation(
        "k", "s", "did", "+1", "update", "p:1", (), {"headers": {"Authorization": "Bearer x"}}
    )
    with pytest.raises(JournalError, match="credential"):
        journal.add_prepared(
            [secret],
            refs={("did", "+2"): "sid-2"},
            releases=[],
            waits=[],
            cursor=(9, 9),
            summary={},
        )
    state = journal.preparation()
    assert state is not None and (state.step_index, state.row_offset) == (1, 0)
    assert state.summary == {"ops": 6}
    assert [op.op_key for op in journal.ops(limit=10)] == [op.op_key for op in ops]
    assert journal.refs() == {("did", "+1"): "sid-1"}  # the refused chunk wrote nothing

    staged = journal.staged_releases(10)
    assert [row.operation.op_key for row in staged] == ["rel-8", "rel-7"]  # last staged first
    assert journal.release_waits([("did", "+15550000007")]) == {
        ("did", "+15550000007"): ["rel-8", "key-000001"]  # releases first, then updates
    }
    journal.add_released([row.operation for row in staged], [row.seq for row in staged])
    assert journal.staged_releases(10) == []
    journal.finish_preparing('{"summary": {}}', {"ops": 6})
    state = journal.preparation()
    assert state is not None and state.finished
    assert [op.op_key for op in journal.ops(limit=10)][-2:] == ["rel-8", "rel-7"]
    assert journal.changeset() == {"summary": {}}
    journal.close()


def test_a_run_being_prepared_is_discarded_whole_but_never_one_started(tmp_path: Path) -> None:
    journal = preparing(tmp_path)
    journal.add_ops(new_ops(2))
    runs = tmp_path / "runs"
    journal.discard()
    assert journal.closed
    assert not runs.exists()  # it was the only run: nothing is left behind

    other = preparing(tmp_path)
    ids = other.add_ops(new_ops(2))
    kept = preparing(tmp_path)
    kept.discard()
    assert {p.name.split(".")[0] for p in runs.iterdir()} == {other.run_id}
    other.start(ids[:1])
    with pytest.raises(JournalError, match="cannot be discarded"):
        other.discard()
    other.set_run_state("running")
    assert not other.closed
    other.close()


def test_a_journal_of_schema_3_opens_and_may_be_prepared_no_more(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    db = tmp_path / "runs" / "old-run.db"
    conn = sqlite3.connect(db)
    for statement in [s for migration in MIGRATIONS[:3] for s in migration]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(
        "INSERT INTO run VALUES (1, 'old-run', '2026-01-01T00:00:00.000Z', 'plan.yaml', 'd',"
        " 'sandbox', 1, 'interrupted', NULL, '{}', '{\"summary\": {}}', NULL)"
    )
    conn.commit()
    conn.close()
    with Journal.open(tmp_path, "old-run") as journal:
        assert journal.run().state == "interrupted"
        assert journal.preparation() is None  # written whole: nothing is being prepared
        journal.set_run_state("preparing")  # the upgraded table allows the new state
        assert journal.changeset() == {"summary": {}}
