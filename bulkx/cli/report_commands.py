"""`bulkx report RUN_ID`: what a run did, from its journal (so reports never disagree with it).

`-o csv` (the default): every item with its outcome, created sid and what its answer said that a
sending kind keeps (a verification's code, a TTS file's URI). `--failed`: the failed items (and
those skipped because of a failure, or whose answer was lost) with their plan columns and the
error. `--not-attempted`: the items the run never reached. `--retry`: the selected items (the
failed ones unless `--not-attempted` says otherwise) as a plan CSV (`# kind:` first line) to
apply again once the cause is fixed: exactly those items, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from bulkx.cli import exit_codes
from bulkx.cli.options import ALLOW_FLAGS
from bulkx.cli.output import (
    HTML,
    OUTPUT_FILE,
    format_option,
    output_stream,
    usage_error,
    write_csv,
    write_json,
    write_jsonl,
    write_page,
)
from bulkx.defaults import journal_root
from bulkx.errors import JournalError
from bulkx.escaping import csv_writer, printable
from bulkx.journal import JournalReader

# bulkx.report (ruamel.yaml, the kinds, the plan model) is imported by the functions of
# `bulkx report`: `runs` and `status` write with this module and start without it.

if TYPE_CHECKING:
    from bulkx.journal import JournalEvent, Operation, RunInfo, RunSummary

REPORT_FORMATS = ("csv", "json", "jsonl", HTML)
CSV_COLUMNS = ("step", "kind", "key", "action", "state", "sid", "position", "error", "result")


def report_command(
    run_id: str = typer.Argument(...),
    failed: bool = typer.Option(
        False,
        "--failed",
        help="Only the failed items: failed, skipped because of a failure, or outcome unknown"
        " (never the items the run did not reach).",
    ),
    not_attempted: bool = typer.Option(
        False,
        "--not-attempted",
        help="Only the items the run never reached (pending, or cancelled before being sent);"
        " with --failed, both.",
    ),
    retry: bool = typer.Option(
        False, "--retry", help="The selected items (default: the failed ones) as a plan CSV."
    ),
    output: str = format_option(REPORT_FORMATS, "csv"),
    output_file: Path | None = OUTPUT_FILE,
) -> None:
    """Every item of a run with its outcome (csv: created sids; --failed: a plan CSV of the
    failed items with their error; --not-attempted: of the items the run never reached;
    --retry: the same without the error column, to apply again)."""
    from bulkx.report import all_ops

    try:
        reader = JournalReader.open(journal_root(), run_id)
    except JournalError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(exit_codes.USAGE) from None
    if output == HTML:
        _write_page(reader, output_file, selected=failed or not_attempted or retry)
        return
    states = _selected_states(failed or (retry and not not_attempted), not_attempted)
    with reader:
        records = [r for r in all_ops(reader) if states is None or r.state in states]
    if output in ("json", "jsonl"):
        with output_stream(output_file) as out:
            _write_items(out, output, run_id, records)
        return
    if states is None:
        with output_stream(output_file) as out:
            _write_csv(out, records)
        return
    _write_plan_csv(
        records, retry=retry, not_attempted=not_attempted and not failed, output_file=output_file
    )


def _write_page(reader: JournalReader, output_file: Path | None, *, selected: bool) -> None:
    """The run's page (`bulkx.audit.run_page`): the whole run, from its journal alone."""
    from bulkx.audit.run_page import run_page

    with reader:
        if selected:
            usage_error(
                "-o html reports the whole run; --failed, --not-attempted and --retry"
                " select items as csv, json or jsonl"
            )
        write_page(output_file, lambda: run_page(reader, ALLOW_FLAGS))


def _selected_states(failed: bool, not_attempted: bool) -> frozenset[str] | None:
    """The states the options select; None: every item."""
    from bulkx.report import FAILED, NOT_ATTEMPTED

    if not (failed or not_attempted):
        return None
    return (FAILED if failed else frozenset()) | (NOT_ATTEMPTED if not_attempted else frozenset())


def _item(record: Operation) -> dict[str, Any]:
    from bulkx.report import plan_values

    return {
        "step": record.step,
        "kind": record.kind,
        "key": record.key,
        "action": record.action,
        "state": record.state,
        "sid": record.remote_sid,
        "error": record.error,
        "position": record.position,
        "attempts": record.attempts,
        "values": plan_values(record),
        "result": record.result,
    }


def _write_items(out: TextIO, fmt: str, run_id: str, records: Sequence[Operation]) -> None:
    if fmt == "jsonl":
        write_jsonl(out, {"type": "report", "run_id": run_id}, "item", map(_item, records))
        return
    write_json(out, {"schema_version": 1, "run_id": run_id, "items": [_item(r) for r in records]})


def _write_csv(out: TextIO, records: Sequence[Operation]) -> None:
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in records:
        result = json.dumps(r.result, sort_keys=True) if r.result is not None else ""
        writer.writerow(
            [
                r.step,
                r.kind,
                r.key,
                r.action,
                r.state,
                r.remote_sid or "",
                r.position,
                r.error or "",
                result,
            ]
        )


def _write_plan_csv(
    records: Sequence[Operation], *, retry: bool, not_attempted: bool, output_file: Path | None
) -> None:
    """`--failed`, `--not-attempted`, `--retry`: a plan CSV of ONE kind."""
    from bulkx.report import failed_csv, has_rentals, retry_plan_yaml

    if not records:
        what = "items the run did not reach" if not_attempted else "failed items"
        typer.echo(f"no {what} in this run", err=True)
        return
    if retry and has_rentals(records):  # a rental has no key a CSV could name: a YAML plan
        with output_stream(output_file) as out:
            text = retry_plan_yaml(records)
            out.write(printable(text, keep_newlines=True) if out.isatty() else text)
        return
    kinds = {r.kind for r in records}
    if len(kinds) > 1:
        typer.echo(
            f"error: the items span {len(kinds)} kinds ({', '.join(sorted(kinds))});"
            " use -o json, or filter per kind",
            err=True,
        )
        raise typer.Exit(exit_codes.USAGE)
    text = failed_csv(records, retry=retry)
    with output_stream(output_file) as out:
        # On a terminal a person reads it: no byte of it may drive the terminal.
        out.write(printable(text, keep_newlines=True) if out.isatty() else text)


RUNS_FORMATS = ("table", "json", "jsonl", "csv")
STATUS_FORMATS = ("table", "json")
RUNS_CSV_COLUMNS = (
    "run_id",
    "state",
    "created_at",
    "succeeded",
    "failed",
    "skipped",
    "unknown",
    "pending",
    "total",
    "plan",
    "target",
    "error",
)


def _run_row(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state,
        "created_at": run.created_at,
        "plan": run.plan_path,
        "target": run.target_label,
        "is_sandbox": run.is_sandbox,
        "counts": dict(run.counts or {}),
        "path": run.path,
        "error": run.error,
    }


def _run_csv_row(run: RunSummary) -> dict[str, Any]:
    counts = dict(run.counts or {})
    row = {state: counts.get(state, 0) for state in RUNS_CSV_COLUMNS[3:8]}
    return {**_run_row(run), **row, "total": sum(counts.values())}


def _run_line(run: RunSummary) -> str:
    if run.error:
        return printable(f"{run.run_id}  unreadable: {run.error}")
    counts = run.counts or {}
    done = counts.get("succeeded", 0)
    left = counts.get("pending", 0) + counts.get("unknown", 0) + counts.get("in_flight", 0)
    return printable(
        f"{run.run_id}  {run.state:<11} {done}/{sum(counts.values())} done,"
        f" {counts.get('failed', 0)} failed, {left} left  {run.plan_path}  [{run.target_label}]"
    )


def write_runs(out: TextIO, fmt: str, runs: Sequence[RunSummary]) -> None:
    """`bulkx runs` in one of `RUNS_FORMATS` (json: `{"schema_version": 1, "runs": [...]}`)."""
    if fmt == "json":
        write_json(out, {"schema_version": 1, "runs": [_run_row(r) for r in runs]})
    elif fmt == "jsonl":
        write_jsonl(out, {"type": "runs"}, "run", map(_run_row, runs))
    elif fmt == "csv":
        write_csv(out, RUNS_CSV_COLUMNS, map(_run_csv_row, runs))
    else:
        for run in runs:
            out.write(_run_line(run) + "\n")


def write_status(
    out: TextIO,
    fmt: str,
    info: RunInfo,
    counts: dict[str, int],
    by_step: Mapping[str, Mapping[str, int]],
    events: Sequence[JournalEvent],
) -> None:
    """`bulkx status RUN_ID` in one of `STATUS_FORMATS`."""
    if fmt == "json":
        write_json(
            out,
            {
                "schema_version": 1,
                "run_id": info.run_id,
                "state": info.state,
                "plan": info.plan_path,
                "target": info.target_label,
                "created_at": info.created_at,
                "finished_at": info.finished_at,
                "exit_code": info.exit_code,
                "counts": counts,
                "steps": by_step,
            },
        )
        return
    failed = counts.get("failed", 0) + counts.get("skipped", 0)
    exit_note = f", exit {info.exit_code}" if info.exit_code is not None else ""
    out.write(
        printable(
            f"run {info.run_id}: {info.state}{exit_note}\n  plan   {info.plan_path}\n"
            f"  target {info.target_label}\n  started {info.created_at}"
            + (f", finished {info.finished_at}" if info.finished_at else "")
            + f"\n  {counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed,"
            f" {counts.get('skipped', 0)} skipped of {sum(counts.values())}"
            + (f"  (failures: bulkx report {info.run_id} --failed)" if failed else ""),
            keep_newlines=True,
        )
        + "\n\n"
    )
    states = [
        s
        for s in ("succeeded", "failed", "skipped", "unknown", "in_flight", "pending", "cancelled")
        if counts.get(s)
    ]
    out.write("  " + "step".ljust(24) + "".join(s.rjust(11) for s in states) + "\n")
    for step, per in by_step.items():
        cells = "".join(str(per.get(state, 0)).rjust(11) for state in states)
        out.write("  " + printable(step[:23]).ljust(24) + cells + "\n")
    for event in events:
        out.write(printable(f"  {event.at} {event.level}: {event.message}") + "\n")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
