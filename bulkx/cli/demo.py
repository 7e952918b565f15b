"""`bulkx demo`: the main job, start to finish, on a fresh embedded sandbox.

It starts the sandbox on 127.0.0.1, seeds the numbers of a completed port-in, then validates,
plans and applies two example plans (the port-in setup, then a new site), journaled, with live
progress, and checks that nothing is left to do.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.cli import exit_codes
from bulkx.errors import BulkxError

if TYPE_CHECKING:
    from bulkx.engine.events import Progress
    from bulkx.plan.model import Plan

# The sandbox, the client and the engine are imported when the demo runs, not at start-up.

DEMO_TOKEN = "demo-token-0000"
PORTED_CSV = Path("samples") / "ported-numbers.csv"
PLANS = (Path("plans") / "port-in.yaml", Path("plans") / "new-site.yaml")


def say(text: str) -> None:
    sys.stderr.write(text + "\n")


def _valid_plan(path: Path) -> Plan:
    from bulkx.plan.load import load_plan
    from bulkx.plan.validate import validate

    plan, diagnostics = load_plan(path)
    if plan is not None:
        diagnostics = diagnostics + validate(plan)
    errors = [d for d in diagnostics if d.severity == "error"]
    if plan is None or errors:
        for problem in errors:
            say(str(problem))
        raise typer.Exit(exit_codes.USAGE)
    items = sum(len(s) + (s.count or 0) for s in plan.steps)
    say(f"  validated {path}: {items} items, {len(plan.steps)} steps, no problems")
    return plan


async def _rehearse(base_url: str, workdir: Path) -> list[tuple[str, str, Progress]]:
    from bulkx.api import CarrierX, Secret, Target
    from bulkx.cli.progress import ProgressLine
    from bulkx.cli.render import summary_table
    from bulkx.diff.engine import diff
    from bulkx.diff.read import read_live_state
    from bulkx.engine.run import RunOptions, execute, plan_run, start_run

    target = Target(f"{base_url}/core/v2", is_sandbox=True, label=f"sandbox at {base_url}")
    options = RunOptions(base_url=f"{base_url}/core/v2", sandbox_db=str(workdir / "sandbox.db"))
    results = []
    async with CarrierX(target, Secret(DEMO_TOKEN)) as client:
        me = await client.get("core", "/oauth/whoami")
        say(f"  the sandbox answers on {base_url}/core/v2 (signed in as {me['name']!r})")
        for path in PLANS:
            say("")
            plan = _valid_plan(path)
            prepared = await plan_run(plan, options, root=workdir, client=client)
            for row in summary_table(prepared.summary):
                say(row)
            cost = prepared.summary.monthly_cost()
            if cost:
                say(f"  monthly cost of new rentals: ${cost:,.2f}")
            run = start_run(workdir, plan, prepared, options)
            say(f"  applying {prepared.summary.ops} operations (run {run.run_id})")
            line = ProgressLine()
            try:
                outcome = await execute(run, reporter=line, notify=say, client=client)
            finally:
                line.close()
            leftover = [c for c in diff(plan, await read_live_state(client, plan))
                        if c.action != "noop"]  # fmt: skip
            say(f"  planned again: {len(leftover)} change(s) left")
            results.append((str(path), run.run_id, outcome.progress))
    return results


def demo(
    workdir: Path = typer.Option(
        Path(".bulkx") / "demo", help="Where the demo keeps its sandbox and journals (recreated)."
    ),
    ported: Path = typer.Option(PORTED_CSV, help="The ported numbers to seed."),
) -> None:
    """Port-in rehearsal on a fresh sandbox: seed, validate, plan, apply, verify; a summary."""
    from bulkx.sandbox.app import SandboxConfig, create_app
    from bulkx.sandbox.resources.numbers import seed_ported
    from bulkx.sandbox.seeding import read_ported_csv
    from bulkx.sandbox.server import quiet_dropped_connections, serve_in_thread

    started = time.monotonic()
    numbers, problems = read_ported_csv(ported)
    if problems:
        for problem in problems:
            say(str(problem))
        raise typer.Exit(exit_codes.USAGE)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(SandboxConfig(db=workdir / "sandbox.db", seed=0, token=DEMO_TOKEN))
    say("bulkx demo: a port-in rehearsal on the embedded CarrierX sandbox")
    added, _ = seed_ported(app.world, numbers)
    say(f"  seeded {added} ported numbers from {ported} (assigned, no trunk group, no E911)")
    quiet_dropped_connections()
    with serve_in_thread(app) as server:
        try:
            results = asyncio.run(_rehearse(server.url, workdir))
        except BulkxError as error:
            say(f"error: {error}")
            raise typer.Exit(exit_codes.ERROR) from None
        requests = len(app.controls.log.entries(0, 1_000_000))
        counts = app.world.store.counts()
    elapsed = time.monotonic() - started
    out = sys.stdout
    out.write("\nSummary\n")
    failed = 0
    for path, run_id, progress in results:
        failed += progress.failed
        out.write(f"  {path:<24} {progress.done:>4} succeeded, {progress.failed} failed"
                  f"  (run {run_id})\n")  # fmt: skip
    out.write(f"  DIDs on the account     {counts['dids']:>5}\n")
    out.write(f"  trunk groups            {counts['trunk_groups']:>5}\n")
    out.write(f"  meeting rooms           {counts.get('conf2_meeting_rooms', 0):>5}\n")
    out.write(f"  HTTP requests served    {requests:>5}\n")
    out.write(f"  elapsed                 {elapsed:>5.1f} s\n")
    out.write(
        f"\nJournals are in {workdir}/runs. Next: `bulkx sandbox serve`, then"
        " `bulkx plan plans/port-in.yaml` against your own rehearsal (see README.md).\n"
    )
    if failed:
        raise typer.Exit(exit_codes.PARTIAL)
