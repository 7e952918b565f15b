"""The journal's vocabulary: the states an operation and a run can be in, the legal moves
between them (as data), and the frozen records a journal's rows are read back as.

An operation's life (Jepsen's vocabulary: `unknown` is `:info`, an outcome nobody knows):

    pending ──start──> in_flight ──> succeeded | failed | unknown
       │  ^                │
       │  └────retry───────┘            unknown ──reconcile──> succeeded | failed | pending
       ├──> failed      (it could not be built: nothing to rent, nothing sent)
       ├──> skipped     (a dependency failed)
       └──> cancelled   (the run was cancelled before it was sent)

`unknown -> pending` is the one way back after a send: reconciliation looked for the object and
found nothing, so it is resent under the same op_key. An `in_flight` operation found on resume
may have been sent ("crashed operations stay concurrent"), so opening a journal for resume
turns it into `unknown`, never back into `pending`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bulkx.errors import JournalError


class OpState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunState(StrEnum):
    #: Its operations are still being written, a chunk of the plan at a time; nothing is sent.
    PREPARING = "preparing"
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class ControlCommand(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class EventLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_S = OpState

#: Every legal move; anything not listed is refused. Terminal states map to nothing.
TRANSITIONS: Mapping[OpState, frozenset[OpState]] = {
    # pending -> failed: it could not even be built (no number left to rent, a reference that
    # names nothing), so nothing was sent.
    _S.PENDING: frozenset({_S.IN_FLIGHT, _S.FAILED, _S.SKIPPED, _S.CANCELLED}),
    _S.IN_FLIGHT: frozenset({_S.SUCCEEDED, _S.FAILED, _S.UNKNOWN, _S.PENDING}),
    _S.UNKNOWN: frozenset({_S.SUCCEEDED, _S.FAILED, _S.PENDING}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.SKIPPED: frozenset(),
    _S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[OpState] = frozenset(s for s, moves in TRANSITIONS.items() if not moves)

#: A run in one of these has ended; `finished_at` is set when a run enters one.
FINISHED_RUNS: frozenset[RunState] = frozenset(
    {RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED}
)


def is_legal(current: OpState, target: OpState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(op_id: int, current: str, target: OpState) -> None:
    """Refuse a move the table does not list; the message says what was asked and why not."""
    state = op_state(current)
    if not is_legal(state, target):
        allowed = ", ".join(sorted(TRANSITIONS[state])) or "nothing (it is final)"
        raise JournalError(
            f"operation {op_id} cannot go from {state} to {target}; from {state} it may go to "
            f"{allowed}"
        )


def op_state(value: str) -> OpState:
    try:
        return OpState(value)
    except ValueError:
        raise JournalError(f"{value!r} is not an operation state") from None


def run_state(value: str) -> RunState:
    try:
        return RunState(value)
    except ValueError:
        raise JournalError(f"{value!r} is not a run state") from None


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    created_at: str
    plan_path: str
    plan_digest: str
    target_label: str
    is_sandbox: bool
    state: str
    exit_code: int | None
    options: Mapping[str, Any]
    finished_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunInfo:
        return cls(
            run_id=row["run_id"],
            created_at=row["created_at"],
            plan_path=row["plan_path"],
            plan_digest=row["plan_digest"],
            target_label=row["target_label"],
            is_sandbox=bool(row["is_sandbox"]),
            state=row["state"],
            exit_code=row["exit_code"],
            options=_json(row["options"]) or {},
            finished_at=row["finished_at"],
        )


@dataclass(frozen=True)
class Operation:
    """One operation, the same record from the diff to the journal to a resume: what it does
    (`change`, plain data as `change_as_dict` writes it) and, once journaled, where it stands.

    The key is deterministic (plan digest, step, kind, natural key, action), so a resumed run
    sends each operation under the same key, and a rent can be found again by its tag."""

    op_key: str
    step: str
    kind: str
    key: str
    action: str
    position: str
    depends_on: tuple[str, ...]
    #: The change as plain data, enough to rebuild the request on resume (column `request`).
    change: Mapping[str, Any]
    # What the journal knows of it (the defaults: an intent not yet written).
    op_id: int | None = None
    state: str = "pending"
    attempts: int = 0
    remote_sid: str | None = None
    error: str | None = None
    result: Any = None
    created_at: str | None = None
    sent_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Operation:
        return cls(
            op_key=row["op_key"],
            step=row["step"],
            kind=row["kind"],
            key=row["key"],
            action=row["action"],
            position=row["position"],
            depends_on=tuple(_json(row["depends_on"]) or ()),
            change=_json(row["request"]) or {},
            op_id=row["op_id"],
            state=row["state"],
            attempts=row["attempts"],
            remote_sid=row["remote_sid"],
            error=row["error"],
            result=_json(row["result"]),
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            finished_at=row["finished_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class OpStatus:
    """Where one operation stands, found by its op_key: what a run loading operations a chunk
    at a time asks about the dependencies it has not loaded (and the sids they created)."""

    op_key: str
    op_id: int
    state: str
    kind: str
    key: str
    action: str
    remote_sid: str | None


@dataclass(frozen=True)
class Transition:
    op_id: int
    from_state: str | None
    to_state: str
    at: str
    detail: str | None


@dataclass(frozen=True)
class Command:
    id: int
    command: str
    requested_at: str
    requested_by: int | None
    acknowledged_at: str | None


@dataclass(frozen=True)
class JournalEvent:
    """One line of the run's log (the `events` table), as a monitor or `bulkx report` reads it.
    Live, a run emits `bulkx.engine.events.Event`s; the journal's reporter logs here the ones a
    person should notice."""

    id: int
    at: str
    level: str
    message: str


@dataclass(frozen=True)
class Sample:
    at: str
    done: int
    failed: int
    in_flight: int
    rate_limit: float | None
    throttled: int
    retries: int


@dataclass(frozen=True)
class RunSummary:
    """One line of `bulkx runs`; `error` says why a journal could not be read (it is listed
    anyway, so a damaged run is never silently hidden)."""

    run_id: str
    path: str
    created_at: str | None = None
    state: str | None = None
    target_label: str | None = None
    is_sandbox: bool | None = None
    plan_path: str | None = None
    counts: Mapping[str, int] | None = None
    error: str | None = None
