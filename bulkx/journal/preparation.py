"""The journal's record of apply's chunked preparation (schema 4): where it stands, the releases
it holds back, and what they wait for. `Journal` calls these inside its own transactions; a
journal without the tables (written whole, by an older bulkx) has nothing being prepared.

`preparation`: one row, the next chunk's (step index, row offset) in the order the diff walks
the plan, whether every operation is written, the summary so far (JSON), and the saved
changeset applied (JSON, or null). Written in the transaction of each chunk, so a crash keeps
a chunk whole (its operations, references, releases and the cursor past it) or not at all.

`staged_releases`: a release's operation, held back until every other operation is written
(releases go last, dependants first). `release_waits`: (kind, key) of an object that may be
released -> an op_key that must finish first (a release of an object naming it; an update
moving off it, `after_updates`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkx.journal.payloads import dumps
from bulkx.journal.schema import clip_text, now_iso
from bulkx.journal.states import Operation

#: Values per `IN (...)`: far below SQLite's variable limit.
_IN_CHUNK = 400


@dataclass(frozen=True)
class Preparation:
    """Where a run's preparation stands."""

    step_index: int
    row_offset: int
    finished: bool
    #: The summary of what is prepared so far (`bulkx.diff.summary.ChangeSummary.as_dict`).
    summary: Mapping[str, Any]
    #: The saved changeset applied (`bulkx plan --save`), if any: a resume needs it too.
    saved: Mapping[str, Any] | None


@dataclass(frozen=True)
class StagedRow:
    """A held-back release: its place (written in reverse), the object it releases, its op."""

    seq: int
    released: tuple[str, str]
    operation: Operation


def has_tables(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'preparation'"
    return conn.execute(sql).fetchone() is not None


def start(conn: sqlite3.Connection, saved: Mapping[str, Any] | None) -> None:
    saved_json = None if saved is None else dumps(saved, "the saved changeset")
    conn.execute(
        "INSERT INTO preparation (id, step_index, row_offset, finished, summary, saved) "
        "VALUES (1, 0, 0, 0, '{}', ?)",
        (saved_json,),
    )


def read(conn: sqlite3.Connection) -> Preparation | None:
    if not has_tables(conn):
        return None
    row = conn.execute(
        "SELECT step_index, row_offset, finished, summary, saved FROM preparation WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    saved = None if row[4] is None else json.loads(row[4])
    return Preparation(row[0], row[1], bool(row[2]), json.loads(row[3]), saved)


def advance(conn: sqlite3.Connection, cursor: tuple[int, int], summary: Mapping[str, Any]) -> None:
    conn.execute(
        "UPDATE preparation SET step_index = ?, row_offset = ?, summary = ? WHERE id = 1",
        (cursor[0], cursor[1], dumps(summary, "the summary")),
    )


def finish(conn: sqlite3.Connection, summary: Mapping[str, Any]) -> None:
    conn.execute(
        "UPDATE preparation SET finished = 1, summary = ? WHERE id = 1",
        (dumps(summary, "the summary"),),
    )


def _encode(operation: Operation) -> str:
    return dumps(
        {
            "op_key": operation.op_key,
            "step": operation.step,
            "kind": operation.kind,
            "key": operation.key,
            "action": operation.action,
            "position": operation.position,
            "depends_on": list(operation.depends_on),
            "change": dict(operation.change),
        },
        operation,
    )


def _decode(text: str) -> Operation:
    data = json.loads(text)
    return Operation(
        data["op_key"],
        data["step"],
        data["kind"],
        data["key"],
        data["action"],
        data["position"],
        tuple(data["depends_on"]),
        data["change"],
    )


def stage(
    conn: sqlite3.Connection,
    releases: Iterable[tuple[tuple[str, str], Operation]],
    waits: Iterable[tuple[tuple[str, str], str, bool]],
) -> None:
    """Hold releases back ((kind, key) released, operation), and record what they wait for
    ((kind, key) released, op_key, whether it is an update moving off it)."""
    conn.executemany(
        "INSERT INTO staged_releases (kind, key, operation) VALUES (?, ?, ?)",
        [(kind, key, _encode(op)) for (kind, key), op in releases],
    )
    conn.executemany(
        "INSERT INTO release_waits (kind, key, op_key, after_updates) VALUES (?, ?, ?, ?)",
        [(kind, key, op_key, int(after)) for (kind, key), op_key, after in waits],
    )


def last_staged(conn: sqlite3.Connection, limit: int) -> list[StagedRow]:
    """The `limit` releases staged last, last first: the order they are written in."""
    rows = conn.execute(
        "SELECT seq, kind, key, operation FROM staged_releases ORDER BY seq DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [StagedRow(r[0], (r[1], r[2]), _decode(r[3])) for r in rows]


def unstage(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
    conn.executemany("DELETE FROM staged_releases WHERE seq = ?", [(seq,) for seq in seqs])


def waits_for(
    conn: sqlite3.Connection, objects: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(kind, key) -> the op_keys a release of it waits for: releases naming it first, then
    updates moving off it, each in the order they were prepared."""
    found: dict[tuple[str, str], list[str]] = {}
    wanted = sorted(set(objects))
    for i in range(0, len(wanted), _IN_CHUNK):
        part = wanted[i : i + _IN_CHUNK]
        pairs = " OR ".join("(kind = ? AND key = ?)" for _ in part)
        sql = (
            f"SELECT kind, key, op_key FROM release_waits WHERE {pairs} ORDER BY after_updates, id"
        )
        for kind, key, op_key in conn.execute(sql, [v for pair in part for v in pair]):
            found.setdefault((kind, key), []).append(op_key)
    return found


def made(conn: sqlite3.Connection, kinds: Iterable[str]) -> list[tuple[str, str, str]]:
    """(kind, key, op_key) of the run's creates and updates of `kinds`, in op_id order: what
    the chunks prepared so far made, for the chunks still to come to wait for."""
    listed = sorted(set(kinds))
    if not listed:
        return []
    marks = ",".join("?" * len(listed))
    sql = (
        "SELECT kind, key, op_key FROM ops WHERE action IN ('create', 'update')"
        f" AND kind IN ({marks}) ORDER BY op_id"
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(sql, listed)]


def fail_unsent(conn: sqlite3.Connection, failed: Mapping[str, str]) -> None:
    """pending -> failed for operations just inserted that can never be sent, in the caller's
    transaction, with their audit rows."""
    now = now_iso()
    for key, error in failed.items():
        (op_id,) = conn.execute("SELECT op_id FROM ops WHERE op_key = ?", (key,)).fetchone()
        text = clip_text(error)
        conn.execute(
            "UPDATE ops SET state = 'failed', error = ?, updated_at = ?, finished_at = ?"
            " WHERE op_id = ? AND state = 'pending'",
            (text, now, now, op_id),
        )
        conn.execute(
            "INSERT INTO transitions (op_id, from_state, to_state, at, detail)"
            " VALUES (?, 'pending', 'failed', ?, ?)",
            (op_id, now, text),
        )
