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

A claim is live while its process is (same host, `os.kill(pid, 0)`) and its run's journal
exists: a killed run's claims stop counting at once (`claim` purges them), and its resume
claims them again with its own pid; a run discarded before it started (nothing to do, not
confirmed) holds nothing. Claims are dropped when a run's process stops driving it, however
it ended: a resume claims again what is left. One claims file per journal root: two machines, or two
`BULKX_HOME`s on one machine, share no claims (docs/concurrency.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from bulkx.errors import JournalError, JournalLocked
from bulkx.journal.run_files import mkdir_private, run_paths
from bulkx.journal.schema import sql_errors, use_wal

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
            hint=f"wait for it to end (`bulkx status {holder}`, `bulkx watch {holder}`),"
            " or apply a plan that does not overlap",
        )
        self.count = count


def target_key(base_url: str | None, sandbox_db: str) -> str:
    """What identifies a target across runs: the API's base URL, or the sandbox's file."""
    if base_url is not None:
        return base_url.rstrip("/")
    return f"sandbox:{Path(sandbox_db).resolve()}"


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
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private from the first byte
    except OSError as exc:
        raise JournalError(f"cannot open the claims file {path}: {exc.strerror}") from None
    os.close(fd)
    # Any SQLite failure (busy past the timeout, disk full, damaged) becomes a JournalError
    # naming the file, never a traceback.
    with sql_errors(path, "record claims in", busy_seconds=_BUSY_SECONDS):
        conn = sqlite3.connect(path, timeout=_BUSY_SECONDS, isolation_level=None)
        try:
            use_wal(conn, _BUSY_SECONDS)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS claims (target TEXT NOT NULL, item TEXT NOT NULL,"
                " run_id TEXT NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (target, item, run_id))"
                " WITHOUT ROWID"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS claims_run ON claims (run_id)")
            yield conn
        finally:
            conn.close()


@contextlib.contextmanager
def _transaction(root: Path) -> Iterator[sqlite3.Connection]:
    """The claims file, in one write transaction taken at once (BEGIN IMMEDIATE: a second
    claimer waits for it), committed at the end of the block, rolled back on any error."""
    with _connect(root) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # the first error is the one worth reporting
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise


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
    with _transaction(root) as conn:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (item TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM wanted")
        for chunk in _chunks(items):
            conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((item,) for item in chunk))
        _purge_stale(conn, root)
        _refuse_overlap(conn, target, run_id)
        conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
        conn.execute("INSERT INTO claims SELECT ?, item, ?, ? FROM wanted", (target, run_id, pid))


def adopt(root: Path, target: str, run_id: str) -> bool:
    """Take over the claims a dead process left for `run_id` on `target` (a run killed with
    kill -9 never released them), for this process: False when there are none to take over.
    They are a superset of what its resume needs, and nothing can overlap them: any run that
    claimed since that process died purged them first (`_purge_stale`). At 50,000 operations
    left this replaces a claim of every one of them (~0.7 s before a resume's first request)."""
    if not claims_path(root).exists():
        return False
    with _transaction(root) as conn:
        elsewhere = conn.execute(
            "SELECT count(*) FROM claims WHERE run_id = ? AND target != ?", (run_id, target)
        ).fetchone()[0]
        if elsewhere:
            return False
        _take_over(conn, run_id)
        taken = conn.execute("SELECT count(*) FROM claims WHERE run_id = ?", (run_id,))
        return bool(taken.fetchone()[0])


def take_over_from_the_dead(root: Path, run_id: str) -> None:
    """`adopt`, early: before the run's writer lock is held (a resume does it beside its
    journal's check), so only when every process holding `run_id`'s claims is gone. A live
    holder keeps them (its resume is refused by the lock); `adopt`, once the lock is held,
    takes over what this left."""
    if not claims_path(root).exists():
        return
    me = os.getpid()
    with _transaction(root) as conn:
        sql = "SELECT DISTINCT pid FROM claims WHERE run_id = ?"
        holders = [int(pid) for (pid,) in conn.execute(sql, (run_id,))]
        if holders and not any(_alive(pid) for pid in holders if pid != me):
            _take_over(conn, run_id)


def _take_over(conn: sqlite3.Connection, run_id: str) -> None:
    """`run_id`'s claims, this process's: only the rows not ours yet (a second take-over
    writes nothing)."""
    me = os.getpid()
    conn.execute("UPDATE claims SET pid = ? WHERE run_id = ? AND pid != ?", (me, run_id, me))


def _holds(root: Path, run_id: str, pid: int) -> bool:
    """Whether a run's claims still hold: its process is alive and its journal is still there
    (a run discarded before it started, nothing to do or not confirmed, left no journal)."""
    return _alive(pid) and run_paths(root, run_id)[0].exists()


def _purge_stale(conn: sqlite3.Connection, root: Path) -> None:
    """Drop the claims of runs that no longer hold them (killed, or discarded): a killed
    run never blocks a later apply or its own resume, and the table stays small."""
    holders = conn.execute("SELECT DISTINCT run_id, pid FROM claims").fetchall()
    stale = [(run, pid) for run, pid in holders if not _holds(root, run, int(pid))]
    conn.executemany("DELETE FROM claims WHERE run_id = ? AND pid = ?", stale)


def _refuse_overlap(conn: sqlite3.Connection, target: str, run_id: str) -> None:
    holders = conn.execute(
        "SELECT c.run_id, c.pid, count(*), min(c.item) FROM claims c JOIN wanted w"
        " ON c.item = w.item WHERE c.target = ? AND c.run_id != ? GROUP BY c.run_id, c.pid",
        (target, run_id),
    ).fetchall()
    for holder, pid, count, example in holders:
        raise RunsOverlap(holder=holder, pid=int(pid), count=int(count), example=example)


def release(root: Path, run_id: str) -> None:
    """Drop `run_id`'s claims (its process stops driving it; a resume claims again)."""
    if not claims_path(root).exists():
        return
    with _connect(root) as conn:
        conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
