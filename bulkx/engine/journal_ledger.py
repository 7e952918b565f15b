"""The executor's ledger backed by the run journal (one SQLite file per run)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkx.engine.executor import Progress
from bulkx.journal import Journal, NewOp

if TYPE_CHECKING:
    from bulkx.engine.plan_run import Prepared

#: How often the running process looks for pause/resume/cancel written by a monitor.
CONTROL_POLL_SECONDS = 0.5


def journal_root() -> Path:
    """`.bulkx` in the current directory, or $BULKX_HOME."""
    return Path(os.environ.get("BULKX_HOME", ".bulkx"))


class JournalLedger:
    def __init__(self, journal: Journal, ids: dict[str, int]) -> None:
        self.journal = journal
        self.ids = ids
        self._polled = 0.0

    @property
    def run_id(self) -> str:
        return self.journal.run().run_id

    def start(self, op_key: str) -> None:
        self.journal.start([self.ids[op_key]])

    def succeed(self, op_key: str, sid: str | None) -> None:
        self.journal.succeed(self.ids[op_key], sid)

    def fail(self, op_key: str, error: str) -> None:
        self.journal.fail(self.ids[op_key], error)

    def unknown(self, op_key: str, error: str) -> None:
        self.journal.unknown(self.ids[op_key], error)

    def retry(self, op_key: str, error: str) -> None:
        self.journal.retry(self.ids[op_key], error)

    def reconciled(self, op_key: str, sid: str | None) -> None:
        self.journal.reconcile(self.ids[op_key], sid)

    def skip(self, op_keys: list[str], reason: str) -> None:
        self.journal.skip([self.ids[k] for k in op_keys], reason)

    def commands(self) -> list[str]:
        now = time.monotonic()
        if now - self._polled < CONTROL_POLL_SECONDS:
            return []
        self._polled = now
        found = []
        for command in self.journal.pending_commands():
            self.journal.acknowledge(command.id)
            self.journal.event("info", f"{command.command} requested by pid {command.requested_by}")
            found.append(command.command)
        return found

    def finish(self, progress: Progress) -> None:
        self.journal.sample(
            done=progress.done,
            failed=progress.failed,
            in_flight=progress.in_flight,
            rate_limit=progress.rate_limit,
            throttled=progress.throttled,
            retries=progress.retries,
        )
        finished = progress.done + progress.failed + progress.skipped
        if progress.cancelled:
            state = "cancelled" if finished < progress.total else "completed"
        elif finished < progress.total:
            state = "interrupted"
        else:
            state = "failed" if progress.failed else "completed"
        self.journal.set_run_state(state)
        self.journal.close()


def create_run(
    root: Path,
    prepared: Prepared,
    *,
    target_label: str,
    is_sandbox: bool,
    options: Mapping[str, Any],
) -> tuple[str, JournalLedger]:
    """A new journal holding the changeset and every operation's intent, before any request."""
    journal = Journal.create(
        root,
        plan_path=prepared.changeset.plan_path,
        plan_digest=prepared.changeset.plan_digest,
        target_label=target_label,
        is_sandbox=is_sandbox,
        options=options,
        changeset_json=json.dumps(prepared.changeset.as_dict(), default=str),
    )
    new = [
        NewOp(
            op.op_key,
            op.step,
            op.kind,
            op.key,
            op.action,
            op.position,
            dict(op.change),
            op.depends_on,
        )
        for op in prepared.ops
    ]
    op_ids = journal.add_ops(new)
    journal.set_run_state("running")
    ledger = JournalLedger(
        journal, {op.op_key: i for op, i in zip(prepared.ops, op_ids, strict=True)}
    )
    return journal.run().run_id, ledger
