"""The `bulkx` command line. An edge: it parses options, calls the library, renders results.

Commands are imported on demand: the root group knows each command's module and one-line help
(`COMMANDS`), so `bulkx --help` and `--version` import no command module, and `bulkx runs`
imports only the module that defines it (and what that module needs), not the sandbox, the
monitor or the API client of the others.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import sys
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple

import typer
import typer.core
import typer.main

from bulkx import __version__
from bulkx.cli import examples, exit_codes

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


class Entry(NamedTuple):
    """Where a command is defined, and its one line in `bulkx --help`."""

    module: str
    help: str


#: Command -> its module under bulkx.cli and its one-line help, in `--help` order. The line
#: must be the first sentence of the command's own help (tests/test_import_hygiene.py compares
#: them), so that `bulkx --help` prints the same with or without the modules imported.
COMMANDS: dict[str, Entry] = {
    "demo": Entry(
        "demo",
        "Port-in rehearsal on the embedded sandbox: seed, validate, plan, apply, verify; a"
        " summary.",
    ),
    "validate": Entry(
        "plan_commands",
        "Check a plan offline: every problem at once, as file:line:column with a hint.",
    ),
    "schema": Entry(
        "plan_commands",
        "Print the JSON Schema of plan files (for editors: bulkx schema > plan.schema.json).",
    ),
    "plan": Entry("diff_commands", "Show what applying PLAN would change, against live state."),
    "audit": Entry(
        "diff_commands",
        "Read-only drift check: exit 0 when live state matches PLAN, 2 when it drifted.",
    ),
    "export": Entry(
        "diff_commands",
        "Write live objects of KIND as a plan CSV (`# kind:` line first): a backup to revert"
        " to, or a plan to adopt them in bulk.",
    ),
    "apply": Entry(
        "apply_commands",
        "Apply PLAN (or a changeset saved by `bulkx plan --save`), journaled and resumable.",
    ),
    "resume": Entry(
        "apply_commands",
        "Continue a stopped run from its journal alone (no plan file, any directory): the"
        " options it was applied with, unless given again here; unknown outcomes are looked"
        " up first.",
    ),
    "runs": Entry(
        "runs_commands", "The runs journaled in this directory (.bulkx/runs), newest last."
    ),
    "status": Entry(
        "runs_commands",
        "A run's state and counts, per step (read-only: safe while the run goes on).",
    ),
    "report": Entry(
        "report_commands",
        "Every item of a run with its outcome (csv: created sids; --failed: a plan CSV of the"
        " failed items with their error; --not-attempted: of the items the run never reached;"
        " --retry: the same without the error column, to apply again).",
    ),
    "revert": Entry(
        "revert_commands",
        "Write a plan that undoes a run: updates set back to the values before it, creates"
        " and rents removed (ensure: absent).",
    ),
    "watch": Entry(
        "watch_commands",
        "Watch a run driven by another process; p/r/c pause, resume and cancel it, q detaches.",
    ),
    "lookup": Entry(
        "lookup_commands",
        "Look every number of FILE up before a port-in: valid, already on the account,"
        " carrier and line type, CNAM, LRN, toll-free RespOrg, and with --rates the per-minute"
        " rates.",
    ),
    "kinds": Entry(
        "kinds_commands",
        "List the kinds a plan can name, or one kind's fields: type, required, allowed values,"
        " what an empty cell means, and the API field each maps to.",
    ),
    "sandbox": Entry(
        "sandbox", "The embedded CarrierX sandbox: a local emulator of the CarrierX REST APIs."
    ),
    "config": Entry(
        "config_commands",
        "Show each effective setting (flag, env, profile file or default) and its source, and"
        " the rate limits remembered per target (a run starts at the pace the last one"
        " learned).",
    ),
}

#: Plain help, as gh and kubectl print it: rich's formatter alone costs ~70 ms of every
#: `--help` and usage error.
HELP_MARKUP = None


def _commands_of(module_name: str) -> dict[str, Command]:
    """Import bulkx.cli.MODULE and build the commands it registers, Examples included."""
    module = importlib.import_module(f"bulkx.cli.{module_name}")
    holder = typer.Typer(rich_markup_mode=HELP_MARKUP, add_completion=False)
    if module_name == "demo":  # one command, no register()
        holder.command("demo")(module.demo)
    else:
        module.register(holder)
    examples.attach(holder)
    return dict(typer.main.get_group(holder).commands)


def _without_pydantic(command: Command, ctx: Context) -> None:
    """Coerce plain values of `command` without typer's pydantic path (see plain_params)."""
    try:
        from bulkx.cli.plain_params import prime
    except ImportError:  # a typer without those internals: its own coercion throughout
        return
    prime(command, ctx)


class CommandsOnDemand(MutableMapping[str, "Command"]):
    """The root group's commands: each module is imported the first time one of its commands
    is looked up (to run it, show its help or complete it)."""

    def __init__(self, given: MutableMapping[str, Command]) -> None:
        self._built: dict[str, Command] = dict(given)

    def is_built(self, name: str) -> bool:
        return name in self._built

    def __getitem__(self, name: str) -> Command:
        if name not in self._built and name in COMMANDS:
            self._built.update(_commands_of(COMMANDS[name].module))
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._built if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built


class LazyGroup(typer.core.TyperGroup):
    """The root `bulkx` group, its commands built on demand (`CommandsOnDemand`)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.commands = CommandsOnDemand(self.commands)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        _without_pydantic(self, ctx)
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            _without_pydantic(command, ctx)
        return name, command, rest

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """As TyperGroup lists them, with the one-line help of `COMMANDS` for the commands
        not built yet: listing them imports nothing."""
        assert isinstance(self.commands, CommandsOnDemand)
        shown: list[tuple[str, Command]] = []
        for name in self.list_commands(ctx):
            if self.commands.is_built(name) or name not in COMMANDS:
                command = self.commands[name]
            else:
                command = typer.core.TyperCommand(name, help=COMMANDS[name].help)
            if not command.hidden:
                shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in shown])


app = typer.Typer(
    name="bulkx",
    cls=LazyGroup,
    help="Plan, diff, apply and resume bulk changes against the CarrierX APIs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=HELP_MARKUP,
    epilog=(
        "Exit codes: 0 done (or nothing to do); 1 unexpected error; 2 usage or invalid plan;"
        " 3 finished, some items failed; 4 authentication; 5 stopped, resumable;"
        " 6 environment (port in use, run locked, unsafe token file); 130 interrupted."
    ),
)


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
