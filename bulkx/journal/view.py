"""Reading a run's journal: `JournalView` answers every question the engine, the CLI, the
monitor and the reports ask of a journal, read-only (the writer, `Journal`, builds on it);
`write_control` is the one write a second process may make (a pause, resume or cancel).

The tables themselves, their migrations and the connection helpers are `bulkx.journal.schema`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bulkx.errors import JournalError
from bulkx.journal.schema import connect, now_iso, read_lock_pid, sql_errors
from bulkx.journal.states import (
    Command,
    ControlCommand,
    JournalEvent,
    Operation,
    OpState,
    OpStatus,
    RunInfo,
    RunState,
    Sample,
    Transition,
)

#: Values per `IN (...)`: far below SQLite's variable limit.
_IN_CHUNK = 500
#: A run in one of these has a process driving it, unless nobody holds its lock.
_LIVE_RUN_STATES = frozenset(
    str(state)
    for state in (RunState.PREPARING, RunState.PLANNED, RunState.RUNNING, RunState.PAUSED)
)


class JournalView:
    """What both the writer and a watcher can ask."""

    def __init__(self, conn: sqlite3.Connection, path: Path, run_id: str) -> None:
        self._conn = conn
        self._path = path
        self._lock_path = path.with_suffix(".lock")
        self.run_id = run_id

    @property
    def path(self) -> Path:
        return self._path

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        # fetchall: the statement (and its implicit read transaction) ends before we return.
        with sql_errors(self._path, "read"):
            return self._conn.execute(sql, params).fetchall()

    def run(self) -> RunInfo:
        """The run's record. A run that says it is running (or paused, or still being
        planned) while no process holds its lock was killed: it shows as `interrupted`."""
        rows = self._rows("SELECT * FROM run WHERE id = 1")
        if not rows:
            raise JournalError(f"the journal {self._path} has no run record")
        info = RunInfo.from_row(rows[0])
        if info.state in _LIVE_RUN_STATES and self.writer_pid() is None:
            info = replace(info, state=str(RunState.INTERRUPTED))
        return info

    def sources(self) -> list[tuple[str, bytes]]:
        """The plan's files as the run applied them: (path as given, bytes)."""
        if not self._has_table("sources"):
            return []
        rows = self._rows("SELECT path, content FROM sources ORDER BY rowid")
        return [(row[0], bytes(row[1])) for row in rows]

    def refs(self) -> dict[tuple[str, str], str]:
        """(kind, natural key) -> sid of the live objects the operations name."""
        if not self._has_table("refs"):
            return {}
        return {(r[0], r[1]): r[2] for r in self._rows("SELECT kind, key, sid FROM refs")}

    def refs_of(self, wanted: Mapping[str, Collection[str]]) -> dict[tuple[str, str], str]:
        """The journaled sids of the (kind -> natural keys) asked, by the refs table's key:
        what one chunk of operations names, never the whole table."""
        if not wanted or not self._has_table("refs"):
            return {}
        found: dict[tuple[str, str], str] = {}
        for kind, keys in sorted(wanted.items()):
            listed = sorted(keys)
            for i in range(0, len(listed), _IN_CHUNK):
                part = listed[i : i + _IN_CHUNK]
                sql = f"SELECT key, sid FROM refs WHERE kind = ? AND key IN ({_marks(part)})"
                found.update(((kind, r[0]), r[1]) for r in self._rows(sql, [kind, *part]))
        return found

    def creates_of_keys(self, wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], str | None]:
        """This run's creates of the (kind -> natural keys) asked: the sid each got, None for
        one not (yet) made."""
        kinds = sorted(wanted)
        if not kinds:
            return {}
        marks = ",".join("?" * len(kinds))
        sql = (
            "SELECT kind, key, CASE WHEN state = 'succeeded' THEN remote_sid END FROM ops"
            f" WHERE action = 'create' AND kind IN ({marks})"
        )
        with sql_errors(self._path, "read"):
            cursor = self._conn.execute(sql, kinds)
            return {(k, key): sid for k, key, sid in cursor if key in wanted[k]}

    def _has_table(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self._rows(sql, (name,)))

    def changeset(self) -> Any:
        """The header of the changeset this run applies (parsed JSON: plan, digest, target,
        counts per step, monthly cost); each change is in its operation."""
        rows = self._rows("SELECT changeset FROM run WHERE id = 1")
        return json.loads(rows[0]["changeset"]) if rows else None

    def counts(self) -> dict[str, int]:
        """Operations per state; every state is present, zeros included."""
        counts = {str(state): 0 for state in OpState}
        for row in self._rows("SELECT state, count(*) AS n FROM ops GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def creates_of(self, kind: str) -> list[sqlite3.Row]:
        """Each create of `kind`: key, state, remote_sid, and whether its outcome was ever
        unknown (sent, answer lost)."""
        return self._rows(
            "SELECT o.key, o.state, o.remote_sid, EXISTS (SELECT 1 FROM transitions t"
            " WHERE t.op_id = o.op_id AND t.to_state = 'unknown') AS was_unknown"
            " FROM ops o WHERE o.kind = ? AND o.action = 'create'",
            (kind,),
        )

    def counts_by_step(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        # Steps in plan order: the first operation of each step says where it stands.
        sql = (
            "SELECT step, state, count(*) AS n, min(op_id) AS first FROM ops"
            " GROUP BY step, state ORDER BY first"
        )
        for row in self._rows(sql):
            table.setdefault(row["step"], {str(s): 0 for s in OpState})[row["state"]] = row["n"]
        return table

    def ops(
        self,
        state: str | None = None,
        *,
        limit: int = 100,
        after_op_id: int | None = None,
        newest_first: bool = False,
    ) -> list[Operation]:
        """One page of operations in op_id order; pass the last op_id seen as `after_op_id`
        for the next page (keyset paging: cheap at any depth)."""
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(str(state))
        if after_op_id is not None:
            where.append("op_id < ?" if newest_first else "op_id > ?")
            params.append(after_op_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM ops {clause} ORDER BY op_id {order} LIMIT ?"
        return [Operation.from_row(r) for r in self._rows(sql, [*params, limit])]

    def ops_after(self, after_op_id: int, states: Iterable[str], limit: int) -> list[Operation]:
        """The next `limit` operations in one of `states` with an op_id above `after_op_id`, in
        op_id order: how a run takes what is left a chunk at a time. One index range per state
        (`ops_state_id`), merged: each chunk costs its own rows, however deep into the run."""
        wanted = sorted({str(state) for state in states})
        if not wanted or limit <= 0:
            return []
        one = "SELECT * FROM (SELECT * FROM ops WHERE state = ? AND op_id > ?"
        one += " ORDER BY op_id LIMIT ?)"
        sql = " UNION ALL ".join([one] * len(wanted)) + " ORDER BY op_id LIMIT ?"
        params: list[Any] = []
        for state in wanted:
            params += [state, after_op_id, limit]
        return [Operation.from_row(r) for r in self._rows(sql, [*params, limit])]

    def unfinished_objects(self, page: int = 5000) -> Iterator[tuple[str, str, str, str]]:
        """(kind, key, step, action) of each operation not finished (pending, in flight or
        outcome unknown): what a resume may still touch. A page at a time, never all rows."""
        after = 0
        sql = (
            "SELECT op_id, kind, key, step, action FROM ops WHERE state IN"
            " ('pending', 'in_flight', 'unknown') AND op_id > ? ORDER BY op_id LIMIT ?"
        )
        while rows := self._rows(sql, (after, page)):
            after = rows[-1][0]
            yield from ((r[1], r[2], r[3], r[4]) for r in rows)

    def op_statuses(self, op_keys: Collection[str]) -> dict[str, OpStatus]:
        """op_key -> where it stands, for the keys asked (a key the run does not hold is
        absent from the answer)."""
        listed = sorted(set(op_keys))
        found: dict[str, OpStatus] = {}
        for i in range(0, len(listed), _IN_CHUNK):
            part = listed[i : i + _IN_CHUNK]
            sql = (
                "SELECT op_key, op_id, state, kind, key, action, remote_sid FROM ops"
                f" WHERE op_key IN ({_marks(part)})"
            )
            found.update((r[0], OpStatus(*r)) for r in self._rows(sql, part))
        return found

    def op(self, op_id: int) -> Operation | None:
        rows = self._rows("SELECT * FROM ops WHERE op_id = ?", (op_id,))
        return Operation.from_row(rows[0]) if rows else None

    def op_by_key(self, op_key: str) -> Operation | None:
        rows = self._rows("SELECT * FROM ops WHERE op_key = ?", (op_key,))
        return Operation.from_row(rows[0]) if rows else None

    def history(self, op_id: int) -> list[Transition]:
        """Every state change of an operation, oldest first, starting with its intent."""
        sql = (
            "SELECT op_id, NULL, 'pending', created_at, 'planned', 0 AS id FROM ops "
            "WHERE op_id = :op UNION ALL "
            "SELECT op_id, from_state, to_state, at, detail, id FROM transitions WHERE op_id = :op "
            "ORDER BY id"
        )
        return [Transition(*row[:5]) for row in self._rows(sql, {"op": op_id})]

    def recent_events(self, limit: int = 50) -> list[JournalEvent]:
        """The last `limit` events, oldest first (the order a log tail prints them)."""
        sql = "SELECT id, at, level, message FROM events ORDER BY id DESC LIMIT ?"
        return [JournalEvent(*row) for row in reversed(self._rows(sql, (limit,)))]

    def recent_samples(self, limit: int = 300) -> list[Sample]:
        sql = (
            "SELECT at, done, failed, in_flight, rate_limit, throttled, retries FROM samples "
            "ORDER BY id DESC LIMIT ?"
        )
        return [Sample(*row) for row in reversed(self._rows(sql, (limit,)))]

    def pending_commands(self) -> list[Command]:
        sql = "SELECT * FROM control WHERE acknowledged_at IS NULL ORDER BY id"
        return [Command(*row) for row in self._rows(sql)]

    def data_version(self) -> int:
        """Changes whenever another connection commits: a watcher's cheap "anything new?"."""
        return int(self._rows("PRAGMA data_version")[0][0])

    def integrity_check(self) -> str:
        return "; ".join(str(row[0]) for row in self._rows("PRAGMA integrity_check"))

    def writer_pid(self) -> int | None:
        """The pid of the live writer, if one holds the lock (same host only)."""
        pid = read_lock_pid(self._lock_path)
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists; it just is not ours to signal
        return pid

    def request_control(self, command: str) -> int:
        """Ask the writer to pause, resume or cancel; returns the request's id. Allowed
        without the writer lock: one tiny write on its own short-lived connection."""
        return write_control(self._path, command)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def write_control(db: Path, command: str) -> int:
    try:
        cmd = ControlCommand(command)
    except ValueError:
        raise JournalError(f"{command!r} is not pause, resume or cancel") from None
    conn = connect(db, "rw")
    try:
        with sql_errors(db, "write a control request to"):
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "INSERT INTO control (command, requested_at, requested_by) VALUES (?, ?, ?)",
                (str(cmd), now_iso(), os.getpid()),
            )
            conn.execute("COMMIT")
            return int(cursor.lastrowid or 0)
    finally:
        conn.close()
