"""The journal in one process: round trips, the state machine, resume, errors, file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bulkx.errors import JournalError
from bulkx.journal import (
    TRANSITIONS,
    Journal,
    JournalReader,
    Operation,
    OpState,
    list_runs,
    request_control,
    run_paths,
)
from tests.journal.conftest import create, new_ops

S = OpState


def test_create_reopen_and_read_back(tmp_path: Path) -> None:
    j = create(tmp_path)
    run_id = j.run_id
    ids = j.add_ops(new_ops(3))
    j.start(ids[:2])
    j.succeed(ids[0], "sid-0", {"phone_number": "+15550000000"})
    j.set_run_state("running")
    j.event("info", "hello")
    j.sample(done=1, failed=0, in_flight=1, rate_limit=50.0, throttled=2, retries=1)
    j.close()

    with JournalReader.open(tmp_path, run_id) as r:
        info = r.run()
        # It says running, but its writer has closed it: nobody drives it any more.
        assert (info.run_id, info.state, info.is_sandbox) == (run_id, "interrupted", True)
        assert info.options == {"concurrency": 4}
        assert r.changeset() == {"changes": []}
        first = r.op(ids[0])
        assert first is not None
        assert (first.state, first.remote_sid, first.attempts) == ("succeeded", "sid-0", 1)
        assert first.result == {"phone_number": "+15550000000"}
        assert first.change["body"] == {"n": 0}
        assert first.sent_at and first.finished_at
        assert r.op_by_key("key-000002") == r.op(ids[2])
        assert r.op(999) is None
        assert [e.message for e in r.recent_events()] == ["hello"]
        assert r.recent_samples()[0].throttled == 2

    with Journal.open(tmp_path, run_id) as j2:
        # The op that was in flight when the writer closed may have been sent: unknown now.
        assert j2.counts()["unknown"] == 1
        assert j2.counts()["in_flight"] == 0
        second = j2.op(ids[1])
        assert second is not None and second.state == "unknown"
        assert [t.to_state for t in j2.history(ids[1])] == ["pending", "in_flight", "unknown"]
        j2.reconcile(ids[1], None)
        j2.start([ids[1]])
        j2.succeed(ids[1], "sid-1")
        again = j2.op(ids[1])
        assert again is not None and (again.attempts, again.op_key) == (2, "key-000001")


def test_run_ids_are_sortable_and_unique(tmp_path: Path) -> None:
    a, b = create(tmp_path), create(tmp_path)
    a.close()
    b.close()
    assert a.run_id != b.run_id
    assert len(a.run_id) == len("20261127-221503-ab12")
    assert [s.run_id for s in list_runs(tmp_path)] == sorted([a.run_id, b.run_id])
    with pytest.raises(JournalError, match="already exists"):
        create(tmp_path, run_id=a.run_id)


def test_open_errors_are_journal_errors(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no run"):
        Journal.open(tmp_path, "20260101-000000-0000")
    with pytest.raises(JournalError, match="not a run id"):
        JournalReader.open(tmp_path, "../../etc/passwd")
    runs = tmp_path / "runs"
    (runs).mkdir()
    (runs / "garbage.db").write_bytes(b"this is not sqlite" * 100)
    [summary] = list_runs(tmp_path)
    assert summary.error and "garbage.db" in summary.error


def test_add_100k_ops_in_one_batch(journal: Journal) -> None:
    ids = journal.add_ops(new_ops(100_000))
    assert ids == list(range(1, 100_001))
    assert journal.counts()["pending"] == 100_000
    journal.start(ids[:5000])
    assert journal.counts_by_step()["numbers"]["in_flight"] == 5000
    more = journal.add_ops(new_ops(10, start=100_000))
    assert more[0] == 100_001


def test_duplicate_keys_refuse_the_whole_batch(journal: Journal) -> None:
    journal.add_ops(new_ops(2))
    with pytest.raises(JournalError, match="already in run"):
        journal.add_ops(new_ops(3, start=1))
    assert sum(journal.counts().values()) == 2
    with pytest.raises(JournalError, match="listed twice"):
        journal.start([1, 1])


@pytest.mark.parametrize(
    "request_",
    [
        {"method": "POST", "path": "/dids", "headers": {"Authorization": "Bearer x"}},
        {"method": "POST", "path": "/dids", "body": {"nested": [{"api_key": "x"}]}},
        {"method": "GET", "path": "/dids?access_token=abc"},
        {"method": "POST", "path": "/dids", "body": {"note": "Bearer abcdef0123"}},
        {"method": "POST", "path": "/dids", "body": {"proxy-authorization": "x"}},
    ],
)
def test_add_ops_refuses_credentials(journal: Journal, request_: dict[str, object]) -> None:
    op = Operation("k", "s", "did", "n", "create", "p:1", (), request_)
    with pytest.raises(JournalError, match="credential"):
        journal.add_ops([*new_ops(1), op])
    assert sum(journal.counts().values()) == 0


# ---- the state machine, table-driven --------------------------------------------------------

#: The brief's moves, written out again independently of bulkx.journal.states.
# fmt: off
EXPECTED_EDGES = {
    ("pending", "in_flight"), ("pending", "skipped"), ("pending", "cancelled"),
    ("pending", "failed"),  # could not be built (no number to rent): nothing was sent
    ("in_flight", "succeeded"), ("in_flight", "failed"), ("in_flight", "unknown"),
    ("in_flight", "pending"),
    ("unknown", "succeeded"), ("unknown", "failed"), ("unknown", "pending"),
}
# fmt: on

#: How each state is reached from pending, and which methods are legal from where.
PATHS: dict[str, list[str]] = {
    "pending": [],
    "in_flight": ["start"],
    "succeeded": ["start", "succeed"],
    "failed": ["start", "fail"],
    "unknown": ["start", "unknown"],
    "skipped": ["skip"],
    "cancelled": ["cancel"],
}
METHODS: dict[str, tuple[str, Callable[[Journal, int], None]]] = {
    "start": ("in_flight", lambda j, i: j.start([i])),
    "succeed": ("succeeded", lambda j, i: j.succeed(i, "sid")),
    "fail": ("failed", lambda j, i: j.fail(i, "400 bad")),
    "unknown": ("unknown", lambda j, i: j.unknown(i, "reset after send")),
    "retry": ("pending", lambda j, i: j.retry(i, "503")),
    "skip": ("skipped", lambda j, i: j.skip([i], "dependency failed")),
    "cancel": ("cancelled", lambda j, i: j.cancel([i])),
    "found": ("succeeded", lambda j, i: j.reconcile(i, "sid-found")),
    "absent": ("pending", lambda j, i: j.reconcile(i, None)),
}
# fmt: off
LEGAL = {
    ("pending", "start"), ("pending", "skip"), ("pending", "cancel"), ("pending", "fail"),
    ("in_flight", "succeed"), ("in_flight", "fail"), ("in_flight", "unknown"),
    ("in_flight", "retry"),
    ("unknown", "fail"), ("unknown", "found"), ("unknown", "absent"),
}
# fmt: on


def test_the_transition_table_is_the_documented_one() -> None:
    edges = {(str(a), str(b)) for a, targets in TRANSITIONS.items() for b in targets}
    assert edges == EXPECTED_EDGES
    assert {(state, METHODS[m][0]) for state, m in LEGAL} <= EXPECTED_EDGES


@pytest.mark.parametrize("source", list(PATHS))
@pytest.mark.parametrize("method", list(METHODS))
def test_transition(journal: Journal, source: str, method: str) -> None:
    [op_id] = journal.add_ops(new_ops(1))
    for step in PATHS[source]:
        METHODS[step][1](journal, op_id)
    before = journal.op(op_id)
    assert before is not None and before.state == source
    target, call = METHODS[method]
    if (source, method) in LEGAL:
        call(journal, op_id)
        after = journal.op(op_id)
        assert after is not None and after.state == target
        assert journal.history(op_id)[-1].from_state == source
    else:
        with pytest.raises(JournalError):
            call(journal, op_id)
        assert journal.op(op_id) == before  # refused whole: nothing changed
        assert len(journal.history(op_id)) == len(PATHS[source]) + 1


def test_an_illegal_op_refuses_the_whole_batch(journal: Journal) -> None:
    ids = journal.add_ops(new_ops(3))
    journal.start([ids[0]])
    with pytest.raises(JournalError, match="cannot go from in_flight to in_flight"):
        journal.start(ids)
    assert journal.counts()["in_flight"] == 1
    with pytest.raises(JournalError, match="no operation 99"):
        journal.skip([ids[1], 99], "x")


def test_errors_are_recorded_and_cleared_on_success(journal: Journal) -> None:
    [op_id] = journal.add_ops(new_ops(1))
    journal.start([op_id])
    journal.retry(op_id, "503 " + "x" * 10_000)
    op = journal.op(op_id)
    assert op is not None and op.error and len(op.error) < 4100
    journal.start([op_id])
    journal.succeed(op_id, "sid")
    op = journal.op(op_id)
    assert op is not None and (op.error, op.attempts) == (None, 2)


def test_paging_both_ways(journal: Journal) -> None:
    journal.add_ops(new_ops(25))
    journal.start([3, 7, 9])
    page1 = journal.ops(limit=10)
    page2 = journal.ops(limit=10, after_op_id=page1[-1].op_id)
    assert [o.op_id for o in page1 + page2] == list(range(1, 21))
    newest = journal.ops(limit=5, newest_first=True)
    assert [o.op_id for o in newest] == [25, 24, 23, 22, 21]
    assert [o.op_id for o in journal.ops(limit=5, after_op_id=21, newest_first=True)] == [
        20,
        19,
        18,
        17,
        16,
    ]
    assert [o.op_id for o in journal.ops("in_flight", newest_first=True)] == [9, 7, 3]


def test_run_state_and_control(tmp_path: Path, journal: Journal) -> None:
    journal.set_run_state("running")
    assert journal.run().finished_at is None
    journal.set_run_state("completed", exit_code=0)
    assert (journal.run().state, journal.run().exit_code) == ("completed", 0)
    assert journal.run().finished_at
    with pytest.raises(JournalError):
        journal.set_run_state("exploded")
    with pytest.raises(JournalError):
        journal.event("loud", "x")

    first = request_control(tmp_path, journal.run_id, "pause")  # another terminal, no lock
    with JournalReader.open(tmp_path, journal.run_id) as reader:
        second = reader.request_control("cancel")
    assert [(c.id, c.command) for c in journal.pending_commands()] == [
        (first, "pause"),
        (second, "cancel"),
    ]
    assert journal.pending_commands()[0].requested_by == os.getpid()
    journal.acknowledge(first)
    assert [c.id for c in journal.pending_commands()] == [second]
    with pytest.raises(JournalError, match="not pause"):
        journal.request_control("explode")


def test_reader_sees_commits_while_the_writer_writes(tmp_path: Path, journal: Journal) -> None:
    reader = JournalReader.open(tmp_path, journal.run_id)
    ids = journal.add_ops(new_ops(500))
    version = reader.data_version()
    for batch in range(0, 500, 50):
        journal.start(ids[batch : batch + 50])
        for op_id in ids[batch : batch + 50]:
            journal.succeed(op_id, f"sid-{op_id}")
        assert reader.counts()["succeeded"] == batch + 50
        assert reader.data_version() != version
        version = reader.data_version()
    assert reader.integrity_check() == "ok"
    assert reader.writer_pid() == os.getpid()
    with pytest.raises(sqlite3.OperationalError):
        reader._conn.execute("DELETE FROM ops")  # read-only: a watcher can never corrupt a run
    reader.close()
    journal.close()
    with JournalReader.open(tmp_path, journal.run_id) as after:
        assert after.writer_pid() is None  # released, and the pid forgotten


def test_files_are_private_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        root = tmp_path / "state"
        j = create(root)
        j.add_ops(new_ops(10))
        reader = JournalReader.open(root, j.run_id)
        reader.counts()
        db, lock = run_paths(root, j.run_id)
        files = [db, lock, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(f.exists() for f in files)
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        assert set(modes.values()) == {0o600}, modes
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        reader.close()
        j.close()
    finally:
        os.umask(old)


def test_a_full_disk_is_a_journal_error_naming_the_file(journal: Journal) -> None:
    # max_page_count makes SQLite answer exactly as it does on a full disk (SQLITE_FULL).
    pages = journal._conn.execute("PRAGMA page_count").fetchone()[0]
    journal._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JournalError) as caught:
        journal.add_ops(new_ops(5000))
    assert "disk is full" in str(caught.value)
    assert str(journal.path) in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert sum(journal.counts().values()) == 0  # rolled back whole
    journal._conn.execute("PRAGMA max_page_count = 1073741823")
    assert journal.add_ops(new_ops(5)) == [1, 2, 3, 4, 5]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    j = create(tmp_path)
    j._conn.execute("PRAGMA user_version = 99")
    j.close()
    with pytest.raises(JournalError, match="newer than this bulkx"):
        Journal.open(tmp_path, j.run_id)
    with pytest.raises(JournalError, match="schema version 99"):
        JournalReader.open(tmp_path, j.run_id)


def test_states_are_str_enums(journal: Journal) -> None:
    journal.add_ops(new_ops(1))
    assert journal.ops(S.PENDING)[0].state == "pending"
    assert journal.counts()[S.PENDING] == 1
