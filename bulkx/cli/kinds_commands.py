"""`bulkx kinds [KIND]`: what a plan can name, and each field's type, allowed values and API
field (`bulkx.kinds.reference`, which also writes docs/kinds.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bulkx.cli import exit_codes
from bulkx.cli.failures import err
from bulkx.cli.output import (
    OUTPUT_FILE,
    format_option,
    output_stream,
    write_csv,
    write_json,
    write_jsonl,
    write_table,
)

KINDS_FORMATS = ("table", "json", "jsonl", "csv")


def _cell(value: Any) -> str:
    return "yes" if value is True else "" if value is False else str(value)


def kinds_command(
    kind: str | None = typer.Argument(None, metavar="[KIND]", help="One kind's fields."),
    output: str = format_option(KINDS_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
) -> None:
    """List the kinds a plan can name, or one kind's fields: type, required, allowed values,
    what an empty cell means, and the API field each maps to. -o json is a list of rows (as
    it always was); -o jsonl a header line, then a row per line."""
    from bulkx.kinds import KINDS
    from bulkx.kinds.reference import field_rows, kind_summary

    if kind is not None and kind not in KINDS:
        err(f"unknown kind {kind!r}; `bulkx kinds` lists them")
        raise typer.Exit(exit_codes.USAGE)
    if kind is None:
        rows = [kind_summary(k) for k in sorted(KINDS.values(), key=lambda k: k.name)]
        columns = ["kind", "api", "key", "can", "doc"]
    else:
        rows = field_rows(KINDS[kind])
        columns = ["field", "type", "required", "allowed", "empty", "api_field", "doc"]
    with output_stream(output_file) as out:
        if output == "json":
            write_json(out, rows)
        elif output == "jsonl":
            # A field's row has a `type` of its own (the field's): rows go as they are.
            write_jsonl(out, {"type": "kinds", "kind": kind}, None if kind else "kind", rows)
        elif output == "csv":
            write_csv(out, columns, rows)
        else:
            if kind is not None:
                out.write(f"{kind}: {KINDS[kind].doc.strip()}\n\n")
            write_table(out, columns, rows, _cell)


def register(app: typer.Typer) -> None:
    app.command("kinds")(kinds_command)
