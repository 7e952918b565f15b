"""What a scenario of the fault campaign found, and the checks every scenario ends with."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.checker import Verdict
from tests.chaos.lab import MUTATING, Lab, Ran
from tests.chaos.workload import Workload


@dataclass
class Outcome:
    test: str
    processes: int = 0
    kills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)
    #: Figures measured on the way (largest WAL, pytest's summary...), for the table.
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and (self.verdict is None or self.verdict.valid)

    def expect(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition

    def merge(self, verdict: Verdict) -> None:
        if self.verdict is None:
            self.verdict = Verdict()
        self.verdict.counts.update(verdict.counts)
        for cls, examples in verdict.examples.items():
            self.verdict.examples.setdefault(cls, []).extend(examples[:5])

    def finish(self, bench: Lab, started: float) -> Outcome:
        self.processes = bench.processes
        self.kills = bench.kills
        self.faults.update(bench.faults_injected())
        self.faults.update({f"crash {p}": n for p, n in bench.crash_points.items()})
        self.seconds = time.perf_counter() - started
        return self

    def __str__(self) -> str:
        lines = [
            f"{self.test}: {'ok' if self.ok else 'FAILED'} ({self.processes} bulkx runs,"
            f" {self.kills} killed, faults {dict(self.faults)}; {'; '.join(self.notes)})"
        ]
        if self.verdict is not None:
            lines.append(f"  checker: {self.verdict}")
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def expect_exit(outcome: Outcome, ran: Ran, expected: int, what: str) -> bool:
    return outcome.expect(
        ran.code == expected, f"{what} exited {ran.code}, not {expected}: {ran.stderr[-800:]}"
    )


def settle_and_check(
    outcome: Outcome, bench: Lab, workload: Workload, run_id: str, thorough: bool
) -> None:
    """The end of every scenario: the journal is intact and the checker's classes hold; when
    `thorough` (two more bulkx runs), a second resume sends nothing and planning again finds
    nothing left to change."""
    outcome.expect(bench.integrity(run_id) == "ok", f"integrity_check of {run_id} failed")
    outcome.merge(bench.check(workload, run_id))
    if not thorough:
        return
    bench.app.controls.clear_faults()
    since = bench.last_seq()
    again = bench.run("resume", run_id, "--yes")
    outcome.expect(
        # 3 when the run's history has a failed item: the exit code covers every resume.
        again.code in (0, 3) and "Nothing left to do" in again.stderr,
        f"a second resume did not find the run complete: {again.stderr[-400:]}",
    )
    sent = [e for e in bench.requests(since) if e["method"] in MUTATING]
    outcome.expect(not sent, f"a second resume sent {len(sent)} writes")
    replan = bench.run("plan", str(workload.plan), "--base-url", bench.base, "--detailed-exitcode")
    if replan.code == 2:
        outcome.problems.append(f"planning again finds changes: {replan.stdout[-600:]}")
    else:
        expect_exit(outcome, replan, 0, "planning again")


def wait_for_run(bench: Lab, process: Any, timeout: float = 120) -> str | None:
    """The run id once the journal holds every intent (or None if the process ended first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = bench.run_ids()
        if runs and sum(bench.counts(runs[-1]).values()):
            return runs[-1]
        if process.poll() is not None:
            return bench.run_ids()[-1] if bench.run_ids() else None
        time.sleep(0.02)
    return None
