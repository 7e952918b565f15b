"""`bulkx apply`: confirm, journal, execute, summarise. `runs`, `status`, `resume` read journals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import typer

from bulkx.api import CarrierX, RetryPolicy
from bulkx.cli import exit_codes
from bulkx.cli.diff_commands import _load_valid
from bulkx.cli.progress import ProgressLine
from bulkx.cli.render import summary_table
from bulkx.cli.target import BASE_URL, SANDBOX_DB, TOKEN_FILE, TargetOptions, open_client
from bulkx.engine.executor import AuthStopped, Executor, Progress
from bulkx.engine.journal_ledger import JournalLedger, create_run, journal_root
from bulkx.engine.plan_run import Prepared, is_saved_changeset, prepare, read_saved
from bulkx.engine.requests import Resolver
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import ApiError, AuthError, BulkxError, ConfigError, PlanError


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _parse_max_failures(text: str | None, total: int) -> int | None:
    if text is None:
        return None
    try:
        if text.endswith("%"):
            return int(total * float(text[:-1]) / 100)
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"--max-failures takes N or P%, not {text!r}") from None


def _confirm(prepared: Prepared, yes: bool, target: str) -> None:
    for line in summary_table(prepared.changeset):
        typer.echo(line, err=True)
    if prepared.drifted:
        typer.echo(
            f"\n{len(prepared.drifted)} saved change(s) drifted since planning and will NOT be"
            " applied:",
            err=True,
        )
        for change in prepared.drifted[:20]:
            typer.echo(f"  {change.kind} {change.key} ({change.action})", err=True)
    blocked = prepared.changeset.blocked
    if blocked:
        for change in blocked[:20]:
            typer.echo(f"blocked: {change.kind} {change.key}: {change.reason}", err=True)
        _err(f"{len(blocked)} change(s) are blocked; fix the plan (`bulkx plan` explains them)")
        raise typer.Exit(exit_codes.USAGE)
    if not prepared.ops:
        typer.echo("\nNothing to do: live state already matches the plan.", err=True)
        raise typer.Exit(exit_codes.OK)
    question = f"\nApply {len(prepared.ops)} operation(s) to {target}?"
    if yes:
        return
    if not sys.stdin.isatty():
        _err("not a terminal, so nothing is applied without --yes")
        raise typer.Exit(exit_codes.USAGE)
    if not typer.confirm(question, default=False, err=True):
        typer.echo("Nothing applied.", err=True)
        raise typer.Exit(exit_codes.OK)


async def _execute(
    prepared: Prepared,
    writer: CarrierX,
    ledger: JournalLedger,
    *,
    concurrency: int,
    rate: float | None,
    max_failures: int | None,
    on_progress: ProgressLine,
) -> Progress:
    executor = Executor(
        writer,
        ledger,
        Resolver.from_live(prepared.live),
        limiter=AdaptiveLimiter(rate),
        concurrency=concurrency,
        max_failures=max_failures,
        on_progress=on_progress,
    )
    loop = asyncio.get_running_loop()
    stops = 0

    def interrupt() -> None:
        nonlocal stops
        stops += 1
        if stops > 1:
            raise KeyboardInterrupt
        typer.echo("\nstopping: in-flight operations finish, nothing new starts"
                   " (Ctrl-C again to quit at once)", err=True)  # fmt: skip
        executor.stop()

    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        return await executor.run(prepared.ops, prepared.changes_by_op)
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)


def apply_command(
    plan_path: str = typer.Argument(..., metavar="PLAN|SAVED_CHANGESET"),
    kind: str | None = typer.Option(None, "--kind", help="The kind of a CSV-only plan."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=256),
    rate: float | None = typer.Option(None, "--rate", help="Requests/s ceiling (default: adapt)."),
    max_failures: str | None = typer.Option(None, "--max-failures", help="Stop after N or P%."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failure."),
    allow_release: bool = typer.Option(False, "--allow-release"),
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Apply PLAN (or a changeset saved by `bulkx plan --save`), journaled and resumable."""
    options = TargetOptions(base_url, token_file, sandbox_db)
    saved = None
    try:
        if is_saved_changeset(plan_path):
            saved = read_saved(Path(plan_path))
            plan_path = str(saved["plan"])
    except PlanError as error:
        _err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    plan = _load_valid(plan_path, kind)

    async def main() -> tuple[Progress, str]:
        async with open_client(options) as reader:
            prepared = await prepare(
                reader, plan, target=options.describe(), allow_release=allow_release, saved=saved
            )
            _confirm(prepared, yes, options.describe())
            run_id, ledger = create_run(journal_root(), prepared, options)
            typer.echo(f"run {run_id}: {len(prepared.ops)} operations on {options.describe()}",
                       err=True)  # fmt: skip
            limit = 0 if fail_fast else _parse_max_failures(max_failures, len(prepared.ops))
            line = ProgressLine()
            writer = reader.with_retry(RetryPolicy.never())
            try:
                progress = await _execute(
                    prepared, writer, ledger, concurrency=concurrency, rate=rate,
                    max_failures=limit, on_progress=line,
                )  # fmt: skip
            finally:
                line.close()
            ledger.finish(progress)
            return progress, run_id

    try:
        progress, run_id = asyncio.run(main())
    except (AuthError, AuthStopped) as error:
        _err(f"{error} — check the token; `bulkx resume` continues the run")
        raise typer.Exit(exit_codes.AUTH) from None
    except ConfigError as error:
        _err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except (ApiError, BulkxError) as error:
        _err(str(error))
        raise typer.Exit(exit_codes.ERROR) from None
    except KeyboardInterrupt:
        _err("interrupted; `bulkx runs` shows the run to resume")
        raise typer.Exit(exit_codes.INTERRUPTED) from None
    raise typer.Exit(_finish(progress, run_id))


def _finish(progress: Progress, run_id: str) -> int:
    typer.echo(
        f"\n{progress.done} succeeded, {progress.failed} failed, {progress.skipped} skipped"
        f" of {progress.total}; {progress.retries} retries, {progress.throttled} throttled,"
        f" {progress.unknown} reconciled after a lost answer.",
        err=True,
    )
    typer.echo(f"run id: {run_id}", err=True)
    finished = progress.done + progress.failed + progress.skipped
    if progress.cancelled or finished < progress.total:
        typer.echo(f"stopped before the end: bulkx resume {run_id}", err=True)
        return exit_codes.INTERRUPTED if progress.cancelled else exit_codes.RESUMABLE
    if progress.failed or progress.skipped:
        typer.echo(f"failures: bulkx report {run_id} --failed -o csv", err=True)
        return exit_codes.PARTIAL
    return exit_codes.OK


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)


__all__: list[Any] = ["register"]
