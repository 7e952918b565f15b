"""T15 and T16: runs that would touch the same objects, and a journal that lost commits.

- T15 (issue 15, item 1): two or three `bulkx apply` of overlapping plans (trunk groups, SMS
  `ref`s and one rent-by-count step in common), and as many of one plan, started together at
  seeded moments. Each exits 0, or 6 naming the run that holds its objects; the refused ones
  are applied again once the others have ended. 0 objects made twice, 0 sends repeated, every
  planned object there once.
- T16 (issue 15, item 6): an apply killed half way, its `-wal` cut at a commit (half of its
  state changes lost: "done" rows become "pending" again), then resumed. The resume says the
  journal lost commits, looks the pending creates up live before sending them, and makes 0
  duplicates.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from tests.chaos.lab import Lab, Ran, lab
from tests.chaos.outcome import Outcome, expect_exit, wait_for_run
from tests.chaos.overlap_bench import (
    OverlapPlan,
    apply_args,
    cut_wal,
    found_live_on_resume,
    holder_named,
    missing_or_repeated,
    repeated,
    write_plan,
)

#: Enough latency that runs started together are at work at the same time.
T15_FAULTS = "latency=5ms,jitter=5ms"
T16_FAULTS = "latency=10ms"
REFUSED = 6


def _race(bench: Lab, plans: list[OverlapPlan], rng: random.Random) -> list[Ran]:
    """Start an apply of each plan, a seeded moment (under 0.3 s) apart; wait for each."""
    started = []
    for plan in plans:
        started.append(bench.start(*apply_args(bench, plan)))
        time.sleep(rng.uniform(0, 0.3))
    return [bench.wait(process) for process in started]


def _round(
    outcome: Outcome, bench: Lab, plans: list[OverlapPlan], rng: random.Random, what: str
) -> int:
    """One race of `plans`; the refused applied again after. Returns how many were refused."""
    ran = _race(bench, plans, rng)
    runs = set(bench.run_ids())
    outcome.expect(
        any(r.code == 0 for r in ran), f"{what}: no apply succeeded: {[r.code for r in ran]}"
    )
    refused = [plan for plan, r in zip(plans, ran, strict=True) if r.code == REFUSED]
    for r in ran:
        if r.code == REFUSED:
            named = holder_named(r.stderr)
            outcome.expect(
                named is not None and named[0] in runs,
                f"{what}: a refused apply names no run of the others: {r.stderr[-400:]}",
            )
        elif r.code != 0:
            expect_exit(outcome, r, 0, f"{what}: an apply")
    for plan in refused:
        expect_exit(outcome, bench.run(*apply_args(bench, plan)), 0, f"{what}: a refused plan")
    made_twice, sent_twice = repeated(bench, plans)
    outcome.expect(made_twice == 0, f"{what}: {made_twice} objects made more than once")
    outcome.expect(sent_twice == 0, f"{what}: {sent_twice} sends repeated")
    problems = missing_or_repeated(bench, plans)
    outcome.expect(not problems, f"{what}: {problems[:10]}")
    return len(refused)


def concurrent_applies(directory: Path, *, runs: int, items: int, seed: int) -> Outcome:
    """T15: `runs` overlapping plans raced, then `runs` applies of one plan raced."""
    started = time.perf_counter()
    rng = random.Random(seed)
    outcome = Outcome(f"T15 {runs} concurrent applies")
    with lab(directory, faults=T15_FAULTS, seed=seed) as bench:
        groups, refs, rents = max(4, items * 2 // 3), max(2, items // 6), max(1, items // 10)
        overlapping = [
            write_plan(
                bench,
                f"overlap{i}",
                prefix=f"t15o{runs}",
                groups=range(i * groups // 2, i * groups // 2 + groups),
                refs=range(i * refs // 2, i * refs // 2 + refs),
                rents=rents,
            )
            for i in range(runs)
        ]
        refused = _round(outcome, bench, overlapping, rng, "overlapping plans")
        one = write_plan(
            bench,
            "same",
            prefix=f"t15s{runs}",
            groups=range(groups),
            refs=range(refs),
            rents=rents,
            rent_step="same-rent",
        )
        refused += _round(outcome, bench, [one] * runs, rng, "one plan")
        made_twice, sent_twice = repeated(bench, [*overlapping, one])
        outcome.notes.append(
            f"{refused} refused (exit 6), {made_twice} made twice, {sent_twice} sent twice"
        )
        return outcome.finish(bench, started)


def truncated_wal(directory: Path, *, items: int, seed: int, keep: float = 0.5) -> Outcome:
    """T16: kill an apply half way, cut its journal's `-wal` to `keep` of its state changes,
    resume: the loss is reported and nothing is made twice."""
    started = time.perf_counter()
    outcome = Outcome("T16 truncated WAL, resume")
    with lab(directory, faults=T16_FAULTS, seed=seed) as bench:
        plan = write_plan(
            bench, "wal", prefix="t16", groups=range(items), refs=range(max(2, items // 10))
        )
        process = bench.start(*apply_args(bench, plan, "--concurrency", "2"))
        run_id = wait_for_run(bench, process)
        if not outcome.expect(run_id is not None, "the apply never journaled its run"):
            bench.kill(process)
            return outcome.finish(bench, started)
        assert run_id is not None
        _wait_for_half(bench, run_id, process, items)
        bench.kill(process)
        db = bench.home / "runs" / f"{run_id}.db"
        before, after = cut_wal(db, keep, directory / "scratch")
        resumed = bench.run("resume", run_id, "--yes")
        expect_exit(outcome, resumed, 0, "the resume")
        if after < before:
            outcome.expect(
                "lost committed changes" in resumed.stderr,
                f"the resume did not report the lost commits: {resumed.stderr[-600:]}",
            )
        made_twice, sent_twice = repeated(bench, [plan])
        outcome.expect(made_twice == 0, f"{made_twice} trunk groups made twice")
        outcome.expect(sent_twice == 0, f"{sent_twice} SMS sent twice")
        problems = missing_or_repeated(bench, [plan])
        outcome.expect(not problems, f"after the resume: {problems[:10]}")
        outcome.expect(bench.integrity(run_id) == "ok", "integrity_check failed after resume")
        outcome.notes.append(
            f"WAL cut: {before} -> {after} state changes; {found_live_on_resume(db)} creates"
            f" found live; {made_twice} made twice"
        )
        return outcome.finish(bench, started)


def _wait_for_half(bench: Lab, run_id: str, process: object, items: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and getattr(process, "poll")() is None:  # noqa: B009
        if bench.counts(run_id).get("succeeded", 0) >= items // 2:
            return
        time.sleep(0.02)
