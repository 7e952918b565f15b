"""The journal's tables and numbered migrations, how a connection to the file is opened, and
the read queries that the writer and read-only watchers share.

One SQLite file per run. Tables:

- `run`: exactly one row (id = 1). run_id, created_at, plan_path, plan_digest, target_label,
  is_sandbox, state (preparing|planned|running|paused|completed|failed|cancelled|interrupted),
  exit_code, options (JSON), changeset (JSON: the changeset's header, counts and cost; its
  changes are the operations'), finished_at.
- `ops`: one row per operation. op_id (INTEGER PK, dense and increasing), op_key (UNIQUE,
  deterministic from plan digest, step, kind, natural key and action, so a resend after a
  crash carries the same key), step, kind, key, action, position (file:line), depends_on
  (JSON list of op_keys), request (JSON: method, api, path, body; never a credential), state,
  attempts, remote_sid, error (already redacted), result (JSON), created_at, sent_at,
  finished_at, updated_at.
- `transitions`: the audit trail, one row per state change of an operation, written in the same
  transaction as the change (so it can never disagree with `ops.state`). The intent is not a
  row here (ops.created_at records it; `history()` shows it first): that halves the cost of a
  100,000-intent batch.
- `sources`: the plan's files (path, bytes, sha256) as they were when the run was made, so the
  run needs no plan file to resume, and shows what it applied.
- `refs`: (kind, natural key) -> sid of every live object the operations name (a trunk group
  that numbers are routed to): a resume resolves them without reading live state.
- `resumes`: one row per resume, with the options it changed (`run.options` holds the options
  in force: what the last process ran with).
- `preparation` (schema 4): where apply's chunked preparation stands (the next chunk's step
  index and row offset, whether it finished, the summary so far, a saved changeset applied);
  `staged_releases` and `release_waits`: releases held back to be written after every other
  operation. A journal without them (older) was written whole.
- `control`: pause/resume/cancel requests written by another process (a monitor) and
  acknowledged by the writer.
- `events`: the log tail a monitor shows. `samples`: throughput points for the monitor's plot.

Times are ISO-8601 UTC text with milliseconds, so they sort and read well in `.dump`.

Migrations are append-only: MIGRATIONS[i] takes the schema from user_version i to i + 1. Never
edit a released migration; add the next one.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bulkx.errors import JournalError
from bulkx.journal.states import (
    Command,
    ControlCommand,
    Event,
    Operation,
    OpState,
    OpStatus,
    RunInfo,
    RunState,
    Sample,
    Transition,
)

BUSY_TIMEOUT_MS = 5000
#: Values per `IN (...)`: far below SQLite's variable limit.
_IN_CHUNK = 500
_MAX_TEXT = 4000  # errors and log lines are for people; a 1 MB HTML error page is not

_OP_STATES = "'pending','in_flight','succeeded','failed','unknown','skipped','cancelled'"
_RUN_STATES = "'planned','running','paused','completed','failed','cancelled','interrupted'"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE run (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            run_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            plan_path TEXT NOT NULL,
            plan_digest TEXT NOT NULL,
            target_label TEXT NOT NULL,
            is_sandbox INTEGER NOT NULL CHECK (is_sandbox IN (0, 1)),
            state TEXT NOT NULL CHECK (state IN ({_RUN_STATES})),
            exit_code INTEGER,
            options TEXT NOT NULL,
            changeset TEXT NOT NULL,
            finished_at TEXT
        )""",
        f"""CREATE TABLE ops (
            op_id INTEGER PRIMARY KEY,
            op_key TEXT NOT NULL UNIQUE,
            step TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            action TEXT NOT NULL,
            position TEXT NOT NULL,
            depends_on TEXT NOT NULL,
            request TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ({_OP_STATES})),
            attempts INTEGER NOT NULL DEFAULT 0,
            remote_sid TEXT,
            error TEXT,
            result TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        # What a monitor polls (counts, counts by step, ops in one state) answers from this one
        # covering index; a second index would only slow the 100,000-intent batch insert.
        "CREATE INDEX ops_state_step ON ops (state, step)",
        f"""CREATE TABLE transitions (
            id INTEGER PRIMARY KEY,
            op_id INTEGER NOT NULL REFERENCES ops (op_id),
            from_state TEXT CHECK (from_state IN ({_OP_STATES})),
            to_state TEXT NOT NULL CHECK (to_state IN ({_OP_STATES})),
            at TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX transitions_op ON transitions (op_id)",
        """CREATE TABLE control (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL CHECK (command IN ('pause', 'resume', 'cancel')),
            requested_at TEXT NOT NULL,
            requested_by INTEGER,
            acknowledged_at TEXT
        )""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
            message TEXT NOT NULL
        )""",
        """CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            done INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            in_flight INTEGER NOT NULL,
            rate_limit REAL,
            throttled INTEGER NOT NULL,
            retries INTEGER NOT NULL
        )""",
    ),
    # 1 -> 2: a monitor asks for the newest failures of a 100,000-operation run several times
    # a second; without this index that is a scan of the whole table.
    ("CREATE INDEX ops_state_id ON ops (state, op_id)",),
    # 2 -> 3: a run is its journal. `sources` keeps the plan's files as they were applied (a
    # resume needs no plan file); `refs` the sids of the live objects the operations name (a
    # resume reads no live state to resolve them); `resumes` the options each resume changed.
    (
        """CREATE TABLE sources (
            path TEXT PRIMARY KEY,
            content BLOB NOT NULL,
            sha256 TEXT NOT NULL
        )""",
        """CREATE TABLE refs (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            sid TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE resumes (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            pid INTEGER NOT NULL,
            overrides TEXT NOT NULL
        )""",
    ),
    # 3 -> 4: apply journals a plan a chunk at a time. A run is `preparing` until every chunk's
    # operations are written; `preparation` holds the cursor (in the transaction of each chunk)
    # and the summary so far; releases wait in `staged_releases` (with `release_waits`, what
    # each must wait for) to be written last. SQLite cannot change a CHECK in place: the run
    # table is copied into one that allows `preparing`.
    (
        f"""CREATE TABLE run_v4 (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            run_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            plan_path TEXT NOT NULL,
            plan_digest TEXT NOT NULL,
            target_label TEXT NOT NULL,
            is_sandbox INTEGER NOT NULL CHECK (is_sandbox IN (0, 1)),
            state TEXT NOT NULL CHECK (state IN ({_RUN_STATES},'preparing')),
            exit_code INTEGER,
            options TEXT NOT NULL,
            changeset TEXT NOT NULL,
            finished_at TEXT
        )""",
        "INSERT INTO run_v4 SELECT * FROM run",
        "DROP TABLE run",
        "ALTER TABLE run_v4 RENAME TO run",
        """CREATE TABLE preparation (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            step_index INTEGER NOT NULL,
            row_offset INTEGER NOT NULL,
            finished INTEGER NOT NULL CHECK (finished IN (0, 1)),
            summary TEXT NOT NULL,
            saved TEXT
        )""",
        """CREATE TABLE staged_releases (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            operation TEXT NOT NULL
        )""",
        """CREATE TABLE release_waits (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            op_key TEXT NOT NULL,
            after_updates INTEGER NOT NULL CHECK (after_updates IN (0, 1))
        )""",
        "CREATE INDEX release_waits_object ON release_waits (kind, key)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
#: A run in one of these has a process driving it, unless nobody holds its lock.
_LIVE_RUN_STATES = frozenset(
    str(state)
    for state in (RunState.PREPARING, RunState.PLANNED, RunState.RUNNING, RunState.PAUSED)
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_migrations(conn: sqlite3.Connection, path: object) -> int:
    """Bring the schema up to SCHEMA_VERSION inside the caller's transaction; returns the
    version found. The caller owns BEGIN/COMMIT (executescript would commit on its own, and a
    half-migrated journal must never be visible)."""
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"the journal {path} has schema version {found}, newer than this bulkx understands "
            f"({SCHEMA_VERSION})",
            hint="upgrade bulkx to resume or inspect this run",
        )
    for version in range(found, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
        # user_version lives in the database header and is part of this transaction.
        conn.execute(f"PRAGMA user_version = {version + 1}")
    return found


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip_text(text: str | None) -> str | None:
    if text is None or len(text) <= _MAX_TEXT:
        return text
    return text[:_MAX_TEXT] + "…"


def _journal_error(exc: sqlite3.Error, path: Path, doing: str) -> JournalError:
    """A SQLite failure as a message a user can act on; never the raw traceback."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    hint: str | None = None
    if name == "SQLITE_FULL" or "disk is full" in text:
        reason, hint = "the disk is full", "free some space, then `bulkx resume RUN_ID`"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        reason = "the file or its file system is read-only"
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        reason = f"another process kept it busy for more than {BUSY_TIMEOUT_MS // 1000} s"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        reason = "the file is damaged or is not a bulkx journal"
    elif name.startswith("SQLITE_IOERR") or "disk I/O" in text:
        reason = "the operating system reported an I/O error"
    elif name.startswith("SQLITE_CANTOPEN"):
        reason = "it cannot be opened (missing, or no permission)"
    else:
        reason = text
    return JournalError(f"could not {doing} the journal {path}: {reason}", hint)


@contextmanager
def sql_errors(path: Path, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        # `from None`: the message already says what SQLite said, in words a user can act on.
        raise _journal_error(exc, path, doing) from None


def connect(db: Path, mode: str, *, any_thread: bool = False) -> sqlite3.Connection:
    """`any_thread`: the connection may be used from a thread other than this one (by one
    thread at a time: its user keeps it so)."""
    with sql_errors(db, "open"):
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves (Python 3.11 has no
        # `autocommit` attribute, and its implicit BEGIN is DEFERRED, which ignores busy_timeout).
        conn = sqlite3.connect(
            f"{db.resolve().as_uri()}?mode={mode}",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=not any_thread,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if mode == "rw":
            journal_mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(journal_mode).lower() != "wal":
                conn.close()
                raise JournalError(
                    f"the journal {db} cannot use WAL (journal_mode={journal_mode})",
                    hint="keep .bulkx on a local file system, not a network share",
                )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        return conn


def tighten_modes(db: Path) -> None:
    """0600 on the journal and its companions, whatever the umask (SQLite gives -wal/-shm the
    database's mode; this is belt and braces for files a previous version left behind)."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        with suppress(FileNotFoundError):
            os.chmod(path, 0o600)


def read_lock_pid(lock_path: Path) -> int | None:
    """The pid written by the process that holds (or last held) the lock, if any."""
    try:
        text = lock_path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


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

    def recent_events(self, limit: int = 50) -> list[Event]:
        """The last `limit` events, oldest first (the order a log tail prints them)."""
        sql = "SELECT id, at, level, message FROM events ORDER BY id DESC LIMIT ?"
        return [Event(*row) for row in reversed(self._rows(sql, (limit,)))]

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
