"""The journal's tables and numbered migrations, and how a connection to the file is opened.
The read queries that the writer and read-only watchers share are `bulkx.journal.view`.

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

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from bulkx.errors import JournalError

BUSY_TIMEOUT_MS = 5000
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


def _busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection held the file."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _journal_error(exc: sqlite3.Error, path: Path, doing: str, busy_seconds: float) -> JournalError:
    """A SQLite failure as a message a user can act on; never the raw traceback."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    hint: str | None = None
    if name == "SQLITE_FULL" or "disk is full" in text:
        reason, hint = "the disk is full", "free some space, then `bulkx resume RUN_ID`"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        reason = "the file or its file system is read-only"
    elif _busy(exc):
        reason = f"another process kept it busy for more than {busy_seconds:g} s"
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
def sql_errors(
    path: Path, doing: str, *, busy_seconds: float = BUSY_TIMEOUT_MS / 1000
) -> Iterator[None]:
    """`busy_seconds`: the busy timeout of the connection used inside, for the message."""
    try:
        yield
    except sqlite3.Error as exc:
        # `from None`: the message already says what SQLite said, in words a user can act on.
        raise _journal_error(exc, path, doing, busy_seconds) from None


def use_wal(conn: sqlite3.Connection, busy_seconds: float) -> str:
    """`PRAGMA journal_mode = WAL`, waiting up to `busy_seconds` for other connections as any
    statement does. SQLite answers this one SQLITE_BUSY at once, without its busy handler,
    while another connection holds a write lock on a file that is not in WAL mode yet: two
    processes that create one file together (two applies making `claims.db`) got "database
    is locked" in a few milliseconds. Returns the mode SQLite reports."""
    deadline = time.monotonic() + busy_seconds
    pause = 0.002
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


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
            journal_mode = use_wal(conn, BUSY_TIMEOUT_MS / 1000)
            if journal_mode.lower() != "wal":
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
