"""What the monitor knows of a run: one bounded read of its journal at a time.

Every read opens the journal read-only, runs single-statement queries (each fetched whole, so
no read transaction outlives its statement and the writer's checkpoints never wait on us), and
closes it again. A read costs the same at op 10 and at op 100,000: aggregates (counts per state
and per step) and the newest rows (failures, log events, samples), never the whole journal.
A fresh connection per read also means a read can run in any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bulkx.journal import (
    Command,
    JournalEvent,
    JournalReader,
    JournalView,
    Operation,
    RunInfo,
    Sample,
    Transition,
    request_control,
)
from bulkx.report import failed_csv_by_kind, failed_ops, not_attempted_ops

#: Newest failed operations a read brings back (the failures view pages no further).
FAILURES_SHOWN = 200
EVENTS_SHOWN = 50
#: About five minutes of throughput at the writer's one sample a second.
SAMPLES_SHOWN = 300


@dataclass(frozen=True)
class RunSnapshot:
    """One consistent-enough picture of a run (each figure is one statement's answer)."""

    info: RunInfo
    counts: Mapping[str, int]
    by_step: Mapping[str, Mapping[str, int]]
    #: The newest failed operations, newest first; `counts["failed"]` says how many in all.
    failures: tuple[Operation, ...]
    events: tuple[JournalEvent, ...]
    samples: tuple[Sample, ...]
    #: pause/resume/cancel written to the control table and not yet picked up by the writer.
    pending_commands: tuple[Command, ...]
    #: A process holds the run's writer lock right now (same host only).
    writer_alive: bool
    read_at: datetime


@dataclass(frozen=True)
class ItemHistory:
    op: Operation
    history: tuple[Transition, ...]


class JournalSource:
    """Reads one run's journal for the monitor; writes nothing but control requests."""

    def __init__(
        self,
        root: Path,
        run_id: str,
        *,
        failures: int = FAILURES_SHOWN,
        events: int = EVENTS_SHOWN,
        samples: int = SAMPLES_SHOWN,
    ) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self._limits = (failures, events, samples)
        # `failed` is final, so while the count stands the newest failures are the same rows.
        self._failures: tuple[int, tuple[Operation, ...]] | None = None

    def read(self, now: datetime) -> RunSnapshot:
        """Safe from any thread (each read has its own connection; the cache is replaced
        whole)."""
        failures, events, samples = self._limits
        with JournalReader.open(self.root, self.run_id) as reader:
            alive = reader.writer_pid() is not None
            counts = reader.counts()
            failed = counts.get("failed", 0)
            if self._failures is None or self._failures[0] != failed:
                newest = tuple(reader.ops("failed", limit=failures, newest_first=True))
                self._failures = (failed, newest)
            return RunSnapshot(
                info=reader.run(),
                counts=counts,
                by_step=reader.counts_by_step(),
                failures=self._failures[1],
                events=tuple(reader.recent_events(events)),
                samples=tuple(reader.recent_samples(samples)),
                pending_commands=tuple(reader.pending_commands()),
                writer_alive=alive,
                read_at=now,
            )

    def item(self, op_id: int) -> ItemHistory | None:
        with JournalReader.open(self.root, self.run_id) as reader:
            op = reader.op(op_id)
            return None if op is None else ItemHistory(op, tuple(reader.history(op_id)))

    def request(self, command: str) -> int:
        """pause, resume or cancel: a row in the control table that the writer obeys."""
        return request_control(self.root, self.run_id, command)

    def export_failures(self, directory: Path) -> list[Path]:
        """What `bulkx report RUN_ID --failed` prints, as files: one CSV per kind (a plan CSV
        names one kind), `<run_id>-failed.csv` or `<run_id>-failed-<kind>.csv`. Only what
        failed: the items the run has not reached are `export_not_attempted`'s."""
        return self._export(directory, failed_ops, "failed")

    def export_not_attempted(self, directory: Path) -> list[Path]:
        """What `bulkx report RUN_ID --not-attempted` prints, as files named like
        `export_failures`' (`<run_id>-not-attempted[-<kind>].csv`)."""
        return self._export(directory, not_attempted_ops, "not-attempted")

    def _export(
        self, directory: Path, select: Callable[[JournalView], list[Operation]], label: str
    ) -> list[Path]:
        with JournalReader.open(self.root, self.run_id) as reader:
            records = select(reader)
        by_kind = failed_csv_by_kind(records)
        written = []
        for kind, text in by_kind.items():
            suffix = "" if len(by_kind) == 1 else f"-{kind.replace('.', '_')}"
            path = Path(directory) / f"{self.run_id}-{label}{suffix}.csv"
            path.write_text(text)
            written.append(path)
        return written
