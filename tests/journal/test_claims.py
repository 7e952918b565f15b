"""Claims: at most one live run per object of a target (issue 15, item 1)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.errors import JournalError
from bulkx.journal import claims
from bulkx.journal.claims import RunsOverlap
from bulkx.journal.run_files import run_paths


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process standing in for another run's bulkx."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def _journal(root: Path, run_id: str) -> None:
    """The journal a run's claims go with: claims of a run without one hold nothing."""
    db = run_paths(root, run_id)[0]
    db.parent.mkdir(parents=True, exist_ok=True)
    db.touch()


def _claim_as(root: Path, pid: int, target: str, run_id: str, items: list[str]) -> None:
    """Claims written as process `pid` would have written them."""
    _journal(root, run_id)
    claims.claim(root, target, run_id, items)
    with sqlite3.connect(claims.claims_path(root)) as conn:
        conn.execute("UPDATE claims SET pid = ? WHERE run_id = ?", (pid, run_id))


def test_a_live_run_holding_one_object_refuses_the_next_and_is_named(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:+15550001", "did:+15550002"])
    with pytest.raises(RunsOverlap) as refused:
        claims.claim(tmp_path, "sandbox:a", "run-2", ["did:+15550002", "did:+15550003"])
    assert refused.value.run_id == "run-1"
    assert refused.value.pid == other_process.pid
    assert "did:+15550002" in str(refused.value)
    assert "bulkx status run-1" in (refused.value.hint or "")
    # Refused means nothing of run-2 was written.
    with sqlite3.connect(claims.claims_path(tmp_path)) as conn:
        assert conn.execute("SELECT count(*) FROM claims WHERE run_id = 'run-2'").fetchone() == (0,)


def test_disjoint_objects_and_other_targets_go_side_by_side(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:+15550001"])
    claims.claim(tmp_path, "sandbox:a", "run-2", ["did:+15550009"])
    claims.claim(tmp_path, "https://api.example/", "run-3", ["did:+15550001"])


def test_the_claims_of_a_run_discarded_before_it_started_hold_nothing(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    """A run with nothing to do, or not confirmed, is discarded (its journal removed) by a
    process that may live on: its claims must not keep the next run out."""
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["trunk_group:tg1"])
    run_paths(tmp_path, "run-1")[0].unlink()
    claims.claim(tmp_path, "sandbox:a", "run-2", ["trunk_group:tg1"])


def test_the_claims_of_a_dead_process_hold_nothing(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["trunk_group:tg1"])
    other_process.kill()
    other_process.wait()
    _journal(tmp_path, "run-2")
    claims.claim(tmp_path, "sandbox:a", "run-2", ["trunk_group:tg1"])
    # The dead run's claims were purged, not just passed over.
    with sqlite3.connect(claims.claims_path(tmp_path)) as conn:
        rows = conn.execute("SELECT DISTINCT run_id FROM claims").fetchall()
    assert rows == [("run-2",)]


def test_a_resume_claims_again_under_its_own_pid_and_release_drops_them(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:1", "did:2"])
    claims.claim(tmp_path, "sandbox:a", "run-1", ["did:2"])  # its own claims never refuse it
    with sqlite3.connect(claims.claims_path(tmp_path)) as conn:
        rows = conn.execute("SELECT item, pid FROM claims WHERE run_id = 'run-1'").fetchall()
    assert rows == [("did:2", os.getpid())]
    claims.release(tmp_path, "run-1")
    claims.claim(tmp_path, "sandbox:a", "run-2", ["did:1", "did:2"])


def test_the_claims_file_is_private(tmp_path: Path) -> None:
    claims.claim(tmp_path / "home", "sandbox:a", "run-1", ["did:1"])
    mode = stat.S_IMODE(claims.claims_path(tmp_path / "home").stat().st_mode)
    assert mode == 0o600


def test_many_items_are_claimed_in_chunks(tmp_path: Path) -> None:
    items = [f"did:+1555{n:07d}" for n in range(25_000)]
    claims.claim(tmp_path, "sandbox:a", "run-1", iter(items))
    with sqlite3.connect(claims.claims_path(tmp_path)) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone() == (25_000,)


def _holders(root: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(claims.claims_path(root)) as conn:
        return sorted(conn.execute("SELECT run_id, item, pid FROM claims").fetchall())


def test_a_resume_takes_over_what_its_killed_process_claimed(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:1", "did:2"])
    other_process.kill()  # kill -9: nothing released
    other_process.wait()
    assert claims.adopt(tmp_path, "sandbox:a", "run-1")
    me = os.getpid()
    assert _holders(tmp_path) == [("run-1", "did:1", me), ("run-1", "did:2", me)]
    # Taken over early (`bulkx resume` does, beside its imports), then again when the run is
    # opened: the second finds them its own already, and says so.
    assert claims.adopt(tmp_path, "sandbox:a", "run-1")
    assert _holders(tmp_path) == [("run-1", "did:1", me), ("run-1", "did:2", me)]
    # Taken over, they refuse an overlapping run as any claim does.
    _journal(tmp_path, "run-2")
    with pytest.raises(RunsOverlap):
        claims.claim(tmp_path, "sandbox:a", "run-2", ["did:2"])


def test_nothing_is_taken_over_once_another_run_purged_it_or_on_another_target(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    assert not claims.adopt(tmp_path, "sandbox:a", "run-1")  # no claims file yet
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:1"])
    assert not claims.adopt(tmp_path, "sandbox:b", "run-1")  # a resume to another target
    other_process.kill()
    other_process.wait()
    _journal(tmp_path, "run-2")
    claims.claim(tmp_path, "sandbox:a", "run-2", ["did:9"])  # purges the dead run's claims
    assert not claims.adopt(tmp_path, "sandbox:a", "run-1")  # so its resume claims afresh


def test_taken_over_early_only_from_a_process_that_is_gone(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    """`bulkx resume` takes over its run's claims before it holds the run's writer lock: a
    live holder (another process driving the run) keeps them, a dead one's become ours."""
    _claim_as(tmp_path, other_process.pid, "sandbox:a", "run-1", ["did:1", "did:2"])
    claims.take_over_from_the_dead(tmp_path, "run-1")
    alive = other_process.pid
    assert _holders(tmp_path) == [("run-1", "did:1", alive), ("run-1", "did:2", alive)]
    other_process.kill()
    other_process.wait()
    claims.take_over_from_the_dead(tmp_path, "run-1")
    me = os.getpid()
    assert _holders(tmp_path) == [("run-1", "did:1", me), ("run-1", "did:2", me)]
    assert claims.adopt(tmp_path, "sandbox:a", "run-1")  # when the run opens: ours already
    claims.take_over_from_the_dead(tmp_path / "elsewhere", "run-1")  # no claims file: nothing


def test_a_claimer_waits_for_a_writer_of_a_claims_file_not_yet_in_wal_mode(tmp_path: Path) -> None:
    """Two applies that create `claims.db` together: one held a write lock on the new file
    while the other set WAL mode, and SQLite answered that one "database is locked" at once
    (chaos T15 failed so, "busy for more than 5 s", after a few milliseconds)."""
    path = claims.claims_path(tmp_path)
    path.touch()
    first = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")  # the other claimer, mid-transaction, before WAL mode
    timer = threading.Timer(0.3, first.execute, ("COMMIT",))
    timer.start()
    try:
        claims.claim(tmp_path, "t", "r1", ["did:+15550001"])
    finally:
        timer.join()
        first.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT target, item, run_id FROM claims").fetchall()
    assert rows == [("t", "did:+15550001", "r1")]


def test_busy_past_the_timeout_names_the_claims_timeout(tmp_path: Path) -> None:
    path = claims.claims_path(tmp_path)
    path.touch()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(claims, "_BUSY_SECONDS", 0.2)
            with pytest.raises(JournalError, match=r"busy for more than 0\.2 s"):
                claims.claim(tmp_path, "t", "r1", ["did:+15550001"])
    finally:
        holder.close()
