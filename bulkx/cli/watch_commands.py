"""`bulkx watch [RUN_ID]`: the monitor of a run driven by another process (another terminal,
tmux, SSH), reading its journal read-only. Quitting only detaches; the run goes on.

`watch_status` is the same key figures as plain text lines, for terminals or CI logs where a
full-screen UI is unwanted (`bulkx watch RUN_ID --plain`, `bulkx status RUN_ID --watch`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import typer

from bulkx.cli import exit_codes
from bulkx.defaults import journal_root
from bulkx.errors import JournalError
from bulkx.escaping import printable
from bulkx.journal import JournalReader, RunInfo, list_runs
from bulkx.tui.figures import figures, status_line
from bulkx.tui.source import JournalSource, RunSnapshot

#: A plain watch prints a line when a figure changes, and at least this often otherwise.
HEARTBEAT_SECONDS = 30.0


def run_exit_code(info: RunInfo, counts: dict[str, int] | None = None) -> int:
    """The exit code of a finished run: the one it recorded, or the one `bulkx apply` gives a
    run that ends this way (for runs whose process did not record one)."""
    if info.exit_code is not None:
        return info.exit_code
    counts = counts or {}
    if info.state == "cancelled":
        return exit_codes.INTERRUPTED
    if info.state == "interrupted":
        return exit_codes.RESUMABLE
    if info.state == "failed" or counts.get("failed") or counts.get("skipped"):
        return exit_codes.PARTIAL
    return exit_codes.OK


def _stalled(source: JournalSource, snapshot: RunSnapshot) -> bool:
    """Unfinished, and no process holds the run. Read again first: a run that has just ended
    releases its lock right after recording its final state."""
    if snapshot.writer_alive or figures(snapshot).finished:
        return False
    again = source.read(snapshot.read_at)
    return not again.writer_alive and not figures(again).finished


def watch_status(
    root: Path,
    run_id: str,
    stream: TextIO,
    interval: float = 1.0,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print a run's key figures as it goes, one line whenever they change; return the run's
    exit code once it has ended (5, resumable, for a run whose process died without ending it).

    Raises JournalError if the run cannot be read."""
    source = JournalSource(root, run_id, failures=0, events=20, samples=120)
    snapshot = source.read(clock())
    info = snapshot.info
    live = figures(snapshot).live_api
    # The plan's path and the target's label are data (a file name may hold ESC): escaped.
    stream.write(
        printable(
            f"run {run_id}: {info.plan_path} on {'LIVE API ' if live else ''}"
            f"{info.target_label}, started {info.created_at}"
        )
        + "\n"
    )
    shown: tuple[object, ...] | None = None
    shown_at = 0.0
    while True:
        numbers = figures(snapshot)
        flow = numbers.throughput
        signature = (numbers.state, numbers.total, flow.throttled_recently, flow.retries_recently)
        now = time.monotonic()
        if signature != shown or now - shown_at >= HEARTBEAT_SECONDS or numbers.finished:
            stamp = snapshot.read_at.strftime("%H:%M:%S")
            stream.write(f"{stamp} {status_line(snapshot, numbers)}\n")
            stream.flush()
            shown, shown_at = signature, now
        if numbers.finished:
            code = run_exit_code(snapshot.info, dict(snapshot.counts))
            stream.write(f"run {run_id} {snapshot.info.state}: exit {code}\n")
            if code == exit_codes.RESUMABLE:
                stream.write(f"`bulkx resume {run_id}` continues it\n")
            return code
        if _stalled(source, snapshot):
            stream.write(
                f"run {run_id}: no process is driving it any more (stopped without"
                f" finishing); `bulkx resume {run_id}` continues it\n"
            )
            return exit_codes.RESUMABLE
        sleep(interval)
        snapshot = source.read(clock())


def _pick_hint(root: Path) -> str:
    runs = list_runs(root)
    if not runs:
        return "no runs yet (bulkx apply starts one)"
    newest = "\n".join(f"  {r.run_id}  {r.state or 'unreadable'}" for r in runs[-10:])
    return f"name a run: bulkx watch RUN_ID\n{newest}"


def watch_command(
    run_id: str | None = typer.Argument(None, help="A run id from `bulkx runs` (default: pick)."),
    plain: bool = typer.Option(
        False, "--plain", help="Key figures as text lines, not the full-screen monitor."
    ),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between reads."),
) -> None:
    """Watch a run driven by another process; p/r/c pause, resume and cancel it, q detaches."""
    root = journal_root()
    text_only = plain or not sys.stdout.isatty()
    if run_id is None:
        if text_only:
            typer.echo(_pick_hint(root), err=True)
            raise typer.Exit(exit_codes.USAGE)
        from bulkx.tui.app import MonitorApp

        MonitorApp(root, None).run()
        return
    try:
        JournalReader.open(root, run_id).close()
    except JournalError as error:
        typer.echo(f"error: {error}" + (f"\n  hint: {error.hint}" if error.hint else ""), err=True)
        raise typer.Exit(exit_codes.USAGE) from None
    if text_only:
        try:
            code = watch_status(root, run_id, sys.stdout, interval)
        except JournalError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(exit_codes.ERROR) from None
        raise typer.Exit(code)
    from bulkx.tui import run_monitor

    run_monitor(root, run_id)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)
