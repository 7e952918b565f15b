"""Is a journal whole when it is opened again? Two checks, so that a damaged or rolled-back
journal is never resumed as if nothing had happened.

- `PRAGMA quick_check`: the file's pages and indexes are sound (a damaged file is refused).
- A high-water mark kept *outside* the database, in `<run_id>.mark`: after each commit the
  writer records how far the journal has come (the last state change and the last operation).
  A journal that holds less than its mark lost commits it had made durable: its `-wal` was
  removed or cut short after a crash, or an older copy was put back. SQLite cannot tell (the
  file is valid, just older); the mark can. The resume then says so, loudly, and looks up
  live every create left before sending it (`bulkx.engine.resume_lookup`).

The mark is written after the commit's fsync and without one of its own: after a kill it is
never ahead of what was committed (the page cache survives a kill), and after a power loss it
may be behind, which only makes the check miss, never cry wolf.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from bulkx.errors import JournalError

#: (the last state change's id, the last operation's id): both only ever grow.
HighWater = tuple[int, int]
_WIDTH = 48  # fixed, so each write replaces the whole mark in one pwrite


def mark_path(db: Path) -> Path:
    return db.with_suffix(".mark")


def high_water(conn: sqlite3.Connection) -> HighWater:
    row = conn.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM transitions),"
        " (SELECT coalesce(max(op_id), 0) FROM ops)"
    ).fetchone()
    return int(row[0]), int(row[1])


def read_mark(db: Path) -> HighWater | None:
    """The mark last written beside `db`, if any (a journal of an older bulkx has none)."""
    try:
        parts = mark_path(db).read_text().split()
    except OSError:
        return None
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


class Mark:
    """The high-water mark of one journal, advanced after each commit by any of its writer
    connections (a writer thread's included: hence the lock)."""

    def __init__(self, db: Path) -> None:
        self._path = mark_path(db)
        self._fd: int | None = None
        self._last: HighWater | None = None
        self._lock = threading.Lock()

    def advance(self, water: HighWater) -> None:
        """Record `water` unless a later commit recorded more already. Best effort: a mark
        that cannot be written leaves the next open with less to check, never with an error."""
        with self._lock:
            if self._last is not None and water <= self._last:
                return
            try:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.pwrite(self._fd, f"{water[0]} {water[1]}".ljust(_WIDTH).encode(), 0)
            except OSError:
                return
            self._last = water

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def remove(self) -> None:
        self.close()
        self._path.unlink(missing_ok=True)


def check_on_open(conn: sqlite3.Connection, db: Path) -> str | None:
    """Refuse a damaged journal (JournalError); say what was lost if it holds less than its
    mark (None: nothing lost, or no mark to tell)."""
    problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if problems != ["ok"]:
        raise JournalError(
            f"the journal {db} is damaged: {'; '.join(problems)}",
            hint="nothing is resumed from it; `bulkx report` shows what it still holds, and"
            " `bulkx plan` against live state shows what is left to do",
        )
    mark = read_mark(db)
    if mark is None:
        return None
    try:
        now = high_water(conn)
    except sqlite3.DatabaseError:  # not even its tables: everything was lost
        now = (0, 0)
    if now[0] >= mark[0] and now[1] >= mark[1]:
        return None
    return (
        f"the journal of this run lost committed changes: it had recorded {mark[0]} state"
        f" changes of {mark[1]} operations, it now holds {now[0]} of {now[1]} (its -wal file"
        " was removed or cut short after the writer stopped, or an older copy was restored);"
        " every create left is looked up live before it is sent, and sends the API cannot"
        " find again are not sent"
    )
