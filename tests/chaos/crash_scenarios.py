"""T1 and T2: kill -9 at random moments, and at every named crash point, then resume."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

from bulkx.engine.crashpoints import POINTS
from tests.chaos.lab import FAULTS, Lab, lab
from tests.chaos.outcome import Outcome, expect_exit, settle_and_check, wait_for_run

# --- T1 -----------------------------------------------------------------------------------


def kill_and_resume(
    directory: Path, *, items: int, kills: int, seed: int, thorough: bool = True
) -> Outcome:
    """T1: kill -9 at random points of a mixed run with faults (and a rate limit) on, resume
    after each kill, then check plan vs journal vs sandbox."""
    started = time.perf_counter()
    outcome = Outcome(f"T1 kill -9 x{kills}, {items} items")
    rng = random.Random(seed)
    with lab(directory, faults=FAULTS, seed=seed) as bench:
        bench.app.controls.set_rate_limit(200, 20)
        workload = bench.workload(items)
        process = bench.apply(workload, "--concurrency", "8")
        run_id = wait_for_run(bench, process)
        if not outcome.expect(run_id is not None, "the apply never journaled its run"):
            return outcome.finish(bench, started)
        assert run_id is not None
        while bench.kills < kills:
            _wait_before_kill(bench, process, run_id, rng, items=workload.items, kills=kills)
            if process.poll() is not None:  # it finished between two kills
                break
            bench.kill(process)
            process = bench.start("resume", run_id, "--yes", "--concurrency", "8")
        final = bench.wait(process)
        done = bench.counts(run_id).get("succeeded", 0)
        expect_exit(outcome, final, 0, "the last resume")
        outcome.expect(
            bench.kills >= kills,
            f"only {bench.kills} of {kills} kills landed: the run finished first ({done} done)",
        )
        settle_and_check(outcome, bench, workload, run_id, thorough)
        if thorough:
            report = json.loads(bench.run("report", run_id, "-o", "json").stdout)
            by_state = Counter(item["state"] for item in report["items"])
            counts = {k: v for k, v in bench.counts(run_id).items() if v}
            outcome.expect(dict(by_state) == counts, f"report {dict(by_state)} != journal {counts}")
        return outcome.finish(bench, started)


def _wait_before_kill(
    bench: Lab,
    process: subprocess.Popen[str],
    run_id: str,
    rng: random.Random,
    *,
    items: int,
    kills: int,
) -> None:
    """Wait for a random moment to kill: either after some more journaled progress, or after
    a random time (often while it starts up, reopens or reconciles). Either way at most an even
    share of what is left may finish first, so the run cannot end before the kills do (a resume
    reads no live state before it sends, so at the lab's 200/s it would otherwise finish the
    whole workload within one of the longer random waits)."""
    done = bench.counts(run_id).get("succeeded", 0)
    share = max(1, (items - done) // (kills - bench.kills + 1))
    if rng.random() < 0.5:
        limit, deadline = done + rng.randint(1, share), time.monotonic() + 60
    else:
        limit, deadline = done + share, time.monotonic() + rng.uniform(0.05, 1.0)
    while process.poll() is None and time.monotonic() < deadline:
        if bench.counts(run_id).get("succeeded", 0) >= limit:
            return
        time.sleep(rng.uniform(0.005, 0.05))


# --- T2 -----------------------------------------------------------------------------------


def _crash_case(bench: Lab, point: str, n: int, items: int, outcome: Outcome) -> bool:
    """One crash at `point`, the n-th time it is reached; then resume and check. Returns False
    when the run finished without reaching the point n times (no more cases for this point)."""
    prefix = f"t2-{point.replace('_', '-')}-{n}"
    bench.home = bench.cwd / prefix / ".bulkx"
    workload = bench.workload(items, prefix)
    if point == "during_reconcile":
        # Reconciliation needs unknown outcomes: a crash after a send leaves one in flight.
        first = bench.wait(bench.apply(workload, crashpoint="after_send_before_response:1"))
        outcome.expect(first.killed, f"{prefix}: the first crash did not happen")
        crashed = bench.run("resume", bench.only_run(), "--yes", crashpoint=f"{point}:{n}")
    else:
        crashed = bench.wait(bench.apply(workload, crashpoint=f"{point}:{n}"))
    if not outcome.expect(
        len(bench.run_ids()) == 1, f"{prefix}: no run was journaled: {crashed.stderr[-600:]}"
    ):
        return False
    run_id = bench.only_run()
    if crashed.killed:
        bench.crash_points[point] += 1
        resumed = bench.run("resume", run_id, "--yes")
        expect_exit(outcome, resumed, 0, f"{prefix}: the resume")
    else:
        expect_exit(outcome, crashed, 0, f"{prefix}: the run that never reached the point")
    verdict = bench.check(workload, run_id)
    outcome.expect(verdict.valid, f"{prefix}: {verdict}")
    outcome.merge(verdict)
    outcome.expect(bench.integrity(run_id) == "ok", f"{prefix}: integrity_check failed")
    return crashed.killed


def crash_points(
    directory: Path, *, points: tuple[str, ...] = POINTS, max_n: int, items: int, seed: int
) -> Outcome:
    """T2: for each crash point, n = 1, 2, 3... until a run completes without reaching it
    (or max_n): crash there, resume, check."""
    started = time.perf_counter()
    outcome = Outcome(f"T2 crash points ({len(points)}, n <= {max_n})")
    with lab(directory, seed=seed) as bench:
        for point in points:
            for n in range(1, max_n + 1):
                if not _crash_case(bench, point, n, items, outcome):
                    break
        return outcome.finish(bench, started)
