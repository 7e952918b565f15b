"""`bulkx apply`: confirm, journal, execute, summarise. `runs`, `status`, `resume` read journals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from bulkx.api import CarrierX, RetryPolicy
from bulkx.cli import exit_codes
from bulkx.cli.diff_commands import (
    ALLOW_CALLS,
    ALLOW_PARTNERS,
    ALLOW_SEND,
    confirmed_flags,
    load_valid_plan,
)
from bulkx.cli.failures import err, guarded
from bulkx.cli.progress import ProgressLine
from bulkx.cli.render import summary_table
from bulkx.cli.target import BASE_URL, SANDBOX_DB, TOKEN_FILE, TargetOptions, open_client
from bulkx.cli.watch_commands import watch_status
from bulkx.diff.changes import Changeset, change_from_dict
from bulkx.diff.read import read_live_state
from bulkx.engine.batch_backend import Batcher
from bulkx.engine.events import (
    RUN_FINISHED,
    Event,
    JsonLinesReporter,
    Progress,
    Reporter,
    Reporters,
)
from bulkx.engine.executor import AuthStopped, Executor, JournalStopped, OutageBreaker
from bulkx.engine.journal_ledger import JournalLedger, JournalReporter, create_run, journal_root
from bulkx.engine.operations import Operation
from bulkx.engine.plan_run import Prepared, is_saved_changeset, prepare, read_saved
from bulkx.engine.requests import Resolver
from bulkx.engine.throttle import AdaptiveLimiter, KeyedPacer
from bulkx.errors import (
    JournalError,
    JournalLocked,
    PlanError,
)
from bulkx.journal import Journal, JournalReader, OpRecord, list_runs
from bulkx.tui import run_monitor

#: Seconds of nothing but transient errors (5xx, resets, timeouts) before a run stops, resumable.
DEFAULT_OUTAGE_SECONDS = 60.0

EVENTS = typer.Option(
    None, "--events", metavar="FILE|-",
    help="Also write every event of the run as JSON lines to FILE (or stdout with -).",
)  # fmt: skip
OUTAGE_AFTER = typer.Option(
    DEFAULT_OUTAGE_SECONDS, "--stop-after-outage", metavar="SECONDS", min=1.0,
    help="Stop (resumable, exit 5) when the API has answered only errors this long.",
)  # fmt: skip


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
        err(f"{len(blocked)} change(s) are blocked; fix the plan (`bulkx plan` explains them)")
        raise typer.Exit(exit_codes.USAGE)
    if not prepared.ops:
        typer.echo("\nNothing to do: live state already matches the plan.", err=True)
        raise typer.Exit(exit_codes.OK)
    question = f"\nApply {len(prepared.ops)} operation(s) to {target}?"
    if yes:
        return
    if not sys.stdin.isatty():
        err("not a terminal, so nothing is applied without --yes")
        raise typer.Exit(exit_codes.USAGE)
    if not typer.confirm(question, default=False, err=True):
        typer.echo("Nothing applied.", err=True)
        raise typer.Exit(exit_codes.OK)


async def execute_prepared(
    prepared: Prepared,
    writer: CarrierX,
    ledger: JournalLedger,
    *,
    concurrency: int,
    rate: float | None,
    max_failures: int | None,
    reporter: Reporter,
    unknown: frozenset[str] = frozenset(),
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
    via: str = "api",
    send_rate: float = 1.0,
) -> Progress:
    """Execute a prepared run, its journal and the reporters watching; Ctrl-C stops it gently."""
    executor = Executor(
        writer,
        ledger,
        Resolver.from_live(prepared.live),
        limiter=AdaptiveLimiter(rate),
        concurrency=concurrency,
        max_failures=max_failures,
        reporter=Reporters(reporter, JournalReporter(ledger.journal)),
        breaker=OutageBreaker(open_after=outage_after),
        pacer=KeyedPacer(send_rate),
    )
    if via == "batch":
        executor.batcher = Batcher(writer, executor.resolver, executor.emit)
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

    # The first Ctrl-C or SIGTERM stops dispatching (in-flight requests finish and are journaled);
    # a second one quits at once. Either way the journal stays consistent: resume picks it up.
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, interrupt)
    try:
        return await executor.run(prepared.ops, prepared.changes_by_op, unknown=unknown)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)


@contextlib.contextmanager
def event_stream(path: str | None) -> Iterator[Reporter | None]:
    """`--events FILE|-`: JSON lines to a file (created 0600) or to stdout."""
    if path is None:
        yield None
        return
    if path == "-":
        yield JsonLinesReporter(sys.stdout)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        err(f"cannot write the event file {path}: {error.strerror}")
        raise typer.Exit(exit_codes.USAGE) from None
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        yield JsonLinesReporter(stream)


async def run_to_end(
    prepared: Prepared,
    writer: CarrierX,
    ledger: JournalLedger,
    run_id: str,
    *,
    reporter: Reporter,
    announce: Callable[[str], None] = lambda line: typer.echo(line, err=True),
    **execute: Any,
) -> int:
    """Execute, record how the run ended in its journal, tell the summary: the exit code.
    `announce` receives the summary lines (stderr, or a list kept until a full-screen monitor
    has given the terminal back)."""
    try:
        progress = await execute_prepared(prepared, writer, ledger, reporter=reporter, **execute)
    except AuthStopped as stop:
        ledger.flush()
        ledger.journal.set_run_state("interrupted", exit_codes.AUTH)
        announce(f"error: the API stopped accepting the credentials mid-run: {stop}"
                 f"\n  fix the token, then: bulkx resume {run_id}")  # fmt: skip
        return exit_codes.AUTH
    except JournalStopped as stop:
        announce(f"error: {stop}\n  nothing more was sent; once the journal can be written"
                 f" again (disk space, permissions): bulkx resume {run_id}")  # fmt: skip
        return exit_codes.RESUMABLE
    code = _exit_code(progress)
    ledger.finish(progress, code)
    reporter(Event(RUN_FINISHED, time.time(), {"run_id": run_id, "exit_code": code}, progress))
    for line in _summary(progress, run_id, code):
        announce(line)
    return code


def apply_command(
    plan_path: str = typer.Argument(..., metavar="PLAN|SAVED_CHANGESET"),
    kind: str | None = typer.Option(None, "--kind", help="The kind of a CSV-only plan."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=256),
    rate: float | None = typer.Option(None, "--rate", help="Requests/s ceiling (default: adapt)."),
    max_failures: str | None = typer.Option(None, "--max-failures", help="Stop after N or P%."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failure."),
    allow_release: bool = typer.Option(False, "--allow-release"),
    allow_partners: bool = ALLOW_PARTNERS,
    allow_send: bool = ALLOW_SEND,
    allow_calls: bool = ALLOW_CALLS,
    send_rate: float = typer.Option(
        1.0,
        "--send-rate",
        min=0.01,
        metavar="PER_S",
        help="Messages per second from any one sending number.",
    ),
    via: str = typer.Option(
        "api",
        "--via",
        metavar="api|batch",
        help="batch: rent, update and release DIDs and prefixes through CarrierX Batch tasks"
        " (reviewed, approved, followed to the end); everything else as usual.",
    ),
    events_path: str | None = EVENTS,
    outage_after: float = OUTAGE_AFTER,
    tui: bool = typer.Option(
        False,
        "--tui",
        help="Watch and steer the run in the terminal monitor (p pause,"
        " r resume, c cancel, q quit).",
    ),
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
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    if via not in ("api", "batch"):
        err(f"--via takes api or batch, not {via!r}")
        raise typer.Exit(exit_codes.USAGE)
    plan = load_valid_plan(plan_path, kind)

    async def start() -> tuple[Prepared, str, JournalLedger]:
        async with open_client(options) as reader:
            prepared = await prepare(
                reader, plan, target=options.describe(), allow_release=allow_release, saved=saved,
                confirmed=confirmed_flags(allow_partners=allow_partners, allow_send=allow_send,
                                          allow_calls=allow_calls),
            )  # fmt: skip
        _confirm(prepared, yes, options.describe())
        run_id, ledger = create_run(
            journal_root(), prepared, target_label=options.describe(),
            is_sandbox=options.base_url is None, options=options.journaled,
        )  # fmt: skip
        typer.echo(f"run {run_id}: {len(prepared.ops)} operations on {options.describe()}",
                   err=True)  # fmt: skip
        return prepared, run_id, ledger

    async def execute(
        prepared: Prepared, run_id: str, ledger: JournalLedger, reporter: Reporter,
        announce: Callable[[str], None] | None = None,
    ) -> int:  # fmt: skip
        limit = 0 if fail_fast else _parse_max_failures(max_failures, len(prepared.ops))
        async with open_client(options) as client:
            return await run_to_end(
                prepared, client.with_retry(RetryPolicy.never()), ledger, run_id,
                reporter=reporter, concurrency=concurrency, rate=rate, max_failures=limit,
                outage_after=outage_after, via=via, send_rate=send_rate,
                **({"announce": announce} if announce else {}),
            )  # fmt: skip

    with event_stream(events_path) as events_reporter:
        extra = [events_reporter] if events_reporter else []
        prepared, run_id, ledger = guarded(lambda: asyncio.run(start()))
        if tui:
            said: list[str] = []

            async def job() -> int:
                return await execute(prepared, run_id, ledger, Reporters(*extra), said.append)

            code = guarded(lambda: run_monitor(journal_root(), run_id, job=job))
            for text in said:
                typer.echo(text, err=True)
            if code is None:  # the monitor stopped before the run ended
                code = exit_codes.INTERRUPTED
        else:
            line = ProgressLine()
            try:
                code = guarded(
                    lambda: asyncio.run(execute(prepared, run_id, ledger, Reporters(line, *extra)))
                )
            finally:
                line.close()
    raise typer.Exit(code)


def _exit_code(progress: Progress) -> int:
    if progress.finished < progress.total:
        return exit_codes.INTERRUPTED if progress.cancelled else exit_codes.RESUMABLE
    if progress.failed or progress.skipped:
        return exit_codes.PARTIAL
    return exit_codes.OK


def _summary(progress: Progress, run_id: str, code: int) -> list[str]:
    lines = [
        f"\n{progress.done} succeeded, {progress.failed} failed, {progress.skipped} skipped"
        f" of {progress.total}; {progress.retries} retries, {progress.throttled} throttled,"
        f" {progress.unknown} reconciled after a lost answer.",
        f"run id: {run_id}",
    ]
    if code in (exit_codes.RESUMABLE, exit_codes.INTERRUPTED):
        why = f" ({progress.stopped_because})" if progress.stopped_because else ""
        lines.append(f"stopped before the end{why}: bulkx resume {run_id}")
    elif code == exit_codes.PARTIAL:
        lines.append(f"failures: bulkx report {run_id} --failed -o csv")
    return lines


def _open_journal(run_id: str) -> Journal:
    try:
        return Journal.open(journal_root(), run_id)
    except JournalLocked as error:
        err(f"{error}" + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except JournalError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None


def _remaining(journal: Journal) -> list[OpRecord]:
    remaining: list[OpRecord] = []
    for state in ("pending", "unknown"):
        after: int | None = None
        while True:
            page = journal.ops(state, limit=5000, after_op_id=after)
            remaining.extend(page)
            if len(page) < 5000:
                break
            after = page[-1].op_id
    return sorted(remaining, key=lambda r: r.op_id)


def resume_command(
    run_id: str = typer.Argument(..., help="A run id from `bulkx runs`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Resume without asking."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=256),
    rate: float | None = typer.Option(None, "--rate", help="Requests/s ceiling (default: adapt)."),
    events_path: str | None = EVENTS,
    outage_after: float = OUTAGE_AFTER,
    token_file: Path | None = TOKEN_FILE,
) -> None:
    """Continue a stopped run: operations whose outcome is unknown are looked up first."""
    journal = _open_journal(run_id)
    info = journal.run()
    options = TargetOptions(
        info.options.get("base_url"),
        token_file,
        Path(info.options.get("sandbox_db") or SANDBOX_DB.default),
    )
    records = _remaining(journal)
    unknown = frozenset(r.op_key for r in records if r.state == "unknown")
    typer.echo(
        f"run {run_id} on {info.target_label}: {len(records)} operation(s) left"
        f" ({len(unknown)} with an unknown outcome, checked against live state first)",
        err=True,
    )
    if not records:
        journal.set_run_state("completed")
        journal.close()
        typer.echo("Nothing left to do.", err=True)
        raise typer.Exit(exit_codes.OK)
    if not yes:
        if not sys.stdin.isatty():
            journal.close()
            err("not a terminal, so nothing is resumed without --yes")
            raise typer.Exit(exit_codes.USAGE)
        if not typer.confirm(f"Resume {len(records)} operation(s)?", default=False, err=True):
            journal.close()
            raise typer.Exit(exit_codes.OK)
    plan = load_valid_plan(info.plan_path, None)
    if plan.digest != info.plan_digest:
        typer.echo("warning: the plan file changed since this run started; resuming the"
                   " journaled operations as they were planned", err=True)  # fmt: skip
    ops = [
        Operation(r.op_key, r.step, r.kind, r.key, r.action, r.position, r.depends_on, r.request)
        for r in records
    ]
    changes = {r.op_key: change_from_dict(r.request) for r in records}
    ledger = JournalLedger(journal, {r.op_key: r.op_id for r in records})
    journal.set_run_state("running")

    async def main(events_reporter: Reporter | None) -> int:
        async with open_client(options) as reader:
            live = await read_live_state(reader, plan)
            prepared = Prepared(Changeset(plan.path, plan.digest, info.target_label, ()), live,
                                ops, changes, [])  # fmt: skip
            line = ProgressLine()
            try:
                return await run_to_end(
                    prepared, reader.with_retry(RetryPolicy.never()), ledger, run_id,
                    reporter=Reporters(line, *([events_reporter] if events_reporter else [])),
                    concurrency=concurrency, rate=rate, max_failures=None, unknown=unknown,
                    outage_after=outage_after,
                )  # fmt: skip
            finally:
                line.close()

    try:
        with event_stream(events_path) as events_reporter:
            code = guarded(lambda: asyncio.run(main(events_reporter)))
    finally:
        if not journal.closed:  # it stopped on an error before recording how it ended
            with contextlib.suppress(JournalError):
                journal.set_run_state("interrupted")
    raise typer.Exit(code)


def runs_command() -> None:
    """The runs journaled in this directory (.bulkx/runs), newest last."""
    runs = list_runs(journal_root())
    if not runs:
        typer.echo("no runs yet (bulkx apply starts one)", err=True)
        return
    for run in runs:
        if run.error:
            sys.stdout.write(f"{run.run_id}  unreadable: {run.error}\n")
            continue
        counts = run.counts or {}
        done = counts.get("succeeded", 0)
        total = sum(counts.values())
        left = counts.get("pending", 0) + counts.get("unknown", 0) + counts.get("in_flight", 0)
        sys.stdout.write(
            f"{run.run_id}  {run.state:<11} {done}/{total} done, {counts.get('failed', 0)} failed,"
            f" {left} left  {run.plan_path}  [{run.target_label}]\n"
        )


def status_command(
    run_id: str = typer.Argument(...),
    output: str = typer.Option("text", "-o", "--output", help="text or json"),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Keep printing the key figures until the run ends; exit with"
        " the run's exit code (for CI logs and terminals without the full-screen monitor).",
    ),
) -> None:
    """A run's state and counts, per step (read-only: safe while the run goes on)."""
    if watch:
        try:
            code = watch_status(journal_root(), run_id, sys.stdout)
        except JournalError as error:
            err(str(error))
            raise typer.Exit(exit_codes.USAGE) from None
        except KeyboardInterrupt:
            raise typer.Exit(exit_codes.INTERRUPTED) from None
        raise typer.Exit(code)
    try:
        reader = JournalReader.open(journal_root(), run_id)
    except JournalError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    with reader:
        info = reader.run()
        counts = reader.counts()
        by_step = reader.counts_by_step()
        events = reader.recent_events(5)
    if output == "json":
        document = {
            "schema_version": 1, "run_id": info.run_id, "state": info.state,
            "plan": info.plan_path, "target": info.target_label, "created_at": info.created_at,
            "finished_at": info.finished_at, "counts": counts, "steps": by_step,
        }  # fmt: skip
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    sys.stdout.write(
        f"run {info.run_id}: {info.state}\n  plan   {info.plan_path}\n"
        f"  target {info.target_label}\n  started {info.created_at}"
        + (f", finished {info.finished_at}" if info.finished_at else "")
        + "\n\n"
    )
    states = [s for s in ("succeeded", "failed", "skipped", "unknown", "in_flight", "pending",
                          "cancelled") if counts.get(s)]  # fmt: skip
    sys.stdout.write("  " + "step".ljust(24) + "".join(s.rjust(11) for s in states) + "\n")
    for step, per in by_step.items():
        cells = "".join(str(per.get(state, 0)).rjust(11) for state in states)
        sys.stdout.write("  " + step[:23].ljust(24) + cells + "\n")
    for event in events:
        sys.stdout.write(f"  {event.at} {event.level}: {event.message}\n")


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
    app.command("resume")(resume_command)
    app.command("runs")(runs_command)
    app.command("status")(status_command)


__all__: list[Any] = ["register"]
