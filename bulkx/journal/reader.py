"""A run seen from outside its writer: `JournalReader` (read-only, for `status`, `watch`,
`report` and the TUI), `list_runs`, and `request_control`, with which another terminal asks the
writer to pause, resume or cancel.

`JournalReader` opens the file `mode=ro`, never takes the writer's lock, and runs only
single-statement reads (fully fetched), so it never holds a read transaction that would stall
the writer's checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from bulkx.errors import JournalError
from bulkx.journal.run_files import DEFAULT_ROOT, run_paths, runs_dir
from bulkx.journal.schema import SCHEMA_VERSION, connect, schema_version, sql_errors
from bulkx.journal.states import RunSummary
from bulkx.journal.view import JournalView, write_control


def request_control(root: str | Path, run_id: str, command: str) -> int:
    """`bulkx pause|resume|cancel RUN_ID` from another terminal."""
    db, _ = run_paths(root, run_id)
    if not db.exists():
        raise JournalError(f"no run {run_id} under {runs_dir(root)}")
    return write_control(db, command)


class JournalReader(JournalView):
    """A read-only view of a run, for `status`, `watch`, `report` and the TUI."""

    @classmethod
    def open(cls, root: str | Path, run_id: str) -> JournalReader:
        db, _ = run_paths(root, run_id)
        if not db.exists():
            raise JournalError(f"no run {run_id} under {runs_dir(root)}", hint="see `bulkx runs`")
        conn = connect(db, "ro")
        with sql_errors(db, "read"):
            version = schema_version(conn)
        # An older journal reads as it is (its missing tables read as empty); resuming it
        # migrates it.
        if version == 0 or version > SCHEMA_VERSION:
            conn.close()
            raise JournalError(
                f"the journal {db} has schema version {version}; this bulkx reads "
                f"{SCHEMA_VERSION}" + (" (it is still being created)" if version == 0 else "")
            )
        return cls(conn, db, run_id)


def list_runs(root: str | Path = DEFAULT_ROOT) -> list[RunSummary]:
    """Every run under `root`, oldest first (run ids sort by time)."""
    directory = runs_dir(root)
    if not directory.is_dir():
        return []
    summaries = []
    for db in sorted(directory.glob("*.db")):
        run_id = db.stem
        try:
            with JournalReader.open(root, run_id) as reader:
                info, counts = reader.run(), reader.counts()
        except JournalError as exc:
            summaries.append(RunSummary(run_id, str(db), error=str(exc)))
            continue
        summaries.append(
            RunSummary(
                run_id,
                str(db),
                info.created_at,
                info.state,
                info.target_label,
                info.is_sandbox,
                info.plan_path,
                counts,
            )
        )
    return summaries
