"""The `bulkx` command line. An edge: it parses options, calls the library, renders results."""

from __future__ import annotations

import contextlib
import os
import select
import sys

import typer

from bulkx import __version__
from bulkx.cli import (
    apply_commands,
    config_commands,
    demo,
    diff_commands,
    examples,
    exit_codes,
    kinds_commands,
    lookup_commands,
    plan_commands,
    report_commands,
    revert_commands,
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
revert_commands.register(app)
watch_commands.register(app)
lookup_commands.register(app)
config_commands.register(app)
kinds_commands.register(app)
examples.attach(app)


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
    code: int | str | None = exit_codes.OK
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = exit_codes.INTERRUPTED
    except SystemExit as stop:
        code = stop.code
    except BrokenPipeError:
        code = _stdout_gone(exit_codes.OK)
    # Click answers a write to a closed stdout by swapping the streams for quiet wrappers and
    # exiting 1: the reader (`bulkx report RUN | head`) took what it wanted, no failure of ours.
    if sys.stdout is not sys.__stdout__ and _reader_gone():
        code = _stdout_gone(exit_codes.OK)
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # Gone after the command ended (everything fitted in the buffer): keep its exit code,
        # an apply's above all, without Python's "Exception ignored" at shutdown.
        code = _stdout_gone(code)
    sys.exit(code)


def _reader_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more (poll reports an error on its end)."""
    try:
        poller = select.poll()
        poller.register(1, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _stdout_gone(code: int | str | None) -> int | str | None:
    """As the Python docs advise for SIGPIPE: point stdout at devnull, so that the flush at
    shutdown has nowhere to fail. SIGPIPE itself stays ignored (Python's default): a run in
    progress is never killed by its stdout reader going away."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    return code
