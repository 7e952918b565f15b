"""The writer of one apply run's journal: one SQLite file, one writer, any number of watchers.

Durability: WAL + synchronous=FULL, so a committed intent survives kill -9 and (on storage that
honours fsync) power loss. Every state change is one short `BEGIN IMMEDIATE` transaction that
updates the operation and appends its audit row together. Batches (`add_ops`, `start`, `skip`)
are one transaction each, so fsync cost is per batch, not per operation.

One writer: `Journal` holds the run's lock (`bulkx.journal.run_files`) for its lifetime.
Watchers read through `JournalReader` (`bulkx.journal.reader`), never taking the lock; what a
row may hold (plain JSON, never a credential) is `bulkx.journal.payloads`. Their public names
are importable from here too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bulkx.errors import JournalError
from bulkx.journal import integrity
from bulkx.journal import preparation as prep_table
from bulkx.journal.new_run import RunRow, files_of, reserve, write_first_rows
from bulkx.journal.payloads import SUSPECT, dumps, refuse_secrets
from bulkx.journal.reader import JournalReader, list_runs, request_control
from bulkx.journal.run_files import (
    DEFAULT_ROOT,
    WriterLock,
    mkdir_private,
    new_run_id,
    run_paths,
    runs_dir,
)
from bulkx.journal.schema import (
    apply_migrations,
    clip_text,
    connect,
    now_iso,
    sql_errors,
    tighten_modes,
)
from bulkx.journal.states import (
    FINISHED_RUNS,
    TERMINAL,
    ControlCommand,
    EventLevel,
    Operation,
    OpState,
    RunState,
    check_transition,
    run_state,
)
from bulkx.journal.view import JournalView

__all__ = [
    "DEFAULT_ROOT",
    "Journal",
    "JournalReader",
    "list_runs",
    "new_run_id",
    "request_control",
    "run_paths",
    "runs_dir",
]

_CHUNK = 500  # ids per `IN (...)`: far below SQLite's variable limit


class Journal(JournalView):
    """The one writer of a run's journal."""

    def __init__(self, conn: sqlite3.Connection, path: Path, run_id: str, lock: WriterLock):
        super().__init__(conn, path, run_id)
        self._lock = lock
        self._in_batch = False
        self._siblings: list[Journal] = []
        self._is_sibling = False
        self._closed = False
        #: The high-water mark beside the file, advanced after each commit (shared by siblings).
        self._mark = integrity.Mark(path)
        #: Set by `open` when the journal holds less than its mark: commits were lost.
        self.lost_commits: str | None = None

    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        plan_path: str,
        plan_digest: str,
        target_label: str,
        is_sandbox: bool,
        options: Mapping[str, Any],
        changeset_json: str,
        run_id: str | None = None,
        sources: Sequence[tuple[str, bytes]] = (),
        refs: Mapping[tuple[str, str], str] | None = None,
        preparing: bool = False,
        saved: Mapping[str, Any] | None = None,
    ) -> Journal:
        """A new run in state `planned`; raises JournalError if `run_id` is taken. `sources`:
        the plan's files; `refs`: the sids of the live objects its operations name.
        `preparing`: in state `preparing` instead, its operations to come a chunk at a time
        (`add_prepared`, then `finish_preparing`); `saved`: the saved changeset it applies."""
        mkdir_private(runs_dir(root))
        try:
            json.loads(changeset_json)
        except ValueError as exc:
            raise JournalError(f"the changeset to journal is not JSON: {exc}") from None
        options_json = dumps(options, "the options")
        row = RunRow(plan_path, plan_digest, target_label, is_sandbox, options_json, changeset_json)
        rid, db, lock = reserve(root, run_id)
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(db, "rw")
            journal = cls(conn, db, rid, lock)
            with journal._write("initialise"):
                apply_migrations(conn, db)
                write_first_rows(
                    conn,
                    rid,
                    row,
                    created_at=now_iso(),
                    sources=sources,
                    refs=refs or {},
                    preparing=preparing,
                    saved=saved,
                )
            tighten_modes(db)
            return journal
        except BaseException:
            # A journal that never got its run row is noise in `bulkx runs`: remove it whole.
            if conn is not None:
                conn.close()
            for leftover in files_of(db):
                leftover.unlink(missing_ok=True)
            lock.release()
            raise

    @classmethod
    def open(cls, root: str | Path, run_id: str) -> Journal:
        """Reopen a run to resume it. Every `in_flight` operation becomes `unknown`: it may
        have been sent before the last writer stopped, so it must be reconciled, not resent."""
        db, lock_path = run_paths(root, run_id)
        if not db.exists():
            raise JournalError(f"no run {run_id} under {runs_dir(root)}", hint="see `bulkx runs`")
        lock = WriterLock(lock_path, run_id)
        try:
            conn = connect(db, "rw")
        except BaseException:
            lock.release()
            raise
        journal = cls(conn, db, run_id, lock)
        try:
            # Damaged: refused. Holding less than its mark (commits lost): said, loudly.
            with sql_errors(db, "check"):
                journal.lost_commits = integrity.check_on_open(conn, db)
            now = now_iso()
            with journal._write("reopen"):
                if apply_migrations(conn, db) == 0:
                    raise JournalError(f"the journal {db} was never initialised")
                sql = "SELECT op_id FROM ops WHERE state = 'in_flight'"
                crashed = [row[0] for row in conn.execute(sql)]
                detail = "the writer stopped while this was in flight; reconcile before resending"
                journal._set_states(crashed, {}, OpState.IN_FLIGHT, OpState.UNKNOWN, now, detail)
                message = f"reopened by pid {os.getpid()}"
                if crashed:
                    message += f"; {len(crashed)} in-flight operations are now unknown"
                conn.execute(
                    "INSERT INTO events (at, level, message) VALUES (?, 'info', ?)", (now, message)
                )
                if journal.lost_commits:
                    conn.execute(
                        "INSERT INTO events (at, level, message) VALUES (?, 'error', ?)",
                        (now, journal.lost_commits),
                    )
            tighten_modes(db)
        except BaseException:
            journal.close()
            raise
        return journal

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for sibling in self._siblings:
                sibling.close()
            self._conn.close()
        finally:
            if not self._is_sibling:
                self._mark.close()
                self._lock.release()

    def sibling(self) -> Journal:
        """A second writer connection to this run, for a writer thread (it may be used from
        any thread, one at a time). It shares this journal's lock, and closes with it. Each
        connection has its own transactions; SQLite makes them take turns."""
        twin = Journal(
            connect(self.path, "rw", any_thread=True), self.path, self.run_id, self._lock
        )
        twin._is_sibling = True
        twin._mark = self._mark
        self._siblings.append(twin)
        return twin

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: every change made inside is one transaction, so one fsync for the lot.
        An error inside rolls the whole batch back."""
        with self._write("record a batch in"):
            self._in_batch = True
            try:
                yield
            finally:
                self._in_batch = False

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction; rolled back whole on any error."""
        conn = self._conn
        if self._in_batch:
            yield conn
            return
        with sql_errors(self._path, doing):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                water = integrity.high_water(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    # The original error is the one worth reporting, not a failed rollback.
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            self._mark.advance(water)

    def _set_states(
        self,
        op_ids: Sequence[int],
        columns: Mapping[int, Mapping[str, Any]],
        source: str,
        target: OpState,
        now: str,
        detail: str | None,
        *,
        attempt: bool = False,
    ) -> None:
        """Move ops (already checked to be in `source`) to `target`, with their audit rows.
        `columns`: what else to set, per op (every op the same names); none when empty."""
        names = list(next(iter(columns.values()), {}))
        sets = ["state = ?", "updated_at = ?", *(f"{c} = ?" for c in names)]
        if attempt:
            sets += ["attempts = attempts + 1", "sent_at = ?"]
        if target in TERMINAL:
            sets.append("finished_at = ?")
        extra = ([now] if attempt else []) + ([now] if target in TERMINAL else [])
        state, was = str(target), str(source)
        self._conn.executemany(
            f"UPDATE ops SET {', '.join(sets)} WHERE op_id = ? AND state = ?",
            [
                (state, now, *(columns[op_id][c] for c in names), *extra, op_id, was)
                for op_id in op_ids
            ],
        )
        self._conn.executemany(
            "INSERT INTO transitions (op_id, from_state, to_state, at, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            [(op_id, was, state, now, detail) for op_id in op_ids],
        )

    def _move(
        self,
        op_ids: Sequence[int],
        target: OpState,
        detail: str | None,
        columns: Mapping[str, Any] | None = None,
        *,
        per_op: Mapping[int, Mapping[str, Any]] | None = None,
        only_from: OpState | None = None,  # narrower than the table: which method may move it
        attempt: bool = False,
    ) -> None:
        """Move ops to `target`, setting `columns` on each, or `per_op[op_id]` on each."""
        ids = list(op_ids)
        if len(set(ids)) != len(ids):
            raise JournalError(f"the same operation is listed twice in one {target} batch")
        if not ids:
            return
        if per_op is None:
            per_op = dict.fromkeys(ids, columns or {})
        now = now_iso()
        with self._write(f"record {target} in") as conn:
            by_source = self._by_source(conn, ids, target, only_from)
            for source, group in by_source.items():
                self._set_states(group, per_op, source, target, now, detail, attempt=attempt)

    def _by_source(
        self, conn: sqlite3.Connection, ids: list[int], target: OpState, only_from: OpState | None
    ) -> dict[str, list[int]]:
        """`ids` grouped by the state each is in now, every move checked legal (once per
        state, not per operation: a commit moves its operations from one or two states)."""
        current: dict[int, str] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT op_id, state FROM ops WHERE op_id IN ({marks})"
            current.update(conn.execute(sql, chunk).fetchall())
        by_source: dict[str, list[int]] = {}
        for op_id in ids:
            state = current.get(op_id)
            if state is None:
                raise JournalError(f"run {self.run_id} has no operation {op_id}")
            group = by_source.get(state)
            if group is None:
                if only_from is not None and state != only_from:
                    raise JournalError(f"operation {op_id} is {state}, not {only_from}")
                check_transition(op_id, state, target)
                group = by_source[state] = []
            group.append(op_id)
        return by_source

    def add_ops(self, ops: Iterable[Operation]) -> list[int]:
        """Write a batch of intents (state `pending`) in ONE transaction; returns their op_ids
        in order. A duplicate op_key, or a request carrying a credential, refuses the batch."""
        rows = self._op_rows(ops)
        if not rows:
            return []
        with self._write("add operations to") as conn:
            first = self._insert_ops(conn, rows)
        # We hold the only write lock and nothing deletes ops, so the new ids are dense.
        return list(range(first + 1, first + 1 + len(rows)))

    @staticmethod
    def _op_rows(ops: Iterable[Operation]) -> list[tuple[Any, ...]]:
        """Intents as `ops` rows, each screened for credentials."""
        now = now_iso()
        rows = []
        for op in ops:
            request = dumps(dict(op.change), op)
            # Cheap screen on the encoded text first: the exact walk runs only for the rare
            # request that mentions anything credential-like (100,000 intents stay fast).
            # Every change names its natural `"key":`, which is no credential's name (those
            # say token, secret, authori... or api_key): it alone does not call for the walk.
            lowered = request.lower().replace('"key":', "")
            if any(word in lowered for word in SUSPECT):
                refuse_secrets(op.change, f"the request of operation {op.op_key} ({op.position})")
            depends_on = dumps(list(op.depends_on), op) if op.depends_on else "[]"
            rows.append(
                (
                    op.op_key,
                    op.step,
                    op.kind,
                    op.key,
                    op.action,
                    op.position,
                    depends_on,
                    request,
                    now,
                    now,
                )
            )
        return rows

    def _insert_ops(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert `_op_rows` inside the caller's transaction; the op_id before the first."""
        first = int(conn.execute("SELECT coalesce(max(op_id), 0) FROM ops").fetchone()[0])
        try:
            conn.executemany(
                "INSERT INTO ops (op_key, step, kind, key, action, position, depends_on, "
                "request, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                rows,
            )
        except sqlite3.IntegrityError:
            raise JournalError(
                f"an operation key in this batch is already in run {self.run_id}"
            ) from None
        return first

    def start(self, op_ids: Sequence[int]) -> None:
        """pending -> in_flight for a batch, before any of their requests is sent."""
        self._move(op_ids, OpState.IN_FLIGHT, "sent", attempt=True)

    def succeed(self, op_id: int, remote_sid: str | None, result: Any = None) -> None:
        self.succeed_many([(op_id, remote_sid, result)])

    def succeed_many(self, outcomes: Sequence[tuple[int, str | None, Any]]) -> None:
        """in_flight -> succeeded for a batch: (op_id, remote sid, result) each."""
        ids = [op_id for op_id, _, _ in outcomes]  # `_move` refuses one listed twice
        per_op = {
            op_id: {"remote_sid": sid, "result": dumps(result, "the result"), "error": None}
            for op_id, sid, result in outcomes
        }
        # From unknown, success is a finding of reconciliation: `reconcile` records it.
        self._move(ids, OpState.SUCCEEDED, None, per_op=per_op, only_from=OpState.IN_FLIGHT)

    def fail(self, op_id: int, error: str) -> None:
        self._move([op_id], OpState.FAILED, clip_text(error), {"error": clip_text(error)})

    def unknown(self, op_id: int, error: str) -> None:
        self._move([op_id], OpState.UNKNOWN, clip_text(error), {"error": clip_text(error)})

    def retry(self, op_id: int, error: str) -> None:
        """in_flight -> pending: it will be sent again (same op_key). An unknown outcome is
        never simply retried: `reconcile` must look for it first."""
        error = clip_text(error) or ""
        self._move([op_id], OpState.PENDING, error, {"error": error}, only_from=OpState.IN_FLIGHT)

    def skip(self, op_ids: Sequence[int], reason: str) -> None:
        self._move(op_ids, OpState.SKIPPED, clip_text(reason), {"error": clip_text(reason)})

    def cancel(self, op_ids: Sequence[int], reason: str = "the run was cancelled") -> None:
        self._move(op_ids, OpState.CANCELLED, clip_text(reason), {"error": clip_text(reason)})

    def reconcile(self, op_id: int, found_sid: str | None) -> None:
        """An unknown outcome, checked against live state: found -> succeeded with its sid;
        absent -> pending, to be resent under the same op_key."""
        if found_sid is not None:
            detail = f"reconciled: found {found_sid}"
            columns: dict[str, Any] = {"remote_sid": found_sid, "error": None}
            self._move([op_id], OpState.SUCCEEDED, detail, columns, only_from=OpState.UNKNOWN)
        else:
            detail = "reconciled: not found live; resend under the same op_key"
            self._move([op_id], OpState.PENDING, detail, only_from=OpState.UNKNOWN)

    def record_resume(self, options: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
        """A resume: the options now in force, and the ones it changed (kept per resume)."""
        with self._write("record the resume in") as conn:
            conn.execute("UPDATE run SET options = ? WHERE id = 1", (dumps(options, "options"),))
            conn.execute(
                "INSERT INTO resumes (at, pid, overrides) VALUES (?, ?, ?)",
                (now_iso(), os.getpid(), dumps(overrides, "the options")),
            )

    def add_refs(self, refs: Mapping[tuple[str, str], str]) -> None:
        """More sids of live objects the operations name (found when a resume looked)."""
        with self._write("record references in") as conn:
            _insert_refs(conn, refs)

    # --- a preparation: the operations of a plan, a chunk at a time (bulkx.journal.preparation)

    def preparation(self) -> prep_table.Preparation | None:
        """Where this run's preparation stands; None for a run written whole."""
        with sql_errors(self._path, "read"):
            return prep_table.read(self._conn)

    def add_prepared(
        self,
        ops: Sequence[Operation],
        *,
        refs: Mapping[tuple[str, str], str],
        releases: Sequence[tuple[tuple[str, str], Operation]],
        waits: Sequence[tuple[tuple[str, str], str, bool]],
        cursor: tuple[int, int],
        summary: Mapping[str, Any],
        failed: Mapping[str, str] | None = None,
    ) -> None:
        """One prepared chunk in ONE transaction: its operations (pending, in order), the sids
        of the live objects they name, its releases held back and what they wait for, and the
        cursor and summary past it. A crash keeps the chunk whole or not at all. `failed`:
        op_key -> error of operations that failed before they could be sent (a change found
        blocked once the run was sending), failed in the same transaction."""
        rows = self._op_rows(ops)
        if releases:
            self._op_rows(op for _, op in releases)  # screened now, written at the end
        with self._write("add a prepared chunk to") as conn:
            if rows:
                self._insert_ops(conn, rows)
            _insert_refs(conn, refs)
            prep_table.stage(conn, releases, waits)
            prep_table.advance(conn, cursor, summary)
            if failed:
                prep_table.fail_unsent(conn, failed)

    def staged_releases(self, limit: int) -> list[prep_table.StagedRow]:
        """The releases held back, the last staged first (the order they are written in)."""
        with sql_errors(self._path, "read"):
            return prep_table.last_staged(self._conn, limit)

    def release_waits(self, objects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """(kind, key) -> op_keys a release of it waits for, in order."""
        with sql_errors(self._path, "read"):
            return prep_table.waits_for(self._conn, objects)

    def prepared_made(self, kinds: Iterable[str]) -> list[tuple[str, str, str]]:
        """(kind, key, op_key) of the creates and updates of `kinds` written so far."""
        with sql_errors(self._path, "read"):
            return prep_table.made(self._conn, kinds)

    def add_released(self, ops: Sequence[Operation], staged: Sequence[int]) -> None:
        """Releases written (after every other operation) and unstaged, in ONE transaction."""
        rows = self._op_rows(ops)
        with self._write("add releases to") as conn:
            if rows:
                self._insert_ops(conn, rows)
            prep_table.unstage(conn, staged)

    def finish_preparing(self, changeset_json: str, summary: Mapping[str, Any]) -> None:
        """Every operation is written: the changeset's header and the final summary."""
        json.loads(changeset_json)  # refuses what is not JSON before anything is written
        with self._write("finish preparing") as conn:
            prep_table.finish(conn, summary)
            conn.execute("UPDATE run SET changeset = ? WHERE id = 1", (changeset_json,))

    def discard(self) -> None:
        """Remove a run still being prepared (nothing of it was sent): its journal, lock and
        companions, and the runs directory if that leaves it empty."""
        if self.run().state != RunState.PREPARING or any(
            n for state, n in self.counts().items() if state != OpState.PENDING
        ):
            raise JournalError(f"run {self.run_id} has started; it cannot be discarded")
        db = self._path
        self.close()
        for leftover in (*files_of(db), self._lock_path):
            leftover.unlink(missing_ok=True)
        with suppress(OSError):
            db.parent.rmdir()  # only when empty: other runs keep it

    def set_run_state(self, state: str, exit_code: int | None = None) -> None:
        target = run_state(state)
        now = now_iso()
        finished = now if target in FINISHED_RUNS else None
        with self._write("update the run in") as conn:
            conn.execute(
                "UPDATE run SET state = ?, exit_code = coalesce(?, exit_code), finished_at = ? "
                "WHERE id = 1",
                (str(target), exit_code, finished),
            )

    def event(self, level: str, message: str) -> None:
        try:
            lvl = EventLevel(level)
        except ValueError:
            raise JournalError(f"{level!r} is not a log level") from None
        with self._write("log to") as conn:
            conn.execute(
                "INSERT INTO events (at, level, message) VALUES (?, ?, ?)",
                (now_iso(), str(lvl), clip_text(message)),
            )

    def sample(
        self,
        *,
        done: int,
        failed: int,
        in_flight: int,
        rate_limit: float | None = None,
        throttled: int = 0,
        retries: int = 0,
    ) -> None:
        with self._write("sample progress in") as conn:
            conn.execute(
                "INSERT INTO samples (at, done, failed, in_flight, rate_limit, throttled, "
                "retries) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now_iso(), done, failed, in_flight, rate_limit, throttled, retries),
            )

    def acknowledge(self, command_id: int) -> None:
        with self._write("acknowledge a command in") as conn:
            conn.execute(
                "UPDATE control SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                (now_iso(), command_id),
            )

    def request_control(self, command: str) -> int:
        # The writer already has a connection; a second one would only add a writer to the file.
        try:
            cmd = ControlCommand(command)
        except ValueError:
            raise JournalError(f"{command!r} is not pause, resume or cancel") from None
        with self._write("write a control request to") as conn:
            cursor = conn.execute(
                "INSERT INTO control (command, requested_at, requested_by) VALUES (?, ?, ?)",
                (str(cmd), now_iso(), os.getpid()),
            )
        return int(cursor.lastrowid or 0)


def _insert_refs(conn: sqlite3.Connection, refs: Mapping[tuple[str, str], str]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO refs (kind, key, sid) VALUES (?, ?, ?)",
        [(kind, key, sid) for (kind, key), sid in refs.items()],
    )
