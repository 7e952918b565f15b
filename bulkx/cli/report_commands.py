"""`bulkx report RUN_ID`: what a run did, from its journal (so reports never disagree with it).

`-o csv`: every item with its outcome and created sid. `--failed`: the failed items with their
plan columns and the error. `--retry`: the same items as a plan CSV (`# kind:` first line) to
apply again once the cause is fixed: exactly those items, nothing else.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from typing import Any

import typer

from bulkx.cli import exit_codes
from bulkx.engine.journal_ledger import journal_root
from bulkx.errors import JournalError
from bulkx.journal import JournalReader, OpRecord
from bulkx.resources import KINDS


def _all_ops(reader: JournalReader, state: str | None) -> Iterator[OpRecord]:
    after: int | None = None
    while True:
        page = reader.ops(state, limit=5000, after_op_id=after)
        yield from page
        if len(page) < 5000:
            return
        after = page[-1].op_id


def _plan_values(record: OpRecord) -> dict[str, Any]:
    change = record.request
    values = dict(change.get("values") or change.get("template") or {})
    kind = KINDS[record.kind]
    if kind.key not in values and record.action not in ("rent",):
        values[kind.key] = record.key
    return values


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
        records = [
            r
            for r in _all_ops(reader, None)
            if not (failed or retry) or r.state in ("failed", "skipped", "unknown", "pending")
        ]
    if output == "json":
        document = {
            "schema_version": 1,
            "run_id": run_id,
            "items": [
                {"step": r.step, "kind": r.kind, "key": r.key, "action": r.action,
                 "state": r.state, "sid": r.remote_sid, "error": r.error,
                 "position": r.position, "attempts": r.attempts, "values": _plan_values(r)}
                for r in records
            ],
        }  # fmt: skip
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return
    if not (failed or retry):
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["step", "kind", "key", "action", "state", "sid", "position", "error"])
        for r in records:
            writer.writerow([r.step, r.kind, r.key, r.action, r.state, r.remote_sid or "",
                             r.position, r.error or ""])  # fmt: skip
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
    kind = KINDS[kinds.pop()]
    rows = [_plan_values(r) for r in records]
    columns = [f.name for f in kind.fields if any(f.name in row for row in rows)]
    sys.stdout.write(f"# kind: {kind.name}\n")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns if retry else [*columns, "error"])
    for r, row in zip(records, rows, strict=True):
        cells = ["" if row.get(c) is None else _cell(row[c]) for c in columns]
        writer.writerow(cells if retry else [*cells, (r.error or r.state).replace("\n", " ")])


def _cell(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
