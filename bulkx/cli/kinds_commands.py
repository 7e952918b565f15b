"""`bulkx kinds [KIND]`: what a plan can name, and each field's type, allowed values and API
field (`bulkx.resources.reference`, which also writes docs/kinds.md)."""

from __future__ import annotations

import json
from typing import Any

import typer

from bulkx.cli import exit_codes
from bulkx.cli.failures import err


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    def cell(value: Any) -> str:
        return "yes" if value is True else "" if value is False else str(value)

    widths = {c: max([len(c), *(len(cell(r[c])) for r in rows)]) for c in columns[:-1]}
    lines = ["  ".join([*(c.upper().ljust(widths[c]) for c in columns[:-1]), columns[-1].upper()])]
    for row in rows:
        head = [cell(row[c]).ljust(widths[c]) for c in columns[:-1]]
        lines.append("  ".join([*head, cell(row[columns[-1]])]).rstrip())
    return lines


def kinds_command(
    kind: str | None = typer.Argument(None, metavar="[KIND]", help="One kind's fields."),
    output: str = typer.Option("table", "--output", "-o", metavar="table|json"),
) -> None:
    """List the kinds a plan can name, or one kind's fields: type, required, allowed values,
    what an empty cell means, and the API field each maps to.

    Examples:
      bulkx kinds
      bulkx kinds did_emergency
      bulkx kinds trunk -o json
    """
    from bulkx.resources import KINDS
    from bulkx.resources.reference import field_rows, kind_summary

    if output not in ("table", "json"):
        err(f"-o takes table or json, not {output!r}")
        raise typer.Exit(exit_codes.USAGE)
    if kind is not None and kind not in KINDS:
        err(f"unknown kind {kind!r}; `bulkx kinds` lists them")
        raise typer.Exit(exit_codes.USAGE)
    if kind is None:
        rows = [kind_summary(k) for k in sorted(KINDS.values(), key=lambda k: k.name)]
        columns = ["kind", "api", "key", "can", "doc"]
    else:
        rows = field_rows(KINDS[kind])
        columns = ["field", "type", "required", "allowed", "empty", "api_field", "doc"]
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if kind is not None:
        typer.echo(f"{kind}: {KINDS[kind].doc.strip()}\n")
    for line in _table(rows, columns):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("kinds")(kinds_command)
