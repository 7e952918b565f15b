"""`bulkx revert RUN_ID`: the plan that undoes a run, written from its journal after live
state is checked against what the run set. The work is `bulkx.engine.revert*`; this edge
parses options, says what was left out, and picks the exit code."""

from __future__ import annotations

import shlex
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.api.loop import run as run_on_loop
from bulkx.cli import exit_codes
from bulkx.cli.failures import err, guarded
from bulkx.cli.options import TOKEN_FILE, allow_flags
from bulkx.cli.output import OUTPUT_FILE, output_stream
from bulkx.defaults import journal_root, locate_run
from bulkx.errors import JournalError
from bulkx.escaping import printable

if TYPE_CHECKING:
    from bulkx.engine.revert import Revert
    from bulkx.engine.run import RunOptions
    from bulkx.journal import JournalReader

#: Run states with a process still driving the run: its journal is still being written.
_DRIVEN = ("preparing", "planned", "running", "paused")
_SHOWN = 20


def _say(line: str) -> None:
    typer.echo(printable(line), err=True)


def _open(name: str) -> JournalReader:
    from bulkx.journal import JournalReader

    try:
        root, run_id = locate_run(name, journal_root())
        return JournalReader.open(root, run_id)
    except JournalError as error:
        err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.USAGE) from None


def _options(reader: JournalReader, token_file: Path | None) -> RunOptions:
    from bulkx.engine.run import RunOptions

    info = reader.run()
    if info.state in _DRIVEN:
        err(f"run {info.run_id} is still {info.state}: revert it once it has ended")
        raise typer.Exit(exit_codes.ENVIRONMENT)
    options = RunOptions.from_dict(info.options)
    return replace(options, token_file=str(token_file)) if token_file else options


async def _made(reader: JournalReader, options: RunOptions, force: bool) -> Revert:
    from bulkx.engine.read_policy import for_run
    from bulkx.engine.revert_drift import make_revert
    from bulkx.engine.targets import open_client

    target = options.target
    async with open_client(target) as client:
        policed = for_run(client, outage_after=options.outage_after)
        return await make_revert(reader, policed, target=target.describe(), force=force)


def _apply_hint(revert: Revert, options: RunOptions, output_file: Path | None) -> str:
    flags = allow_flags(revert.allowances())
    words = ["bulkx", "apply", str(output_file or "THIS_FILE"), *flags]
    if options.base_url:
        words += ["--base-url", options.base_url]
    else:
        words += ["--sandbox-db", options.sandbox_db]
    if options.via == "batch":
        words += ["--via", "batch"]
    return shlex.join(words)


def _report(revert: Revert, partial: bool) -> None:
    """On stderr: what drifted, what cannot be undone."""
    if revert.drifted:
        what = (
            "set back all the same (--force)"
            if revert.forced
            else "left out (--force includes them)"
        )
        _say(
            f"drift: {len(revert.drifted)} item(s) changed since run {revert.run_id} by"
            f" someone else, {what}:"
        )
        for item in revert.drifted[:_SHOWN]:
            _say(f"  {item.kind} {item.key} (step {item.step})")
        if len(revert.drifted) > _SHOWN:
            _say(f"  ... and {len(revert.drifted) - _SHOWN} more")
    if revert.irreversible:
        tail = (
            "listed in the plan's header" if partial else "--partial writes the plan without them"
        )
        _say(
            f"{len(revert.irreversible)} operation(s) of run {revert.run_id} cannot be undone"
            f" ({tail}):"
        )
        for cannot in revert.irreversible[:_SHOWN]:
            _say(f"  {cannot.kind} {cannot.key}: {cannot.reason}")
        if len(revert.irreversible) > _SHOWN:
            _say(f"  ... and {len(revert.irreversible) - _SHOWN} more")
    if revert.unsettled:
        _say(
            f"warning: {revert.unsettled} operation(s) of the run are not settled (pending or"
            f" outcome unknown): they are not undone; `bulkx resume {revert.run_id}` first"
        )


def revert_command(
    run_name: str = typer.Argument(
        ..., metavar="RUN_ID|JOURNAL", help="A run id from `bulkx runs`, or a journal's path."
    ),
    output_file: Path | None = OUTPUT_FILE,
    partial: bool = typer.Option(
        False,
        "--partial",
        help="Write the plan even if some of the run (releases, deletes,"
        " sends) cannot be undone; they are listed in its header.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Set back items changed since the run by someone else too."
    ),
    token_file: Path | None = TOKEN_FILE,
) -> None:
    """Write a plan that undoes a run: updates set back to the values before it, creates and
    rents removed (ensure: absent). Releases, deletes and sends cannot be undone: exit 3
    unless --partial. Items changed since by someone else are left out unless --force."""
    from bulkx.engine.revert_drift import checked_text

    reader = _open(run_name)
    try:
        options = _options(reader, token_file)
        revert = guarded(
            lambda: run_on_loop(_made(reader, options, force)), doing="reading live state"
        )
    finally:
        reader.close()
    _report(revert, partial)
    if revert.irreversible and not partial:
        err("nothing written: the plan would undo only part of the run")
        raise typer.Exit(exit_codes.PARTIAL)
    made_at = datetime.now(UTC).isoformat(timespec="seconds")
    hint = _apply_hint(revert, options, output_file)
    text = guarded(lambda: checked_text(revert, made_at=made_at, apply_hint=hint))
    with output_stream(output_file) as out:  # a file is written whole or not at all
        out.write(text)
    where = f" to {output_file}" if output_file else ""
    _say(
        f"revert plan of run {revert.run_id}: {len(revert.items)} item(s){where};"
        f" review it with `bulkx plan`, then: {hint}"
    )


def register(app: typer.Typer) -> None:
    app.command("revert")(revert_command)
