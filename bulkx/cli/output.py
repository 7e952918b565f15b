"""One output convention for every command that prints data.

- `-o/--output FORMAT` is a format everywhere: `table` (for people; `text` is the same), `json`
  (one document with `schema_version`), `jsonl` (one object per line, a header line first),
  `csv`, `html` (a self-contained page: `plan` and `report`, rendered by `bulkx.audit`, whose
  Jinja2 is imported only then); each command offers the ones that fit it and refuses any
  other (exit 2, naming them).
- `--output-file FILE` writes the data to FILE instead of stdout, atomically: the file is
  complete or untouched (a temporary file beside it, renamed at the end).
- stdout carries only data; messages go to stderr.

`export -o PATH` and `lookup -o PATH` (a value that is not a format of theirs) still write the
file, with a deprecation note naming `--output-file`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import typer

from bulkx.cli import exit_codes
from bulkx.escaping import csv_writer, printable

TABLE = "table"
#: A page for people outside the terminal (`plan`, `report`): see `write_page`.
HTML = "html"
#: Other spellings of a format, accepted wherever the format is offered.
ALIASES = {"text": TABLE}
#: Every machine document and the header line of every JSON Lines stream carries this.
SCHEMA_VERSION = 1


def format_option(
    formats: Sequence[str], default: str | None, *, legacy_path: bool = False, help_extra: str = ""
) -> Any:
    """The `-o/--output FORMAT` option of a command offering `formats`. An unknown format is a
    usage error (exit 2) naming the choices; with `legacy_path`, any other value is let through
    as the file of the old `-o PATH` spelling (see `legacy_output_file`)."""
    choices = "|".join(formats)
    alias = "; text is the same as table" if TABLE in formats else ""

    def check(value: str | None) -> str | None:
        if value is None:  # not given, and no default: the command decides
            return None
        if ALIASES.get(value) in formats:
            value = ALIASES[value]
        if value in formats or legacy_path:
            return value
        raise typer.BadParameter(f"{value!r} is not a format of this command; choose {choices}")

    return typer.Option(
        default,
        "-o",
        "--output",
        metavar=choices,
        callback=check,
        show_default=False,
        help=f"Output format: {choices}{f' (default {default}{alias})' if default else ''}."
        + help_extra,
    )


def output_file_option() -> Any:
    """`--output-file FILE`: the same data, written to FILE (atomically) instead of stdout."""
    return typer.Option(
        None,
        "--output-file",
        metavar="FILE",
        show_default=False,
        dir_okay=False,
        help="Write the output to FILE instead of stdout (complete or not at all).",
    )


#: The one option that writes a command's data to a file (shared, as `bulkx.cli.options`' are).
OUTPUT_FILE = output_file_option()


def legacy_output_file(
    command: str, value: str, formats: Sequence[str], default: str, output_file: Path | None
) -> tuple[str, Path | None]:
    """(format, file) for a command whose `-o` once named a file: a value that is not one of
    `formats` is that file, with a deprecation note on stderr."""
    if value in formats:
        return value, output_file
    if output_file is not None:
        usage_error(
            f"-o {value!r} is not a format ({'|'.join(formats)}): name the file once,"
            " with --output-file"
        )
    typer.echo(
        printable(
            f"warning: `bulkx {command} -o {value}` is deprecated: write"
            f" `--output-file {value}` (-o names a format: {'|'.join(formats)})"
        ),
        err=True,
    )
    return default, Path(value)


def usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(exit_codes.USAGE)


@contextlib.contextmanager
def output_stream(path: Path | None) -> Iterator[TextIO]:
    """stdout, or FILE written atomically: a temporary file in its folder, renamed over it once
    everything is written (an error or Ctrl-C leaves FILE as it was). A path that cannot be
    written is a usage error."""
    if path is None:
        yield sys.stdout
        return
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        usage_error(f"cannot write {path}: {error.strerror or error}")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):  # no room left, a folder in the way, ...
            usage_error(f"cannot write {path}: {error.strerror or error}")
        raise
    typer.echo(printable(f"wrote {path}"), err=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(out: TextIO, document: Mapping[str, Any] | Sequence[Any]) -> None:
    out.write(json.dumps(document, indent=2, default=str) + "\n")


def write_jsonl(
    out: TextIO, header: Mapping[str, Any], kind: str | None, rows: Iterable[Mapping[str, Any]]
) -> None:
    """A header line (its `type`, then `schema_version`), then one object per line: each row
    with `"type": kind` first, or as it is (`kind` None: rows with a `type` field of their own,
    as a kind's fields have)."""
    head = {"type": header.get("type", "header"), "schema_version": SCHEMA_VERSION, **header}
    out.write(json.dumps(head, default=str) + "\n")
    for row in rows:
        line = row if kind is None else {"type": kind, **row}
        out.write(json.dumps(line, default=str) + "\n")


def write_page(output_file: Path | None, page: Callable[[], str]) -> None:
    """An HTML page (`-o html`) to stdout or FILE, rendered whole before a byte is written: a
    template error never leaves half a page."""
    text = page()
    with output_stream(output_file) as out:
        out.write(text)


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A header row, then a row per mapping; lists and objects as JSON, None as empty. The
    writer keeps cells a spreadsheet would run from running."""
    writer = csv_writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])


def write_table(
    out: TextIO,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    cell: Callable[[Any], str] | None = None,
) -> None:
    """Aligned columns for a terminal (the last one unpadded), values escaped."""
    show = cell or _cell
    cells = [[printable(show(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [[c.upper() for c in columns], *cells]
    for line in lines:
        head = [text.ljust(width) for text, width in zip(line[:-1], widths, strict=False)]
        out.write("  ".join([*head, line[-1]]).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)
