"""`bulkx apply`: confirm, journal, execute, summarise. `bulkx resume`: from the journal alone.

The wiring of a run (journal, executor, limiter, breaker, signals, exit code) is the library's
front door, `bulkx.engine.run`; this module parses options and talks to the person.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bulkx.cli import exit_codes
from bulkx.cli.failures import err, guarded, locked
from bulkx.cli.options import (
    ALLOW_CALLS,
    ALLOW_PARTNERS,
    ALLOW_RELEASE,
    ALLOW_SEND,
    BASE_URL,
    EVENTS,
    OUTAGE_AFTER,
    PROFILE,
    SANDBOX_DB,
    TOKEN_FILE,
)
from bulkx.cli.profile_edge import run_settings, target_options
from bulkx.cli.warm import beside, warmed
from bulkx.defaults import MAX_CONCURRENCY, MIN_CONCURRENCY, MIN_RATE, journal_root, locate_run
from bulkx.errors import ConfigError, JournalError, JournalLocked, PlanError
from bulkx.journal import Journal

if TYPE_CHECKING:
    from bulkx.diff.summary import ChangeSummary
    from bulkx.engine.events import Reporter
    from bulkx.engine.prepare_chunks import PreparedRun
    from bulkx.engine.run import Outcome, Run, RunOptions


# The engine (the API client, the plan machinery, the monitor) and asyncio are imported when a
# run is prepared or driven, not with this module: `bulkx apply --help` starts without them.

#: What driving a run imports (`_drive`, `_open_resume`, `_finish_preparing`): the engine, the
#: HTTP client and its transport, the plan machinery they name.
RUN_MODULES = (
    "asyncio",
    "bulkx.engine.run",
    "bulkx.engine.pipeline",
    "bulkx.api.client",
    "bulkx.cli.progress",
    "bulkx.cli.diff_commands",
)


def _say(line: str) -> None:
    """A line for the person on stderr; a closed stderr (its pipe gone) costs nothing."""
    with contextlib.suppress(OSError, ValueError):
        typer.echo(line, err=True)


def _confirm(summary: ChangeSummary, yes: bool, target: str) -> None:
    """Show what the prepared run would do, refuse blocked changes, and ask (or not, `yes`).
    Raises typer.Exit when nothing is to be applied: the caller discards the run."""
    from bulkx.cli.render import summary_table

    for line in summary_table(summary):
        typer.echo(line, err=True)
    if summary.drifted:
        typer.echo(
            f"\n{summary.drifted} saved change(s) drifted since planning and will NOT be applied:",
            err=True,
        )
        for named in summary.first_drifted:
            typer.echo(f"  {named.kind} {named.key} ({named.action})", err=True)
    if summary.blocked:
        for named in summary.first_blocked:
            typer.echo(f"blocked: {named.kind} {named.key}: {named.reason}", err=True)
        err(f"{summary.blocked} change(s) are blocked; fix the plan (`bulkx plan` explains them)")
        raise typer.Exit(exit_codes.USAGE)
    if not summary.ops:
        typer.echo("\nNothing to do: live state already matches the plan.", err=True)
        raise typer.Exit(exit_codes.OK)
    question = f"\nApply {summary.ops} operation(s) to {target}?"
    if yes:
        return
    if not sys.stdin.isatty():
        err("not a terminal, so nothing is applied without --yes")
        raise typer.Exit(exit_codes.USAGE)
    if not typer.confirm(question, default=False, err=True):
        typer.echo("Nothing applied.", err=True)
        raise typer.Exit(exit_codes.OK)


def _confirm_or_discard(prepared: PreparedRun, yes: bool, target: str) -> None:
    """`_confirm`; a run not to be applied is removed (nothing of it was sent). One prepared
    only in part, to send while the rest is prepared (--yes), shows its summary so far and is
    refused only for a blocked change. One that has sent already (a resume finishing the
    preparation of a run that sent while preparing) is never refused nor removed: what it
    found blocked is journaled as failed items (exit 3 at the end), and the rest goes on."""
    from bulkx.cli.render import summary_table

    if prepared.rest is not None:
        for line in summary_table(prepared.summary):
            _say(line)
        _say(
            f"\nSo far: {prepared.rest.rows_done:,} of {prepared.rest.rows_total:,} plan items;"
            " the rest is prepared while these are sent."
        )
        if prepared.summary.blocked:
            for named in prepared.summary.first_blocked:
                _say(f"blocked: {named.kind} {named.key}: {named.reason}")
            err(
                f"{prepared.summary.blocked} change(s) are blocked; fix the plan"
                " (`bulkx plan` explains them)"
            )
            guarded(prepared.discard)
            raise typer.Exit(exit_codes.USAGE)
        return
    if prepared.journal.run().state != "preparing":
        for line in summary_table(prepared.summary):
            _say(line)
        for named in prepared.summary.first_blocked:
            _say(f"failed (blocked): {named.kind} {named.key}: {named.reason}")
        return
    try:
        _confirm(prepared.summary, yes, target)
    except typer.Exit:
        guarded(prepared.discard)
        raise


@contextlib.contextmanager
def event_stream(path: str | None) -> Iterator[Reporter | None]:
    """`--events FILE|-`: JSON lines to a file (created 0600) or to stdout."""
    from bulkx.engine.events import JsonLinesReporter

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
    run: Run,
    *,
    reporter: Reporter,
    announce: Callable[[str], None] = _say,
) -> int:
    """Execute, tell the summary: the exit code. `announce` receives the summary lines
    (stderr, or a list kept until a full-screen monitor has given the terminal back)."""
    from bulkx.engine.events import RUN_FINISHED, Event
    from bulkx.engine.run import execute

    outcome = await execute(run, reporter=reporter, notify=announce)
    if outcome.exit_code == exit_codes.AUTH:
        announce(
            f"error: the API stopped accepting the credentials mid-run: {outcome.stopped}"
            f"\n  fix the token, then: bulkx resume {run.run_id}"
        )
        return outcome.exit_code
    if outcome.stopped is not None:
        announce(
            f"error: {outcome.stopped}\n  nothing more was sent; once the journal"
            " can be written again (disk space, permissions):"
            f" bulkx resume {run.run_id}"
        )
        return outcome.exit_code
    progress = outcome.progress
    data = {"run_id": run.run_id, "exit_code": outcome.exit_code}
    with contextlib.suppress(OSError, ValueError):
        reporter(Event(RUN_FINISHED, time.time(), data, progress))
    for line in _summary(outcome, run.run_id):
        announce(line)
    return outcome.exit_code


def _drive(run: Run, events_path: str | None, tui: bool) -> int:
    """Carry `run` out with a progress line (or the monitor) and the `--events` stream."""
    from bulkx.api.loop import run as run_on_loop
    from bulkx.cli.progress import ProgressLine
    from bulkx.engine.events import Reporters
    from bulkx.tui import run_monitor

    with event_stream(events_path) as events_reporter:
        extra = [events_reporter] if events_reporter else []
        if tui:
            said: list[str] = []

            async def job() -> int:
                return await run_to_end(run, reporter=Reporters(*extra), announce=said.append)

            code = guarded(lambda: run_monitor(run.root, run.run_id, job=job))
            for text in said:
                _say(text)
            return exit_codes.INTERRUPTED if code is None else code
        line = ProgressLine()
        try:
            return guarded(lambda: run_on_loop(run_to_end(run, reporter=Reporters(line, *extra))))
        finally:
            line.close()


def _options(**given: Any) -> RunOptions:
    from bulkx.engine.run import RunOptions

    try:
        return RunOptions(**given)
    except ConfigError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None


# The options of `apply` of its own (those it shares are in bulkx.cli.options).
KIND = typer.Option(None, "--kind", help="The kind of a CSV-only plan.")
APPLY_YES = typer.Option(False, "--yes", "-y", help="Apply without asking.")
APPLY_CONCURRENCY = typer.Option(
    None,
    "--concurrency",
    min=MIN_CONCURRENCY,
    max=MAX_CONCURRENCY,
    help="Requests in flight at once (default 16, or the profile's).",
)
APPLY_RATE = typer.Option(
    None,
    "--rate",
    min=MIN_RATE,
    help="Requests/s ceiling (default: adapt; never above the profile's).",
)
MAX_FAILURES = typer.Option(None, "--max-failures", help="Stop after N or P%.")
APPLY_FAIL_FAST = typer.Option(False, "--fail-fast", help="Stop at the first failure.")
APPLY_SEND_RATE = typer.Option(
    1.0,
    "--send-rate",
    min=0.01,
    metavar="PER_S",
    help="Messages per second from any one sending number.",
)
APPLY_VIA = typer.Option(
    None,
    "--via",
    metavar="api|batch",
    help="api (default, or the profile's) or batch: rent, update and release DIDs and"
    " prefixes through CarrierX Batch tasks (reviewed, approved, followed to the end);"
    " everything else as usual.",
)
APPLY_TUI = typer.Option(
    False,
    "--tui",
    help="Watch and steer the run in the terminal monitor (p pause, r resume, c cancel, q quit).",
)


def apply_command(
    plan_path: str = typer.Argument(..., metavar="PLAN|SAVED_CHANGESET"),
    kind: str | None = KIND,
    yes: bool = APPLY_YES,
    concurrency: int | None = APPLY_CONCURRENCY,
    rate: float | None = APPLY_RATE,
    max_failures: str | None = MAX_FAILURES,
    fail_fast: bool = APPLY_FAIL_FAST,
    allow_release: bool = ALLOW_RELEASE,
    allow_partners: bool = ALLOW_PARTNERS,
    allow_send: bool = ALLOW_SEND,
    allow_calls: bool = ALLOW_CALLS,
    send_rate: float = APPLY_SEND_RATE,
    via: str | None = APPLY_VIA,
    events_path: str | None = EVENTS,
    outage_after: float = OUTAGE_AFTER,
    tui: bool = APPLY_TUI,
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Apply PLAN (or a changeset saved by `bulkx plan --save`), journaled and resumable."""
    plan_path, saved = _plan_or_saved(plan_path)
    target = target_options(profile, base_url, token_file, sandbox_db)
    options = _options(
        kind=kind,
        send_rate=send_rate,
        allow_release=allow_release,
        allow_partners=allow_partners,
        allow_send=allow_send,
        allow_calls=allow_calls,
        max_failures=max_failures,
        fail_fast=fail_fast,
        outage_after=outage_after,
        base_url=target.base_url,
        api_urls=dict(target.api_urls) or None,
        sandbox_db=str(sandbox_db),
        token_file=str(target.token_file) if target.token_file else None,
        **run_settings(profile, rate=rate, concurrency=concurrency, via=via),
    )
    run = _start(plan_path, options, saved, yes)
    _say(f"run {run.run_id}: {run.total} operations on {run.label}")
    raise typer.Exit(_drive(run, events_path, tui))


def _plan_or_saved(plan_path: str) -> tuple[str, Any]:
    """(the plan's path, None), or for a changeset saved by `plan --save`, (the path of the
    plan it was made from, the changeset)."""
    from bulkx.engine.plan_run import is_saved_changeset, read_saved

    try:
        if is_saved_changeset(plan_path):
            saved = read_saved(Path(plan_path))
            return str(saved["plan"]), saved
    except PlanError as error:
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None
    return plan_path, None


def _start(plan_path: str, options: RunOptions, saved: Any, yes: bool) -> Run:
    """Journal the plan's operations a chunk at a time (nothing sent), show their summary,
    ask, start. Neither the plan's changes nor its operations are held whole: the journal
    holds them, and the run takes them from it."""
    from bulkx.api.loop import run as run_on_loop
    from bulkx.cli.diff_commands import ReadProgressLine, load_valid_plan
    from bulkx.engine.pipeline import pipeline_refusal
    from bulkx.engine.run import plan_run, start_run

    plan = load_valid_plan(plan_path, options.kind)
    line = ReadProgressLine()
    root = journal_root()
    # With --yes nobody is asked: a plan it is safe for starts sending once its first
    # operations are journaled, and is prepared on meanwhile (bulkx.engine.pipeline).
    early = yes and pipeline_refusal(plan, options, saved=saved is not None) is None
    try:
        prepared = guarded(
            lambda: run_on_loop(
                plan_run(plan, options, root=root, saved=saved, progress=line, start_early=early)
            )
        )
    finally:
        line.close()
    _confirm_or_discard(prepared, yes, options.target.describe())
    if prepared.rest is None:
        return guarded(lambda: start_run(root, plan, prepared, options))
    _say("the count of operations below grows while the rest of the plan is prepared")

    def prepared_in_full(summary: ChangeSummary) -> None:
        counts = "; ".join(
            f"{step}: " + ", ".join(f"{n:,} {action}" for action, n in by_action.items())
            for step, by_action in summary.counts().items()
        )
        _say(f"\nall of the plan is prepared: {summary.ops:,} operation(s) ({counts})")

    return guarded(lambda: start_run(root, plan, prepared, options, on_prepared=prepared_in_full))


def _summary(outcome: Outcome, run_id: str) -> list[str]:
    progress, code = outcome.progress, outcome.exit_code
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


def _open_journal(name: str) -> Journal:
    try:
        root, run_id = locate_run(name, journal_root())
        return Journal.open(root, run_id)
    except JournalLocked as error:
        err(f"{error}" + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except JournalError as error:
        err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.USAGE) from None


def _ask_resume(journal: Journal, run: Run, yes: bool) -> None:
    unknown = run.unknown
    _say(
        f"run {run.run_id} on {run.label}: {run.total} operation(s) left ({unknown} with an"
        " unknown outcome, checked against live state first)"
    )
    if not run.total:
        from bulkx.engine.events import Progress
        from bulkx.engine.run import classify

        counts = journal.counts()
        failed = counts["failed"] + counts["skipped"]
        state, code = classify(counts, Progress())
        journal.set_run_state(state, code)
        journal.close()
        _say(
            "Nothing left to do."
            + (
                f" {failed} item(s) failed or were skipped: bulkx report {run.run_id} --failed"
                if failed
                else ""
            )
        )
        raise typer.Exit(code)
    if yes:
        return
    if not sys.stdin.isatty():
        journal.close()
        err("not a terminal, so nothing is resumed without --yes")
        raise typer.Exit(exit_codes.USAGE)
    if not typer.confirm(f"Resume {run.total} operation(s)?", default=False, err=True):
        journal.close()
        raise typer.Exit(exit_codes.OK)


def _finish_preparing(journal: Journal, given: dict[str, Any]) -> None:
    """A run a crash stopped while it was being prepared (nothing of it sent): go on preparing
    from its cursor, then show its summary and refuse or discard it as apply would. The
    resume's own question (or --yes) confirms it."""
    from bulkx.api.loop import run as run_on_loop
    from bulkx.cli.diff_commands import ReadProgressLine
    from bulkx.engine.pipeline import preparation_unfinished
    from bulkx.engine.run import continue_preparing

    info = journal.run()
    # (Or one stopped while it sent and prepared at once: its state says how it stopped.)
    if info.state != "preparing" and not preparation_unfinished(journal):
        return
    _say(f"run {info.run_id} was being prepared when it stopped: preparing the rest")
    line = ReadProgressLine()

    def go_on() -> PreparedRun:
        try:
            return run_on_loop(continue_preparing(journal, given, progress=line))
        except JournalLocked:  # another live run holds objects of its plan: exit 6
            raise
        except JournalError as error:  # its plan no longer loads from the journal
            err(f"{error}\n  nothing of run {info.run_id} was sent: run `bulkx apply` again")
            raise typer.Exit(exit_codes.USAGE) from None

    try:
        prepared = guarded(go_on)
    except typer.Exit:
        journal.close()
        raise
    finally:
        line.close()
    _confirm_or_discard(prepared, True, info.target_label)


# `resume` takes the options a run was applied with, unless given again.
RUN_NAME = typer.Argument(
    ..., metavar="RUN_ID|JOURNAL", help="A run id from `bulkx runs`, or a journal's path."
)
RESUME_YES = typer.Option(False, "--yes", "-y", help="Resume without asking.")
RESUME_CONCURRENCY = typer.Option(
    None,
    "--concurrency",
    min=MIN_CONCURRENCY,
    max=MAX_CONCURRENCY,
    help="[default: as the run was applied]",
)
RESUME_RATE = typer.Option(
    None, "--rate", min=MIN_RATE, help="Requests/s ceiling [default: as applied]."
)
RESUME_SEND_RATE = typer.Option(
    None,
    "--send-rate",
    min=0.01,
    metavar="PER_S",
    help="Messages/s per sending number [default: as applied].",
)
RESUME_FAIL_FAST = typer.Option(
    None, "--fail-fast/--no-fail-fast", help="Stop at the first failure [default: as applied]."
)
RESUME_VIA = typer.Option(
    None, "--via", metavar="api|batch", help="api or batch [default: as applied]."
)
RESUME_OUTAGE_AFTER = typer.Option(
    None,
    "--stop-after-outage",
    metavar="SECONDS",
    min=1.0,
    help="Stop (resumably) once the API has"
    " answered nothing but errors this long [default:"
    " as applied].",
)
RESUME_TUI = typer.Option(False, "--tui", help="Watch and steer it in the terminal monitor.")


def resume_command(
    run_name: str = RUN_NAME,
    yes: bool = RESUME_YES,
    concurrency: int | None = RESUME_CONCURRENCY,
    rate: float | None = RESUME_RATE,
    send_rate: float | None = RESUME_SEND_RATE,
    max_failures: str | None = MAX_FAILURES,
    fail_fast: bool | None = RESUME_FAIL_FAST,
    via: str | None = RESUME_VIA,
    events_path: str | None = EVENTS,
    outage_after: float | None = RESUME_OUTAGE_AFTER,
    tui: bool = RESUME_TUI,
    token_file: Path | None = TOKEN_FILE,
) -> None:
    """Continue a stopped run from its journal alone (no plan file, any directory): the options
    it was applied with, unless given again here; unknown outcomes are looked up first."""
    # The journal's check (SQLite, off the GIL) and the imports a run needs, side by side.
    # The journal's check, the claims its killed process left and the imports a run needs,
    # side by side (SQLite lets go of the GIL): none stands in the way of the first request.
    with warmed(*RUN_MODULES), _claims_taken_over(run_name):
        journal = _open_journal(run_name)
    if journal.lost_commits:  # said before anything else: it must not be missed
        _say(f"warning: run {journal.run_id}: {journal.lost_commits}")
    # fmt: off
    given = {
        "concurrency": concurrency, "rate": rate, "send_rate": send_rate, "via": via,
        "max_failures": max_failures, "fail_fast": fail_fast, "outage_after": outage_after,
        "token_file": str(token_file) if token_file else None,
    }
    # fmt: on
    _finish_preparing(journal, given)
    run = _open_resume(journal, given)
    _ask_resume(journal, run, yes)
    journal.set_run_state("running")
    try:
        code = _drive(run, events_path, tui)
    finally:
        run.ledger.close()
    raise typer.Exit(code)


def _claims_taken_over(name: str) -> contextlib.AbstractContextManager[None]:
    """The claims of the run `name` whose process is gone, taken over on a thread for the
    length of the block (`_open_resume` then finds them this process's). Quietly: on any
    trouble `_open_resume` claims again and says what stops it."""
    from bulkx.journal import claims

    def take_over() -> None:
        with contextlib.suppress(Exception):
            root, run_id = locate_run(name, journal_root())
            claims.take_over_from_the_dead(root, run_id)

    return beside(take_over, "bulkx-claims")


def _open_resume(journal: Journal, given: dict[str, Any]) -> Run:
    """The run to resume, with the options `given` again; the journal is closed on refusal."""
    from bulkx.engine.run import open_resume

    try:
        return open_resume(journal, given)
    except JournalLocked as error:  # another live run holds objects it would touch
        journal.close()
        locked(error)
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except (ConfigError, JournalError) as error:
        journal.close()
        err(str(error))
        raise typer.Exit(exit_codes.USAGE) from None


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_command)
    app.command("resume")(resume_command)


__all__: list[Any] = ["register"]
