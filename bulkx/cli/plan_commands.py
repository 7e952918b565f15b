"""`bulkx validate` and `bulkx schema`: offline checks of plan files."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bulkx.cli import exit_codes
from bulkx.cli.output import OUTPUT_FILE, format_option, output_stream, write_jsonl
from bulkx.errors import BulkxError
from bulkx.escaping import printable

if TYPE_CHECKING:
    from bulkx.plan.model import Diagnostic

JSON_SCHEMA_VERSION = 1


#: table: every problem as file:line:column; json: one document; jsonl: a header line (valid,
#: summary), then a diagnostic per line.
VALIDATE_FORMATS = ("table", "json", "jsonl")


def check_plan(path: str, kind: str | None) -> tuple[list[Diagnostic], int]:
    """Every diagnostic of the plan at `path`, and how many items it has."""
    # The plan machinery (polars, the YAML parser) is imported when a plan is read, not for
    # every command's start-up.
    from bulkx.plan.load import load_plan
    from bulkx.plan.validate import sort_diagnostics, validate

    plan, diagnostics = load_plan(path, kind=kind)
    items = 0
    if plan is not None:
        _, found = validate(plan)  # only its diagnostics: nothing is diffed here
        diagnostics = diagnostics + found
        items = sum(len(s) + (s.count or 0) for s in plan.steps)
    return sort_diagnostics(diagnostics), items


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    counts = Counter(d.severity for d in diagnostics)
    files = {d.position.file for d in diagnostics}
    return {
        "errors": counts.get("error", 0),
        "warnings": counts.get("warning", 0),
        "files": len(files),
    }


def render_text(diagnostics: list[Diagnostic], items: int) -> str:
    lines = []
    for d in diagnostics:
        label = "" if d.severity == "error" else f"{d.severity}: "
        # Messages quote the plan's own text (file names, values): escaped for the terminal.
        lines.append(printable(f"{d.position}: {label}{d.message} [{d.code}]"))
        if d.hint:
            lines.append(f"  hint: {printable(d.hint, keep_newlines=True)}")
    s = summary(diagnostics)
    if not diagnostics:
        lines.append(f"plan is valid ({_plural(items, 'item')})")
    else:
        lines.append(
            f"{_plural(s['errors'], 'error')}, {_plural(s['warnings'], 'warning')} "
            f"in {_plural(s['files'], 'file')}"
        )
    return "\n".join(lines)


def validate_command(
    plan: str = typer.Argument(..., help="A YAML plan, or a CSV plan of one kind."),
    kind: str | None = typer.Option(None, "--kind", help="The kind of a CSV plan (e.g. did)."),
    output: str = format_option(VALIDATE_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
) -> None:
    """Check a plan offline: every problem at once, as file:line:column with a hint."""
    try:
        diagnostics, items = check_plan(plan, kind)
    except (BulkxError, OSError) as exc:
        sys.stderr.write(f"bulkx validate: error: {printable(str(exc))}\n")
        raise typer.Exit(exit_codes.ERROR) from None
    valid = not any(d.severity == "error" for d in diagnostics)
    head = {"valid": valid, "plan": plan, "items": items}
    with output_stream(output_file) as out:
        if output == "json":
            document = {
                "schema_version": JSON_SCHEMA_VERSION,
                **head,
                "diagnostics": [d.as_dict() for d in diagnostics],
                "summary": summary(diagnostics),
            }
            out.write(json.dumps(document, indent=2) + "\n")
        elif output == "jsonl":
            rows = (d.as_dict() for d in diagnostics)
            header = {"type": "validation", **head, "summary": summary(diagnostics)}
            write_jsonl(out, header, "diagnostic", rows)
        else:
            out.write(render_text(diagnostics, items) + "\n")
    raise typer.Exit(exit_codes.OK if valid else exit_codes.USAGE)


def schema_command() -> None:
    """Print the JSON Schema of plan files (for editors: bulkx schema > plan.schema.json)."""
    from bulkx.plan.jsonschema import plan_schema

    typer.echo(json.dumps(plan_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
    app.command("schema")(schema_command)
