"""Which live runs hold which objects of a target: at most one run works on an object at once.

Each run's journal has its own writer lock, which keeps two processes off one run; it cannot
stop a second run of the same plan (or of an overlapping one) from planning against live
state the first has not changed yet, and then creating, renting or sending everything again.
So before it reads live state, a run *claims* what its plan names, in `<root>/claims.db`
(beside `runs/`): one row per (target, object) it may touch, with its run id and pid. A claim
that another live process holds refuses the newcomer (`RunsOverlap`, exit 6), naming the run.

What is claimed (`claim_keys`): `kind:natural key` of every item, and `kind:rent:step` of each
rent-by-count step (its rentals are found again by the step's tag, so two runs of one step
would both rent the shortfall). Sends (SMS, calls) are items keyed by their `ref`.

A claim is live while its process is (same host, `os.kill(pid, 0)`): a killed run's claims stop
counting at once, and its resume claims them again with its own pid. Claims are dropped when a
run ends with nothing left to do. One claims file per journal root: two machines, or two
`BULKX_HOME`s on one machine, share no claims (docs/concurrency.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from bulkx.errors import JournalLocked
from bulkx.journal.run_files import mkdir_private

#: Keys per statement: SQLite's default limit on host parameters is 32,766.
_CHUNK = 10_000
#: How long a claimer waits for another claimer's transaction (they are short).
_BUSY_SECONDS = 30.0


class RunsOverlap(JournalLocked):
    """Another live run holds objects this run would touch."""

    def __init__(self, *, holder: str, pid: int, count: int, example: str) -> None:
        more = f" and {count - 1} more" if count > 1 else ""
        super().__init__(
            f"run {holder} (pid {pid}) is working on {example}{more} on this target",
            run_id=holder,
            pid=pid,
            hint=f"wait for it (`bulkx watch {holder}`), or apply a plan that does not overlap",
        )
        self.count = count


def claims_path(root: Path) -> Path:
    return Path(root) / "claims.db"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it just is not ours to signal
    return True


@contextlib.contextmanager
def _connect(root: Path) -> Iterator[sqlite3.Connection]:
    mkdir_private(Path(root))
    path = claims_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private from the first byte
    os.close(fd)
    conn = sqlite3.connect(path, timeout=_BUSY_SECONDS, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS claims (target TEXT NOT NULL, item TEXT NOT NULL,"
            " run_id TEXT NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (target, item, run_id))"
            " WITHOUT ROWID"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS claims_run ON claims (run_id)")
        yield conn
    finally:
        conn.close()


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def claim(root: Path, target: str, run_id: str, items: Iterable[str]) -> None:
    """Claim `items` of `target` for `run_id` (this process), or raise `RunsOverlap` naming a
    live run that holds any of them. Check and write are one transaction: of two runs that
    claim at once, one waits for the other and then sees its claims."""
    pid = os.getpid()
    with _connect(root) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (item TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM wanted")
            for chunk in _chunks(items):
                conn.executemany(
                    "INSERT OR IGNORE INTO wanted VALUES (?)", ((item,) for item in chunk)
                )
            _refuse_overlap(conn, target, run_id)
            conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
            conn.execute(
                "INSERT INTO claims SELECT ?, item, ?, ? FROM wanted", (target, run_id, pid)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _refuse_overlap(conn: sqlite3.Connection, target: str, run_id: str) -> None:
    holders = conn.execute(
        "SELECT c.run_id, c.pid, count(*), min(c.item) FROM claims c JOIN wanted w"
        " ON c.item = w.item WHERE c.target = ? AND c.run_id != ? GROUP BY c.run_id, c.pid",
        (target, run_id),
    ).fetchall()
    for holder, pid, count, example in holders:
        if _alive(int(pid)):
            raise RunsOverlap(holder=holder, pid=int(pid), count=int(count), example=example)
    # The others are claims of runs whose process died: they no longer hold anything.


def release(root: Path, run_id: str) -> None:
    """Drop `run_id`'s claims (it ended with nothing left to do)."""
    if not claims_path(root).exists():
        return
    with _connect(root) as conn:
        conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
