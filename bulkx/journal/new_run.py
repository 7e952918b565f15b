"""A new run's journal, before its writer takes it: a free run id, the journal file created
empty (0600) with the run's lock held, and its first rows (the run, the plan's files, the sids
of the live objects its operations name). `Journal.create` puts them together; `files_of` is
also what `Journal.discard` removes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkx.errors import JournalError
from bulkx.journal import integrity
from bulkx.journal import preparation as prep_table
from bulkx.journal.run_files import WriterLock, new_run_id, run_paths, runs_dir


@dataclass(frozen=True)
class RunRow:
    """What a new run's `run` row says (the options and changeset already JSON)."""

    plan_path: str
    plan_digest: str
    target_label: str
    is_sandbox: bool
    options_json: str
    changeset_json: str


def reserve(root: str | Path, run_id: str | None) -> tuple[str, Path, WriterLock]:
    """A new run's id, its journal file (created empty, 0600) and its lock, held."""
    for _ in range(5):  # a fresh id collides only within the same second: try another
        rid = run_id or new_run_id()
        db, lock_path = run_paths(root, rid)
        lock = WriterLock(lock_path, rid)
        try:
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return rid, db, lock
        except FileExistsError:
            lock.release()
            if run_id is not None:
                raise JournalError(f"run {rid} already exists in {db.parent}") from None
        except OSError as exc:
            lock.release()
            raise JournalError(f"cannot create the journal {db}: {exc.strerror}") from None
    raise JournalError(f"could not find a free run id in {runs_dir(root)}")


def files_of(db: Path) -> tuple[Path, ...]:
    """A journal and its companions: its WAL, shared memory and high-water mark."""
    return (
        db,
        db.with_name(db.name + "-wal"),
        db.with_name(db.name + "-shm"),
        integrity.mark_path(db),
    )


def write_first_rows(
    conn: sqlite3.Connection,
    run_id: str,
    row: RunRow,
    *,
    created_at: str,
    sources: Sequence[tuple[str, bytes]],
    refs: Mapping[tuple[str, str], str],
    preparing: bool,
    saved: Mapping[str, Any] | None,
) -> None:
    """The run row (state `planned`, or `preparing` with its preparation started), the plan's
    files and the sids its operations name, inside the caller's transaction. `created_at`
    comes from the writer, whose clock every other row of the journal uses too."""
    conn.execute(
        "INSERT INTO run (id, run_id, created_at, plan_path, plan_digest, "
        "target_label, is_sandbox, state, options, changeset) "
        "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            created_at,
            row.plan_path,
            row.plan_digest,
            row.target_label,
            int(row.is_sandbox),
            "preparing" if preparing else "planned",
            row.options_json,
            row.changeset_json,
        ),
    )
    if preparing:
        prep_table.start(conn, saved)
    conn.executemany(
        "INSERT OR REPLACE INTO sources (path, content, sha256) VALUES (?, ?, ?)",
        [(path, data, hashlib.sha256(data).hexdigest()) for path, data in sources],
    )
    conn.executemany(
        "INSERT INTO refs (kind, key, sid) VALUES (?, ?, ?)",
        [(kind, key, sid) for (kind, key), sid in refs.items()],
    )
