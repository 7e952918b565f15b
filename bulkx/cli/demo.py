"""`bulkx demo`: the main job, start to finish, on the embedded sandbox.

It serves the sandbox on 127.0.0.1, seeds the numbers of a completed port-in, then validates,
plans and applies two example plans (the port-in setup, then a new site), journaled, with live
progress, and checks that nothing is left to do.

It works on the sandbox world and the journal root every other command uses by default
(`.bulkx/sandbox.db`, `$BULKX_HOME` or `.bulkx`), so `bulkx plan`, `runs`, `status` and
`report` carry on from where it left off. It only ever opens that SQLite world: profiles,
`BULKX_BASE_URL` and tokens are not read, so no real API is ever contacted. Run again, it finds
nothing left to do; it applies a plan only to a world that has none of it yet, so work done
since (an E911 correction, a re-routed number) is never undone. It deletes no file.

The example plans come with the package (`bulkx.examples`); in a folder with neither `plans/`
nor `samples/` the demo writes them there, so the commands it suggests next work as they read.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.api.loop import run as run_on_loop
from bulkx.cli import exit_codes
from bulkx.defaults import DEFAULT_SANDBOX_DB, journal_root
from bulkx.errors import BulkxError

if TYPE_CHECKING:
    from bulkx.api import CarrierX
    from bulkx.engine.events import Progress
    from bulkx.engine.run import RunOptions
    from bulkx.plan.model import ValidPlan
    from bulkx.sandbox.app import SandboxApp

# The sandbox, the client and the engine are imported when the demo runs, not at start-up.

DEMO_TOKEN = "demo-token-0000"
PORTED_CSV = Path("samples") / "ported-numbers.csv"
PLANS = (Path("plans") / "port-in.yaml", Path("plans") / "new-site.yaml")


@dataclass(frozen=True)
class DemoArea:
    """Where the demo reads its examples from and what it writes to."""

    #: The folder holding `plans/` and `samples/`: the current one, or the installed examples.
    examples: Path
    sandbox_db: Path
    journals: Path


@dataclass(frozen=True)
class PlanResult:
    path: str
    run_id: str | None = None  # None: no run (nothing to do, or the world was left as it is)
    progress: Progress | None = None
    note: str = ""


def say(text: str) -> None:
    sys.stderr.write(text + "\n")


def _valid_plan(path: Path) -> ValidPlan:
    from bulkx.plan.validate import load_valid

    plan, diagnostics = load_valid(path)
    errors = [d for d in diagnostics if d.severity == "error"]
    if plan is None:
        for problem in errors:
            say(str(problem))
        raise typer.Exit(exit_codes.USAGE)
    items = sum(len(s) + (s.count or 0) for s in plan.steps)
    say(f"  validated {path}: {items} items, {len(plan.steps)} steps, no problems")
    return plan


async def _apply_one(
    path: Path, client: CarrierX, options: RunOptions, journals: Path
) -> PlanResult:
    """Apply one example plan to a world that has none of it yet (else nothing is applied)."""
    from bulkx.diff.engine import diff
    from bulkx.diff.read import read_live_state

    plan = _valid_plan(path)
    changes = diff(plan, await read_live_state(client, plan))
    left = [c for c in changes if c.action != "noop"]
    if not left:
        say("  nothing to change: the sandbox already matches this plan (an earlier demo)")
        return PlanResult(str(path), note="nothing left to do (applied before)")
    # A world with any of the plan in place had it applied before (by a demo or by hand), and
    # what is left may be work done since (an E911 correction, a re-routed number).
    if len(left) < len(changes) or any(c.action == "blocked" for c in left):
        say(
            f"  not applied: this world has the plan in place already, and {len(left)} change(s)"
            " would be made to it (work done since?); the demo leaves it as it is."
            f" `bulkx plan {path}` shows them"
        )
        return PlanResult(str(path), note=f"not applied: {len(left)} change(s) since")
    return await _run(plan, path, client, options, journals)


async def _run(
    plan: ValidPlan, path: Path, client: CarrierX, options: RunOptions, journals: Path
) -> PlanResult:
    """Plan, apply (journaled, with a progress line) and plan again."""
    from bulkx.cli.progress import ProgressLine
    from bulkx.cli.render import summary_table
    from bulkx.diff.engine import diff
    from bulkx.diff.read import read_live_state
    from bulkx.engine.run import execute, plan_run, start_run

    prepared = await plan_run(plan, options, root=journals, client=client)
    summary = prepared.summary
    if summary.blocked or not summary.ops:  # changed by another process since the check
        prepared.discard()
        return PlanResult(str(path), note="not applied: the world changed while planning")
    for row in summary_table(summary):
        say(row)
    if cost := summary.monthly_cost():
        say(f"  monthly cost of new rentals: ${cost:,.2f}")
    run = start_run(journals, plan, prepared, options)
    say(f"  applying {summary.ops} operations (run {run.run_id})")
    line = ProgressLine()
    try:
        outcome = await execute(run, reporter=line, notify=say, client=client)
    finally:
        line.close()
    if outcome.state == "interrupted":
        say(
            f"  run {run.run_id} stopped ({outcome.stopped or 'interrupted'});"
            f" `bulkx resume {run.run_id}` goes on"
        )
        raise typer.Exit(outcome.exit_code)
    leftover = [c for c in diff(plan, await read_live_state(client, plan)) if c.action != "noop"]
    say(f"  planned again: {len(leftover)} change(s) left")
    return PlanResult(str(path), run.run_id, outcome.progress)


async def _rehearse(base_url: str, area: DemoArea) -> list[PlanResult]:
    from bulkx.api import CarrierX, Secret, Target
    from bulkx.engine.run import RunOptions

    target = Target(f"{base_url}/core/v2", is_sandbox=True, label=f"sandbox at {base_url}")
    # Journaled as a run on the embedded sandbox (its world, not this demo's passing port), so
    # `bulkx resume`, `status` and `report` of a demo run reach the same world afterwards.
    options = RunOptions(sandbox_db=str(area.sandbox_db))
    results = []
    async with CarrierX(target, Secret(DEMO_TOKEN)) as client:
        me = await client.get("core", "/oauth/whoami")
        say(f"  the sandbox answers on {base_url}/core/v2 (signed in as {me['name']!r})")
        for name in PLANS:
            say("")
            results.append(await _apply_one(area.examples / name, client, options, area.journals))
    return results


def _demo_area(workdir: Path | None, sandbox_db: Path | None) -> DemoArea:
    """The current folder's examples when it holds them (they are written here when it has no
    `plans/` and no `samples/`); else, beside the user's own, the installed ones are read."""
    from bulkx import examples

    here = Path()
    if examples.write_into_empty(here):
        say("  wrote the example plans/ and samples/ here")
    source = here if examples.holds_the_examples(here) else examples.shipped_root()
    if workdir is not None:  # the older spelling: a demo area of its own
        return DemoArea(source, sandbox_db or workdir / "sandbox.db", workdir)
    return DemoArea(source, sandbox_db or DEFAULT_SANDBOX_DB, journal_root())


def _open_sandbox(area: DemoArea, ported: Path) -> SandboxApp:
    """The sandbox on the area's world, with the ported numbers on the account (once)."""
    from bulkx.sandbox.app import SandboxConfig, create_app
    from bulkx.sandbox.resources.numbers import seed_ported
    from bulkx.sandbox.seeding import read_ported_csv

    numbers, problems = read_ported_csv(ported)
    if problems:
        for problem in problems:
            say(str(problem))
        raise typer.Exit(exit_codes.USAGE)
    area.sandbox_db.parent.mkdir(parents=True, exist_ok=True)
    try:
        app = create_app(SandboxConfig(db=area.sandbox_db, token=DEMO_TOKEN))
    except (sqlite3.DatabaseError, ValueError) as error:
        say(f"error: {area.sandbox_db} is not a sandbox world bulkx can use: {error}")
        raise typer.Exit(exit_codes.USAGE) from None
    added, already = seed_ported(app.world, numbers)
    say(
        f"  seeded {added} ported numbers from {ported} (assigned, no trunk group, no E911)"
        + (f"; {already} were there already" if already else "")
    )
    return app


def _print_summary(results: list[PlanResult], app: SandboxApp, elapsed: float) -> int:
    """The summary on stdout; returns how many items failed."""
    requests = len(app.controls.log.entries(0, 1_000_000))
    counts = app.world.store.counts()
    out = sys.stdout
    out.write("\nSummary\n")
    failed = 0
    for result in results:
        if result.progress is None:
            out.write(f"  {result.path:<24} {result.note}\n")
            continue
        failed += result.progress.failed
        out.write(
            f"  {result.path:<24} {result.progress.done:>4} succeeded,"
            f" {result.progress.failed} failed  (run {result.run_id})\n"
        )
    out.write(f"  DIDs on the account     {counts['dids']:>5}\n")
    out.write(f"  trunk groups            {counts['trunk_groups']:>5}\n")
    out.write(f"  meeting rooms           {counts.get('conf2_meeting_rooms', 0):>5}\n")
    out.write(f"  HTTP requests served    {requests:>5}\n")
    out.write(f"  elapsed                 {elapsed:>5.1f} s\n")
    return failed


def _next_steps(area: DemoArea) -> str:
    """The commands to go on with, spelled for this area (the defaults need no options)."""
    plan = area.examples / PLANS[0]
    options = "" if area.sandbox_db == DEFAULT_SANDBOX_DB else f" --sandbox-db {area.sandbox_db}"
    runs = "" if area.journals == journal_root() else f"BULKX_HOME={area.journals} "
    return (
        f"\nThe sandbox world is {area.sandbox_db}; the runs' journals are in {area.journals}/runs."
        f"\nNext (see README.md): `{runs}bulkx runs`, `bulkx plan {plan}{options}` (all in"
        f" place), `bulkx plan {area.examples / 'plans' / 'e911-correction.yaml'}{options}`"
        " (a correction to review).\n"
    )


def demo(
    workdir: Path | None = typer.Option(
        None,
        help="A demo area of its own: its sandbox world and journals go into this folder"
        " (default: the ones every command uses).",
        show_default=False,
    ),
    sandbox_db: Path | None = typer.Option(
        None,
        "--sandbox-db",
        help="The sandbox world to seed and apply to (default:"
        f" {DEFAULT_SANDBOX_DB}, the one `plan` and `apply` use). Never deleted.",
        show_default=False,
    ),
    ported: Path | None = typer.Option(
        None,
        help=f"The ported numbers to seed (default: the example {PORTED_CSV}).",
        show_default=False,
    ),
) -> None:
    """Port-in rehearsal on the embedded sandbox: seed, validate, plan, apply, verify; a summary.

    Works in any folder: the example plans come with bulkx (written to ./plans and ./samples
    when neither exists). Run again, it undoes nothing done since and deletes no file.
    """
    from bulkx.sandbox.server import quiet_dropped_connections, serve_in_thread

    started = time.monotonic()
    say("bulkx demo: a port-in rehearsal on the embedded CarrierX sandbox")
    try:
        area = _demo_area(workdir, sandbox_db)
        app = _open_sandbox(area, ported or area.examples / PORTED_CSV)
    except OSError as error:
        say(f"error: cannot set up the demo here: {error.filename or '.'}: {error.strerror}")
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    quiet_dropped_connections()
    try:
        with serve_in_thread(app) as server:
            results = run_on_loop(_rehearse(server.url, area))
            failed = _print_summary(results, app, time.monotonic() - started)
    except BulkxError as error:
        say(f"error: {error}")
        raise typer.Exit(exit_codes.ERROR) from None
    finally:
        app.world.store.close()
    sys.stdout.write(_next_steps(area))
    if failed:
        raise typer.Exit(exit_codes.PARTIAL)
