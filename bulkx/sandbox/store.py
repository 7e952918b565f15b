"""The sandbox's world in SQLite: one table per collection, JSON documents plus indexed columns.

SQLite is the single source of truth (no in-memory cache), so a restarted sandbox, or several
processes opening the same file, see one world. WAL lets readers proceed while one writer commits.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bulkx.sandbox.limits import deadline_passed

SCHEMA_VERSION = 1

#: Columns looked up across owners (a number is one row whatever its partner; credentials are
#: checked before the owner is known), so they also get an index of their own.
GLOBAL_LOOKUPS = frozenset({"phonenumber", "access_token", "login", "_login"})


def _dumps(obj: Any) -> str:
    # Sorted keys: CarrierX answers in alphabetical key order, so a stored document can be
    # spliced into a list response without decoding and re-encoding it.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _column(name: str) -> str:
    return f"c_{name}"


class Store:
    def __init__(self, path: str | Path, collections: Mapping[str, Sequence[str]]):
        """Open (creating if needed) the database at `path`; `collections` maps each collection
        to the top-level fields that get their own indexed column."""
        self.path = str(path)
        if self.path != ":memory:":
            # Private, whatever the umask: the folder also holds run journals and tokens'
            # fingerprints (`.bulkx/`), and the sandbox is often the first to create it.
            Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._indexed = {name: tuple(cols) for name, cols in collections.items()}
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._depth = 0
        # A read on a thread with a query deadline (limits.query_deadline) stops when it passes;
        # writes (inside a transaction) always finish.
        self._conn.set_progress_handler(self._late, 10_000)
        with self.transaction():
            self._migrate()
        if self.path != ":memory:":
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)

    def _late(self) -> bool:
        return self._depth == 0 and deadline_passed()

    # --- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        for name, cols in self._indexed.items():
            extra = "".join(f", {_column(c)}" for c in cols)
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS t_{name} (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                f" sid TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, data TEXT NOT NULL{extra})"
            )
            present = {row[1] for row in self._conn.execute(f"PRAGMA table_info(t_{name})")}
            for col in cols:
                # A column indexed by a newer sandbox than the one that made this db.
                if _column(col) not in present:
                    self._conn.execute(f"ALTER TABLE t_{name} ADD COLUMN {_column(col)}")
                    self._conn.execute(
                        f"UPDATE t_{name} SET {_column(col)} = json_extract(data, '$.{col}')"
                    )
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS i_{name}_owner ON t_{name}(owner, seq)")
            for col in cols:
                self._conn.execute(
                    f"CREATE INDEX IF NOT EXISTS i_{name}_{col} ON t_{name}(owner, {_column(col)})"
                )
                if col in GLOBAL_LOOKUPS:
                    self._conn.execute(
                        f"CREATE INDEX IF NOT EXISTS g_{name}_{col} ON t_{name}({_column(col)})"
                    )
        self.set_meta("schema_version", str(SCHEMA_VERSION))

    # --- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (BEGIN IMMEDIATE: check-then-write races cannot interleave).

        Nested, it is a savepoint: an error inside rolls back only the inner writes, so a
        caller that catches an ErrorAnswer inside an outer transaction keeps nothing half-done.
        """
        with self._lock:
            depth = self._depth
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{depth}")
                    self._conn.execute(f"RELEASE sp{depth}")
                raise
            self._depth -= 1
            self._conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # --- documents ------------------------------------------------------------------------

    def indexed(self, collection: str) -> tuple[str, ...]:
        return self._indexed[collection]

    def _row_values(self, collection: str, obj: Mapping[str, Any]) -> list[Any]:
        values: list[Any] = []
        for col in self._indexed[collection]:
            value = obj.get(col)
            values.append(int(value) if isinstance(value, bool) else value)
        return values

    def insert(self, collection: str, sid: str, owner: str, obj: Mapping[str, Any]) -> None:
        cols = self._indexed[collection]
        names = "".join(f", {_column(c)}" for c in cols)
        marks = ", ?" * len(cols)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO t_{collection}(sid, owner, data{names}) VALUES(?, ?, ?{marks})",
                [sid, owner, _dumps(obj), *self._row_values(collection, obj)],
            )

    def insert_many(
        self, collection: str, rows: Sequence[tuple[str, str, Mapping[str, Any]]]
    ) -> None:
        cols = self._indexed[collection]
        names = "".join(f", {_column(c)}" for c in cols)
        marks = ", ?" * len(cols)
        with self._lock:
            self._conn.executemany(
                f"INSERT INTO t_{collection}(sid, owner, data{names}) VALUES(?, ?, ?{marks})",
                [
                    [sid, owner, _dumps(obj), *self._row_values(collection, obj)]
                    for sid, owner, obj in rows
                ],
            )

    def replace(
        self, collection: str, sid: str, obj: Mapping[str, Any], owner: str | None = None
    ) -> None:
        cols = self._indexed[collection]
        sets = "".join(f", {_column(c)}=?" for c in cols)
        owner_set = ", owner=?" if owner is not None else ""
        params: list[Any] = [_dumps(obj), *self._row_values(collection, obj)]
        if owner is not None:
            params.append(owner)
        with self._lock:
            self._conn.execute(
                f"UPDATE t_{collection} SET data=?{sets}{owner_set} WHERE sid=?", [*params, sid]
            )

    def delete(self, collection: str, sid: str) -> None:
        with self._lock:
            self._conn.execute(f"DELETE FROM t_{collection} WHERE sid=?", (sid,))

    def get(self, collection: str, sid: str, owner: str | None = None) -> dict[str, Any] | None:
        sql = f"SELECT data FROM t_{collection} WHERE sid=?"
        params: list[Any] = [sid]
        if owner is not None:
            sql += " AND owner=?"
            params.append(owner)
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def owner_of(self, collection: str, sid: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT owner FROM t_{collection} WHERE sid=?", (sid,)
            ).fetchone()
        return None if row is None else str(row[0])

    def seq_of(self, collection: str, sid: str) -> int | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT seq FROM t_{collection} WHERE sid=?", (sid,)
            ).fetchone()
        return None if row is None else int(row[0])

    def find(
        self, collection: str, where: str = "", params: Sequence[Any] = (), owner: str | None = None
    ) -> list[dict[str, Any]]:
        """All documents matching a WHERE fragment (for internal lookups, not for lists)."""
        clauses = [c for c in (where, "owner=?" if owner is not None else "") if c]
        sql = f"SELECT data FROM t_{collection}"
        if clauses:
            sql += " WHERE " + " AND ".join(f"({c})" for c in clauses)
        args = [*params, *([owner] if owner is not None else [])]
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def page_raw(
        self,
        collection: str,
        *,
        owner: str | None,
        where: str,
        params: Sequence[Any],
        order_by: str,
        limit: int,
        offset: int,
        want_total: bool = True,
        document: str = "data",
    ) -> tuple[list[str], int | None]:
        """Like `page`, but the documents as stored JSON text, or as the SQL expression
        `document` makes of each (`json_remove(data, ...)`)."""
        clauses = [c for c in (where, "owner=?" if owner is not None else "") if c]
        where_sql = (" WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else ""
        args = [*params, *([owner] if owner is not None else [])]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {document} FROM t_{collection}{where_sql}"
                f" ORDER BY {order_by} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            total = None
            if want_total:
                total = int(
                    self._conn.execute(
                        f"SELECT count(*) FROM t_{collection}{where_sql}", args
                    ).fetchone()[0]
                )
        return [str(r[0]) for r in rows], total

    def page(
        self,
        collection: str,
        *,
        owner: str | None,
        where: str,
        params: Sequence[Any],
        order_by: str,
        limit: int,
        offset: int,
        want_total: bool = True,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of documents (decoded) and, if wanted, how many match in all."""
        raw, total = self.page_raw(
            collection,
            owner=owner,
            where=where,
            params=params,
            order_by=order_by,
            limit=limit,
            offset=offset,
            want_total=want_total,
        )
        return [json.loads(text) for text in raw], total

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                name: int(self._conn.execute(f"SELECT count(*) FROM t_{name}").fetchone()[0])
                for name in self._indexed
            }

    @staticmethod
    def column(name: str) -> str:
        return _column(name)
