"""The `bulkx` command line. An edge: it parses options, calls the library, renders results."""

from __future__ import annotations

import sys

import typer

from bulkx import __version__
from bulkx.cli import (
    apply_commands,
    config_commands,
    demo,
    diff_commands,
    kinds_commands,
    lookup_commands,
    plan_commands,
    report_commands,
    sandbox,
    watch_commands,
)

app = typer.Typer(
    name="bulkx",
    help="Plan, diff, apply and resume bulk changes against the CarrierX APIs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help, as gh and kubectl print it: rich's formatter alone costs ~70 ms of every
    # `--help` and usage error.
    rich_markup_mode=None,
    epilog=(
        "Exit codes: 0 done (or nothing to do); 1 unexpected error; 2 usage or invalid plan;"
        " 3 finished, some items failed; 4 authentication; 5 stopped, resumable;"
        " 6 environment (port in use, run locked, unsafe token file); 130 interrupted."
    ),
)
app.add_typer(sandbox.app, name="sandbox")
app.command("demo")(demo.demo)
plan_commands.register(app)
diff_commands.register(app)
apply_commands.register(app)
report_commands.register(app)
watch_commands.register(app)
lookup_commands.register(app)
config_commands.register(app)
kinds_commands.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bulkx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Plan, diff, apply and resume bulk changes against the CarrierX APIs."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
