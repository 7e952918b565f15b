"""Two runs never work on the same objects of a target at once (issue 15, item 1): a second
`bulkx apply` of the same plan, or of one that overlaps it (a trunk group, an SMS `ref`, the
rent-by-count step), exits 6 naming the run that holds them; plans on disjoint objects go side
by side; a killed run's claims block nobody. Real `bulkx` processes against a sandbox served
on 127.0.0.1; what exists is counted through the API.

The race is made deterministic by holding the first run: it is stopped (SIGSTOP) once it holds
its claims and is reading live state, so the others meet its claims every time; it is
continued (SIGCONT) once they have ended. A stopped process is alive: its claims hold.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bulkx import exit_codes
from tests.chaos.lab import Lab, Ran, lab
from tests.chaos.overlap_bench import (
    OverlapPlan,
    apply_args,
    holder_named,
    missing_or_repeated,
    wait_until_reading,
    write_plan,
)

pytestmark = pytest.mark.timeout(300)

#: Slow enough that a run is still at work when the next one starts.
LATENCY = "latency=20ms"


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Lab]:
    with lab(tmp_path, faults=LATENCY) as opened:
        yield opened


@contextmanager
def held(bench: Lab, plan: OverlapPlan, *args: str) -> Iterator[tuple[str, int]]:
    """An apply of `plan` (or the bulkx command `args`), stopped once it holds its claims;
    yields its run id and pid; continued on the way out and expected to finish with exit 0."""
    since = bench.last_seq()
    process = bench.start(*(args or apply_args(bench, plan)))
    try:
        run_id = wait_until_reading(bench, process.pid, since)
        os.kill(process.pid, signal.SIGSTOP)
        yield run_id, process.pid
    finally:
        os.kill(process.pid, signal.SIGCONT)
        ran = bench.wait(process)
    assert ran.code == exit_codes.OK, ran.stderr[-1500:]


def refused_by(ran: Ran, run_id: str, pid: int) -> None:
    assert ran.code == exit_codes.ENVIRONMENT, ran.stderr[-1500:]
    assert holder_named(ran.stderr) == (run_id, pid), ran.stderr[-1500:]
    assert f"bulkx status {run_id}" in ran.stderr
    assert "Traceback" not in ran.stderr


def together(bench: Lab, *commands: tuple[str, ...]) -> list[Ran]:
    """Start every command at once, then wait for each."""
    started: list[subprocess.Popen[str]] = [bench.start(*command) for command in commands]
    return [bench.wait(process) for process in started]


def test_a_second_and_a_third_apply_of_one_plan_are_refused_naming_the_holder(
    bench: Lab,
) -> None:
    plan = write_plan(bench, "one", groups=range(30), refs=range(8), rents=4)
    with held(bench, plan) as (run_id, pid):
        second, third = together(bench, apply_args(bench, plan), apply_args(bench, plan))
        refused_by(second, run_id, pid)
        refused_by(third, run_id, pid)
        assert bench.run_ids() == [run_id]  # a refused apply leaves no run behind
    assert missing_or_repeated(bench, [plan]) == []


def test_overlapping_plans_wait_for_the_holder_then_finish_what_is_theirs(bench: Lab) -> None:
    first = write_plan(bench, "first", groups=range(20), refs=range(6), rents=3)
    # A trunk group and an SMS ref in common; or only the rent-by-count step.
    shares_objects = write_plan(bench, "objects", groups=range(15, 30), refs=range(5, 10))
    shares_rent = write_plan(bench, "rent", groups=range(100, 105), refs=range(100, 102), rents=3)
    with held(bench, first) as (run_id, pid):
        for ran in together(
            bench, apply_args(bench, shares_objects), apply_args(bench, shares_rent)
        ):
            refused_by(ran, run_id, pid)
    # Once the holder is done, each applies what is still missing: nothing twice.
    for plan in (shares_objects, shares_rent):
        again = bench.run(*apply_args(bench, plan))
        assert again.code == exit_codes.OK, again.stderr[-1500:]
    assert missing_or_repeated(bench, [first, shares_objects, shares_rent]) == []


def test_disjoint_plans_go_side_by_side(bench: Lab) -> None:
    first = write_plan(bench, "first", groups=range(20), refs=range(6), rents=3)
    other = write_plan(
        bench,
        "other",
        groups=range(200, 220),
        refs=range(200, 206),
        rents=3,
        rent_step="other-rent",
    )
    with held(bench, first):
        beside = bench.run(*apply_args(bench, other))
        assert beside.code == exit_codes.OK, beside.stderr[-1500:]
    assert missing_or_repeated(bench, [first, other]) == []


def test_applies_started_together_make_everything_once(bench: Lab) -> None:
    """No holding: three applies of one plan race from the start. Whoever loses a claim exits
    6 naming a run of the others; one that starts after the winner ended finds nothing to do."""
    plan = write_plan(bench, "race", groups=range(40), refs=range(10), rents=5)
    ran = together(bench, *[apply_args(bench, plan)] * 3)
    codes = sorted(r.code for r in ran)
    assert set(codes) <= {exit_codes.OK, exit_codes.ENVIRONMENT}, [r.stderr[-800:] for r in ran]
    assert codes[0] == exit_codes.OK
    runs = set(bench.run_ids())
    for loser in (r for r in ran if r.code == exit_codes.ENVIRONMENT):
        named = holder_named(loser.stderr)
        assert named is not None and named[0] in runs, loser.stderr[-800:]
    assert missing_or_repeated(bench, [plan]) == []


def test_a_killed_apply_blocks_no_resume_and_its_resume_holds_the_rest(bench: Lab) -> None:
    plan = write_plan(bench, "killed", groups=range(60), refs=range(6), rents=3)
    since = bench.last_seq()
    process = bench.start(*apply_args(bench, plan, "--concurrency", "1"))
    run_id = wait_until_reading(bench, process.pid, since)
    bench.when_sending(lambda: None)  # it has started sending: some done, some not
    bench.kill(process)
    # The dead run's claims hold nothing: its resume claims what is left, under its own pid,
    # and an overlapping apply meanwhile is refused by the resume.
    with held(bench, plan, "resume", run_id, "--yes") as (resumed, pid):
        assert resumed == run_id
        refused_by(bench.run(*apply_args(bench, plan)), run_id, pid)
    assert missing_or_repeated(bench, [plan]) == []


def test_a_resume_is_refused_while_a_live_run_holds_its_objects(bench: Lab) -> None:
    """And once that run has ended, the resume finds what it made instead of making it again."""
    plan = write_plan(bench, "stopped", groups=range(40), refs=range(4))
    since = bench.last_seq()
    process = bench.start(*apply_args(bench, plan, "--concurrency", "1"))
    stopped = wait_until_reading(bench, process.pid, since)
    bench.when_sending(lambda: None)
    bench.kill(process)
    overlapping = write_plan(bench, "later", groups=range(20, 60), refs=range(2, 6))
    with held(bench, overlapping) as (run_id, pid):
        resume = bench.run("resume", stopped, "--yes")
        refused_by(resume, run_id, pid)
    resumed = bench.run("resume", stopped, "--yes")
    assert resumed.code == exit_codes.OK, resumed.stderr[-1500:]
    assert missing_or_repeated(bench, [plan, overlapping]) == []
