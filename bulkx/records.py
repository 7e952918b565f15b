"""Record exports: call and message detail records, app call records, invoices.

Millions of rows, read with the `after` cursor (never deep offsets), in parallel by time shard,
and resumable: each shard appends its rows to a part file and then records, atomically, how
many bytes of that file are whole pages and which sid comes next. A stopped export truncates
each part to its recorded length and carries on from its cursor, so no row is lost or written
twice. The parts are joined at the end into one CSV or Parquet file.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from bulkx.api import CarrierX
from bulkx.api.paging import MAX_PAGES, envelope_items
from bulkx.diff.read import quote
from bulkx.errors import ApiError, BulkxError
from bulkx.escaping import neutralised_columns


@dataclass(frozen=True)
class RecordKind:
    name: str
    path: str
    sid_field: str
    #: The timestamp shards are cut on (ISO-8601 text, so it orders as a string too).
    time_field: str
    doc: str


RECORD_KINDS: Mapping[str, RecordKind] = {
    kind.name: kind
    for kind in (
        RecordKind("cdr", "/calls/call_drs", "dr_sid", "date_start", "call detail records"),
        RecordKind("mdr", "/sms/message_drs", "dr_sid", "date_start", "message detail records"),
        RecordKind(
            "conference.calls",
            "/app/conference/calls",
            "call_sid",
            "date_start",
            "conference call records (Core's view of the conference app)",
        ),
        RecordKind(
            "conference.meetings",
            "/app/conference/meetings",
            "meeting_sid",
            "date_start",
            "conference meeting records",
        ),
        RecordKind(
            "mediator.calls", "/app/mediator/calls", "dr_sid", "date_start", "mediator call records"
        ),
        RecordKind("invoice", "/invoices", "invoice_sid", "date_created", "invoices"),
    )
}


class ExportError(BulkxError):
    """An export that cannot start or go on (bad window, a part directory of another export)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class Shard:
    index: int
    since: str | None
    until: str | None
    after: str | None = None
    rows: int = 0
    #: Bytes of the part file that hold whole pages (anything past it is cut on resume).
    length: int = 0
    done: bool = False


@dataclass(frozen=True)
class ExportResult:
    rows: int
    shards: int
    resumed_shards: int
    path: Path


def shard_windows(since: datetime, until: datetime, count: int) -> list[tuple[str, str]]:
    if until <= since:
        raise ExportError(f"--until ({until.isoformat()}) must be after --since")
    step = (until - since) / count
    edges = [since + step * i for i in range(count)] + [until]
    return [(_iso(a), _iso(b)) for a, b in itertools.pairwise(edges)]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _cell(value: Any) -> Any:
    """Nested values (invoice items, participants) as JSON text: one flat row per record."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


class Export:
    def __init__(
        self,
        client: CarrierX,
        kind: RecordKind,
        output: Path,
        *,
        windows: list[tuple[str | None, str | None]],
        filter: str | None = None,
        page_size: int = 1000,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self.output = output
        self.parts = output.with_name(output.name + ".parts")
        self.filter = filter
        self.page_size = page_size
        self.on_rows = on_rows
        # As JSON gives it back (lists, not tuples), to compare with a saved one.
        self.identity = json.loads(
            json.dumps(
                {
                    "kind": kind.name,
                    "windows": windows,
                    "filter": filter,
                    "output": output.name,
                }
            )
        )
        self.windows = windows

    async def run(self) -> ExportResult:
        shards, resumed = self._open()
        await asyncio.gather(*(self._shard(shard) for shard in shards if not shard.done))
        rows = self._join(shards)
        shutil.rmtree(self.parts)
        return ExportResult(rows, len(shards), resumed, self.output)

    # --- the part directory ---

    def _open(self) -> tuple[list[Shard], int]:
        manifest = self.parts / "export.json"
        if manifest.exists():
            saved = json.loads(manifest.read_text())
            if saved != self.identity:
                raise ExportError(
                    f"{self.parts} holds a stopped export of something else"
                    f" ({saved.get('kind')}, {saved.get('windows')})",
                    hint="finish it with the same options, or delete the directory",
                )
            shards = [Shard(**json.loads(p.read_text())) for p in self._states()]
            for shard in shards:  # cut what was written after the last recorded page
                with open(self._part(shard), "r+b") as part:
                    part.truncate(shard.length)
            return shards, sum(1 for s in shards if s.rows or s.done)
        self.parts.mkdir(parents=True, exist_ok=True)
        shards = [Shard(i, since, until) for i, (since, until) in enumerate(self.windows)]
        for shard in shards:
            self._part(shard).write_bytes(b"")
            self._save(shard)
        self._atomic(manifest, json.dumps(self.identity))
        return shards, 0

    def _states(self) -> list[Path]:
        return sorted(self.parts.glob("shard-*.json"))

    def _part(self, shard: Shard) -> Path:
        return self.parts / f"shard-{shard.index:04d}.csv"

    def _save(self, shard: Shard) -> None:
        self._atomic(self.parts / f"shard-{shard.index:04d}.json", json.dumps(asdict(shard)))

    @staticmethod
    def _atomic(path: Path, text: str) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    # --- one shard ---

    def _where(self, shard: Shard) -> str | None:
        clauses = [self.filter] if self.filter else []
        field = self.kind.time_field
        if shard.since:
            clauses.append(f"{field} ge {quote(shard.since)}")
        if shard.until:
            clauses.append(f"{field} lt {quote(shard.until)}")
        return " and ".join(clauses) or None

    async def _shard(self, shard: Shard) -> None:
        """Page through the shard with the `after` cursor; each page is appended to the part
        file and then committed to the shard's state."""
        columns: list[str] | None = None
        answer = f"GET {self.kind.path}"
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {
                "order": f"{self.kind.time_field} asc",
                "limit": self.page_size,
            }
            if shard.after:
                params["after"] = shard.after
            where = self._where(shard)
            if where:
                params["filter"] = where
            page = await self.client.get("core", self.kind.path, params=params)
            # Objects with a sid each, or an ApiError: the sid is the next page's cursor.
            items = envelope_items(page, answer, require=(self.kind.sid_field,))
            if items:
                if columns is None:
                    columns = self._columns(shard, items)
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                if shard.length == 0:
                    writer.writerow(columns)
                for item in items:
                    writer.writerow([_cell(item.get(c)) for c in columns])
                data = buffer.getvalue().encode()
                self._append(shard, data)
                shard.length += len(data)
                shard.rows += len(items)
                after, shard.after = shard.after, str(items[-1][self.kind.sid_field])
                if self.on_rows is not None:
                    self.on_rows(len(items))
                if shard.after == after and page.get("has_more"):
                    raise ApiError(f"{answer}: has_more, but the cursor stays at {after}")
            shard.done = not page.get("has_more") or not items
            self._save(shard)
            if shard.done:
                return
        raise ApiError(f"more than {MAX_PAGES:,} pages from {answer}; narrow the time range")

    def _append(self, shard: Shard, data: bytes) -> None:
        # One page at a time, between awaits: a short blocking write, like the journal's.
        with open(self._part(shard), "ab") as part:
            part.write(data)
            part.flush()
            os.fsync(part.fileno())

    def _columns(self, shard: Shard, items: list[dict[str, Any]]) -> list[str]:
        """A resumed part keeps the header it was started with."""
        if shard.length:
            with open(self._part(shard), encoding="utf-8") as part:
                return next(csv.reader(part))
        return sorted({key for item in items for key in item})

    # --- joining ---

    def _join(self, shards: list[Shard]) -> int:
        frames = [pl.scan_csv(self._part(s), infer_schema=False) for s in shards if s.rows]
        if not frames:
            self.output.write_text("")
            return 0
        joined = pl.concat(frames, how="diagonal")
        temporary = self.output.with_name(self.output.name + ".tmp")
        if self.output.suffix == ".parquet":
            joined.sink_parquet(temporary)
        else:
            # A spreadsheet opens the CSV: no cell may run as a formula (Parquet has none).
            neutralised_columns(joined).sink_csv(temporary)
        os.replace(temporary, self.output)
        return sum(s.rows for s in shards)


async def export_records(
    client: CarrierX,
    kind: RecordKind,
    output: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    shards: int = 4,
    filter: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export every record of `kind` (in [since, until) when given) to `output` (.csv/.parquet)."""
    windows: list[tuple[str | None, str | None]]
    if since is not None and until is not None:
        windows = list(shard_windows(since, until, max(1, shards)))
    else:
        windows = [(_iso(since) if since else None, _iso(until) if until else None)]
    export = Export(client, kind, output, windows=windows, filter=filter, on_rows=on_rows)
    return await export.run()
