"""`bulkx report RUN_ID`: what a run did, from its journal (so reports never disagree with it).

`-o csv`: every item with its outcome, created sid and what its answer said that a sending kind
keeps (a verification's code, a TTS file's URI). `--failed`: the failed items with their
plan columns and the error. `--retry`: the same items as a plan CSV (`# kind:` first line) to
apply again once the cause is fixed: exactly those items, nothing else.
"""

from __future__ import annotations

import json
import sys

import typer

from bulkx.cli import exit_codes
from bulkx.defaults import journal_root
from bulkx.errors import JournalError
from bulkx.escaping import csv_writer, printable
from bulkx.journal import JournalReader
from bulkx.report import NOT_SUCCEEDED, all_ops, failed_csv, plan_values


def report_command(
    run_id: str = typer.Argument(...),
    failed: bool = typer.Option(False, "--failed", help="Only the failed (and skipped) items."),
    retry: bool = typer.Option(False, "--retry", help="The failed items as a plan CSV."),
    output: str = typer.Option("csv", "-o", "--output", help="csv or json"),
) -> None:
    """Every item of a run with its outcome (csv: created sids; --failed: a retry plan)."""
    try:
        reader = JournalReader.open(journal_root(), run_id)
    except JournalError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(exit_codes.USAGE) from None
    with reader:
        records = [r for r in all_ops(reader) if not (failed or retry) or r.state in NOT_SUCCEEDED]
    if output == "json":
        document = {
            "schema_version": 1,
            "run_id": run_id,
            "items": [
                {"step": r.step, "kind": r.kind, "key": r.key, "action": r.action,
                 "state": r.state, "sid": r.remote_sid, "error": r.error,
                 "position": r.position, "attempts": r.attempts, "values": plan_values(r),
                 "result": r.result}
                for r in records
            ],
        }  # fmt: skip
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return
    if not (failed or retry):
        writer = csv_writer(sys.stdout)
        writer.writerow(
            ["step", "kind", "key", "action", "state", "sid", "position", "error", "result"]
        )
        for r in records:
            result = json.dumps(r.result, sort_keys=True) if r.result is not None else ""
            writer.writerow([r.step, r.kind, r.key, r.action, r.state, r.remote_sid or "",
                             r.position, r.error or "", result])  # fmt: skip
        return
    kinds = {r.kind for r in records}
    if not records:
        typer.echo("no failed items in this run", err=True)
        return
    if len(kinds) > 1:
        typer.echo(
            f"error: the failures span {len(kinds)} kinds ({', '.join(sorted(kinds))});"
            " use -o json, or filter per kind",
            err=True,
        )
        raise typer.Exit(exit_codes.USAGE)
    text = failed_csv(records, retry=retry)
    # On a terminal a person reads it: no byte of it may drive the terminal.
    sys.stdout.write(printable(text, keep_newlines=True) if sys.stdout.isatty() else text)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
