"""The durable record of one apply run: a SQLite file per run, one writer, many watchers.

`Journal` writes (and holds the run's lock); `JournalReader` watches read-only; `list_runs`
finds them. States and their legal moves are data in `bulkx.journal.states`.
"""

from bulkx.journal.reader import JournalReader, list_runs, request_control
from bulkx.journal.run_files import DEFAULT_ROOT, new_run_id, run_paths
from bulkx.journal.schema import SCHEMA_VERSION
from bulkx.journal.states import (
    TERMINAL,
    TRANSITIONS,
    Command,
    ControlCommand,
    JournalEvent,
    Operation,
    OpState,
    OpStatus,
    RunInfo,
    RunState,
    RunSummary,
    Sample,
    Transition,
)
from bulkx.journal.store import Journal
from bulkx.journal.view import JournalView

__all__ = [
    "DEFAULT_ROOT",
    "SCHEMA_VERSION",
    "TERMINAL",
    "TRANSITIONS",
    "Command",
    "ControlCommand",
    "Journal",
    "JournalEvent",
    "JournalReader",
    "JournalView",
    "OpState",
    "OpStatus",
    "Operation",
    "RunInfo",
    "RunState",
    "RunSummary",
    "Sample",
    "Transition",
    "list_runs",
    "new_run_id",
    "request_control",
    "run_paths",
]
