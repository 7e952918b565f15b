"""`bulkx runs` and `bulkx status`: what the journals say, read-only (safe while a run goes on).

The light commands: they read a journal and print it, so they start without the engine, the
API client or asyncio (tests/test_import_hygiene.py), well under the 0.3 s of issue 17.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bulkx.cli import exit_codes
from bulkx.cli.failures import err
from bulkx.cli.output import OUTPUT_FILE, format_option, output_stream
from bulkx.cli.report_commands import RUNS_FORMATS, STATUS_FORMATS, write_runs, write_status
from bulkx.defaults import journal_root, locate_run
from bulkx.errors import JournalError
from bulkx.journal import JournalReader, list_runs


def runs_command(
    output: str = format_option(RUNS_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
) -> None:
    """The runs journaled in this directory (.bulkx/runs), newest last. -o json:
    {"schema_version": 1, "runs": [...]}, each with its counts per state."""
    runs = list_runs(journal_root())
    if not runs:
        typer.echo("no runs yet (bulkx apply starts one)", err=True)
        if output == "table":
            return
    with output_stream(output_file) as out:
        write_runs(out, output, runs)


def status_command(
    run_id: str = typer.Argument(...),
    output: str = format_option(STATUS_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Keep printing the key figures as text lines until the run ends; exit with"
        " the run's exit code (for CI logs and terminals without the full-screen monitor).",
    ),
) -> None:
    """A run's state and counts, per step (read-only: safe while the run goes on)."""
    try:
        root, run_id = locate_run(run_id, journal_root())
    except JournalError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    if watch:
        _watch_status(root, run_id, output, output_file)
    try:
        reader = JournalReader.open(root, run_id)
    except JournalError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    with reader:
        info, counts = reader.run(), reader.counts()
        by_step, events = reader.counts_by_step(), reader.recent_events(5)
    with output_stream(output_file) as out:
        write_status(out, output, info, counts, by_step, events)


def _watch_status(root: Path, run_id: str, output: str, output_file: Path | None) -> None:
    """`status --watch`: text lines on stdout until the run ends; exits with its code."""
    from bulkx.cli.watch_commands import watch_status

    if output != "table" or output_file is not None:
        err("--watch prints text lines to stdout, without -o or --output-file")
        raise typer.Exit(exit_codes.USAGE)
    try:
        code = watch_status(root, run_id, sys.stdout)
    except JournalError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    except KeyboardInterrupt:
        raise typer.Exit(exit_codes.INTERRUPTED) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs_command)
    app.command("status")(status_command)
