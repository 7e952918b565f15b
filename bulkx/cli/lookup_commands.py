"""`bulkx lookup FILE.csv`: a port-in pre-check report, one row per number of the file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.api.loop import run as run_on_loop
from bulkx.cli import exit_codes
from bulkx.cli.failures import guarded
from bulkx.cli.options import BASE_URL, PROFILE, SANDBOX_DB, TOKEN_FILE
from bulkx.cli.output import (
    OUTPUT_FILE,
    SCHEMA_VERSION,
    format_option,
    legacy_output_file,
    output_stream,
    write_csv,
    write_json,
    write_jsonl,
)
from bulkx.cli.profile_edge import target_options
from bulkx.engine.targets import open_client

if TYPE_CHECKING:
    from bulkx.lookups import LookupRow

#: csv: the pre-check report (a column per answer); json, jsonl: the same rows as objects.
LOOKUP_FORMATS = ("csv", "json", "jsonl")


def read_numbers(path: Path, column: str | None) -> list[tuple[int, str]]:
    """(line, text) of each number in the file; a plan CSV's `# kind:` line is skipped."""
    import polars as pl  # imported by the command that reads a file, not at start-up

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"cannot read {path}: {error}") from None
    skipped = 1 if lines and lines[0].startswith("#") else 0
    body = "\n".join(lines[skipped:])
    if not body.strip():
        raise typer.BadParameter(f"{path} has no rows")
    frame = pl.read_csv(body.encode(), infer_schema=False)
    name = column or ("phonenumber" if "phonenumber" in frame.columns else frame.columns[0])
    if name not in frame.columns:
        raise typer.BadParameter(f"{path} has no column {name!r} (it has {frame.columns})")
    first_row_line = skipped + 2  # the header takes a line
    return [
        (first_row_line + i, value or "")
        for i, value in enumerate(frame.get_column(name).to_list())
    ]


def lookup_command(
    file: Path = typer.Argument(..., help="A CSV of numbers (a plan CSV works too)."),
    column: str | None = typer.Option(
        None,
        "--column",
        help="The column holding the numbers (default: phonenumber, else the first).",
    ),
    rates: bool = typer.Option(
        False, "--rates", help="Also rate a minute of inbound and outbound calling."
    ),
    output: str = format_option(
        LOOKUP_FORMATS,
        "csv",
        legacy_path=True,
        help_extra=" -o FILE still writes FILE (deprecated: --output-file).",
    ),
    output_file: Path | None = OUTPUT_FILE,
    concurrency: int = typer.Option(
        8, "--concurrency", min=1, max=64, help="Lookups in flight at once."
    ),
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Look every number of FILE up before a port-in: valid, already on the account, carrier and
    line type, CNAM, LRN, toll-free RespOrg, and with --rates the per-minute rates."""
    output, output_file = legacy_output_file("lookup", output, LOOKUP_FORMATS, "csv", output_file)
    inputs = read_numbers(file, column)
    from bulkx.lookups import COLUMNS, Lookups

    options = target_options(profile, base_url, token_file, sandbox_db)

    async def run() -> list[LookupRow]:
        async with open_client(options) as client:
            return await Lookups(client, concurrency=concurrency, rates=rates).run(inputs)

    rows = guarded(lambda: run_on_loop(run()))
    with output_stream(output_file) as out:
        if output == "json":
            write_json(
                out,
                {
                    "schema_version": SCHEMA_VERSION,
                    "file": str(file),
                    "numbers": [row.as_dict() for row in rows],
                },
            )
        elif output == "jsonl":
            write_jsonl(
                out,
                {"type": "lookup", "file": str(file)},
                "number",
                (row.as_dict() for row in rows),
            )
        else:  # CNAM and carrier names come from the API: data, no cell a spreadsheet runs
            write_csv(out, COLUMNS, (row.as_dict() for row in rows))
    _summarise(rows, file)
    raise typer.Exit(exit_codes.PARTIAL if any(r.error for r in rows) else exit_codes.OK)


def _summarise(rows: list[LookupRow], file: Path) -> None:
    invalid = sum(1 for r in rows if not r.valid)
    owned = sum(1 for r in rows if r.on_account)
    unknown = sum(1 for r in rows if r.valid and r.error)
    typer.echo(
        f"{len(rows)} number(s) in {file}: {invalid} invalid, {owned} already on the account,"
        f" {unknown} the lookup could not answer",
        err=True,
    )
    carriers = Counter(f"{r.carrier} ({r.line_type})" for r in rows if r.carrier)
    for name, count in carriers.most_common(5):
        typer.echo(f"  {count:>6}  {name}", err=True)
    toll_free = [r for r in rows if r.resporg]
    if toll_free:
        orgs = Counter(r.resporg for r in toll_free)
        listed = ", ".join(f"{org} x{n}" for org, n in orgs.most_common(5))
        typer.echo(f"  toll-free: {len(toll_free)} (RespOrg {listed})", err=True)
    for row in [r for r in rows if r.error][:10]:
        typer.echo(f"{file}:{row.line}: {row.input!r}: {row.error}", err=True)


def register(app: typer.Typer) -> None:
    app.command("lookup")(lookup_command)
