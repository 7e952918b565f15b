"""Is a journal whole when it is opened again? Two checks, so that a damaged or rolled-back
journal is never resumed as if nothing had happened.

- `PRAGMA quick_check`: the file's pages and indexes are sound, and every row keeps its table's
  NOT NULL and CHECK constraints (a damaged file is refused). The CHECKs are tested by a query
  per table (`damage`): inside quick_check, row by row, they took 0.58 s of the 0.78 s that a
  100,000-operation journal's check took, and stood between a resume and its first request.
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
import re
import sqlite3
import threading
from collections.abc import Iterator
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
    problems = damage(conn)
    if problems:
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


def damage(conn: sqlite3.Connection) -> list[str]:
    """What `PRAGMA quick_check` finds wrong (none: sound), in two passes: the file's structure
    (pages, b-trees, indexes, NOT NULL) with CHECK constraints set aside, then each table's CHECK
    constraints as one query. quick_check tests a CHECK row by row at some 1.3 us (the
    transitions' two state lists: 0.5 s at 100,000 operations); a query takes a fifth of that."""
    conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        found = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
    finally:
        conn.execute("PRAGMA ignore_check_constraints = OFF")
    if found != ["ok"]:
        return found
    problems = []
    for table, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        conditions = list(check_constraints(str(sql or "")))
        broken = " OR ".join(f"NOT ({condition})" for condition in conditions)
        if broken and conn.execute(f'SELECT 1 FROM "{table}" WHERE {broken} LIMIT 1').fetchone():
            problems.append(f"CHECK constraint failed in {table}")  # quick_check's words
    return problems


_CHECK = re.compile(r"CHECK\s*\(", re.IGNORECASE)


def check_constraints(create_table: str) -> Iterator[str]:
    """The conditions of the CHECK constraints in a CREATE TABLE statement, as written. A CHECK
    passes unless its condition is false, so `NOT (condition)` selects the rows that break it."""
    for at in _unquoted(create_table):
        found = _CHECK.match(create_table, at)
        if found is not None and not (at and _in_word(create_table[at - 1])):
            yield create_table[found.end() : _closing(create_table, found.end())]


def _in_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _unquoted(text: str, start: int = 0) -> Iterator[int]:
    """The positions in `text`, from `start`, outside its strings and quoted names."""
    quote = ""
    for at in range(start, len(text)):
        char = text[at]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        else:
            yield at


def _closing(text: str, start: int) -> int:
    """Where the parenthesis opened just before `start` closes."""
    depth = 1
    for at in _unquoted(text, start):
        depth += {"(": 1, ")": -1}.get(text[at], 0)
        if depth == 0:
            return at
    raise JournalError(f"a CHECK constraint without its closing parenthesis: {text[:200]}")
