"""One writer per run across processes, and what kill -9 leaves behind."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from bulkx.errors import JournalLocked
from bulkx.journal import TRANSITIONS, Journal, JournalReader, OpState
from tests.journal.conftest import create, new_ops, python


def test_a_second_writer_in_this_process_is_refused(tmp_path: Path) -> None:
    with create(tmp_path) as j:
        with pytest.raises(JournalLocked) as caught:
            Journal.open(tmp_path, j.run_id)
        assert caught.value.pid == os.getpid()
        assert f"pid {os.getpid()}" in str(caught.value)
        assert caught.value.hint == f"watch it with `bulkx watch {j.run_id}`"
        with JournalReader.open(tmp_path, j.run_id) as reader:  # watchers are always welcome
            assert reader.run().run_id == j.run_id
    with Journal.open(tmp_path, j.run_id):  # released on close
        pass


def test_a_second_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    with create(tmp_path) as j:
        child = python(
            "import sys\n"
            "from bulkx.errors import JournalLocked\n"
            "from bulkx.journal import Journal\n"
            "try:\n"
            f"    Journal.open({str(tmp_path)!r}, {j.run_id!r})\n"
            "except JournalLocked as e:\n"
            "    print(e, '|', e.hint); sys.exit(7)\n"
        )
        out, err = child.communicate(timeout=30)
    assert child.returncode == 7, err
    assert f"run {j.run_id} is being applied by another process (pid {os.getpid()})" in out
    assert f"bulkx watch {j.run_id}" in out


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    j = create(tmp_path)
    ids = j.add_ops(new_ops(3))
    j.close()
    child = python(
        "import sys, time\n"
        "from bulkx.journal import Journal\n"
        f"j = Journal.open({str(tmp_path)!r}, {j.run_id!r})\n"
        f"j.start({ids[:2]!r})\n"
        "print('holding', flush=True)\n"
        "time.sleep(60)\n"
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    with pytest.raises(JournalLocked, match=f"pid {child.pid}"):
        Journal.open(tmp_path, j.run_id)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.communicate()
    with Journal.open(tmp_path, j.run_id) as resumed:
        assert resumed.counts()["unknown"] == 2  # sent, perhaps: reconcile before resending
        assert resumed.counts()["pending"] == 1


_LOOP = """
import random, sys
from bulkx.journal import Journal
rng = random.Random({seed})
j = Journal.open({root!r}, {run_id!r})
print("ready", flush=True)
pending = [op.op_id for op in j.ops("pending", limit=100_000)]
for i in range(0, len(pending), 8):
    batch = pending[i : i + 8]
    j.start(batch)
    for op_id in batch:
        roll = rng.random()
        if roll < 0.8:
            j.succeed(op_id, f"sid-{{op_id}}", {{"n": op_id}})
        elif roll < 0.9:
            j.fail(op_id, "400 invalid")
        elif roll < 0.95:
            j.unknown(op_id, "reset after send")
        else:
            j.retry(op_id, "503")
    j.sample(done=i, failed=0, in_flight=len(batch))
print("done", flush=True)
"""


def _check_intact(db: Path) -> dict[str, int]:
    """integrity ok, only known states, and every op's audit trail ends where it stands."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = dict(conn.execute("SELECT state, count(*) FROM ops GROUP BY state").fetchall())
        assert set(states) <= {str(s) for s in OpState}
        disagreeing = conn.execute(
            "SELECT count(*) FROM ops o WHERE o.state != coalesce((SELECT t.to_state FROM "
            "transitions t WHERE t.op_id = o.op_id ORDER BY t.id DESC LIMIT 1), 'pending')"
        ).fetchone()[0]
        assert disagreeing == 0
        bad_moves = conn.execute("SELECT from_state, to_state FROM transitions").fetchall()
        assert all(OpState(b) in TRANSITIONS[OpState(a)] for a, b in bad_moves)
        sent_without_attempt = conn.execute(
            "SELECT count(*) FROM ops WHERE state NOT IN ('pending', 'skipped', 'cancelled') "
            "AND (attempts < 1 OR sent_at IS NULL)"
        ).fetchone()[0]
        assert sent_without_attempt == 0
        return states
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_mid_loop_leaves_an_intact_journal(tmp_path: Path, seed: int) -> None:
    j = create(tmp_path)
    j.add_ops(new_ops(3000))
    j.close()
    rng = random.Random(seed)
    child = python(_LOOP.format(seed=seed, root=str(tmp_path), run_id=j.run_id))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    target = rng.randint(20, 400)
    deadline = time.monotonic() + rng.uniform(0.3, 3.0)
    with JournalReader.open(tmp_path, j.run_id) as watcher:
        while time.monotonic() < deadline and watcher.counts()["succeeded"] < target:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.communicate()
        assert watcher.writer_pid() is None  # its pid is still in the lock file, but dead
    states = _check_intact(j.path)
    assert sum(states.values()) == 3000
    with Journal.open(tmp_path, j.run_id) as resumed:
        after = resumed.counts()
        assert after["in_flight"] == 0
        assert after["unknown"] == states.get("unknown", 0) + states.get("in_flight", 0)
        assert resumed.integrity_check() == "ok"
