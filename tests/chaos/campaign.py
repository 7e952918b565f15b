"""The fault campaign: every scenario of tests/chaos/scenarios.py, one table.

    python -m tests.chaos.campaign --quick [--seed N]   # make chaos-quick: under 3 minutes
    python -m tests.chaos.campaign --full [--seed N]    # make chaos
    python -m tests.chaos.campaign --full --only T1,T5b # some scenarios

Everything runs on 127.0.0.1 (a sandbox in this process, bulkx in child processes), every
bulkx run has a time limit, and the seed fixes every random choice (kill moments, fault dice),
so a failing schedule replays with the same --seed. Exit status 1 when any scenario fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.chaos import overlap_scenarios, scenarios
from tests.chaos.checker import CLASSES
from tests.chaos.scenarios import Outcome


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Path, int], Outcome]


def _steps(full: bool) -> list[Step]:
    s, o = scenarios, overlap_scenarios
    if full:
        return [
            Step("T1", lambda d, seed: s.kill_and_resume(d, items=2000, kills=20, seed=seed)),
            Step("T2", lambda d, seed: s.crash_points(d, max_n=30, items=8, seed=seed)),
            Step("T3", lambda d, seed: s.lost_answers(d, items=300, seed=seed)),
            Step(
                "T4",
                lambda d, seed: s.storm(
                    d, items=600, seconds=10, retry_after=2, concurrency=8, after=1, seed=seed
                ),
            ),
            Step("T4b", lambda d, seed: s.rate_ceiling(d, items=400, rate=50, seed=seed)),
            Step("T5", lambda d, seed: s.outage(d, items=200, seconds=10, stop_after=3, seed=seed)),
            # An outage longer than one operation's retries, shorter than the default breaker.
            Step(
                "T5b",
                lambda d, seed: s.outage(
                    d, items=200, seconds=30, stop_after=None, expect_stop=False, seed=seed
                ),
            ),
            Step("T6", lambda d, seed: s.expired_credentials(d, items=300, seed=seed)),
            Step("T9", lambda d, seed: s.token_canary(d, items=100, seed=seed)),
            Step("T10", lambda d, seed: s.permissions(d, items=40, seed=seed)),
            Step("T12", lambda d, seed: s.second_writer(d, items=100, seed=seed)),
            Step("T13", lambda d, seed: s.monitored_run(d, dids=50_000, seed=seed)),
            Step("T15", lambda d, seed: o.concurrent_applies(d, runs=2, items=300, seed=seed)),
            Step("T15b", lambda d, seed: o.concurrent_applies(d, runs=3, items=300, seed=seed)),
            Step("T16", lambda d, seed: o.truncated_wal(d, items=500, seed=seed)),
            Step("T7/T8", lambda d, seed: s.property_suites(1000)),
            Step("T8b", lambda d, seed: s.plan_fuzz(10_000)),
        ]
    return [
        Step("T1", lambda d, seed: s.kill_and_resume(d, items=400, kills=5, seed=seed)),
        Step("T2", lambda d, seed: s.crash_points(d, max_n=1, items=6, seed=seed)),
        Step("T3", lambda d, seed: s.lost_answers(d, items=60, seed=seed, thorough=False)),
        Step("T4", lambda d, seed: s.storm(d, items=300, after=1, seed=seed, thorough=False)),
        Step(
            "T4b", lambda d, seed: s.rate_ceiling(d, items=100, rate=40, seed=seed, thorough=False)
        ),
        Step(
            "T5",
            lambda d, seed: s.outage(
                d, items=60, seconds=4, stop_after=1, seed=seed, thorough=False
            ),
        ),
        Step("T6", lambda d, seed: s.expired_credentials(d, items=60, seed=seed, thorough=False)),
        Step("T9", lambda d, seed: s.token_canary(d, items=30, seed=seed, thorough=False)),
        Step("T10", lambda d, seed: s.permissions(d, items=20, seed=seed)),
        Step("T12", lambda d, seed: s.second_writer(d, items=60, seed=seed, thorough=False)),
        Step("T13", lambda d, seed: s.monitored_run(d, dids=3000, seed=seed)),
        Step("T15", lambda d, seed: o.concurrent_applies(d, runs=2, items=30, seed=seed)),
        Step("T15b", lambda d, seed: o.concurrent_applies(d, runs=3, items=30, seed=seed)),
        Step("T16", lambda d, seed: o.truncated_wal(d, items=60, seed=seed)),
        Step("T7/T8", lambda d, seed: s.property_suites(150)),
        Step("T8b", lambda d, seed: s.plan_fuzz(300)),
    ]


def _faults(outcome: Outcome) -> str:
    parts = [f"{name} {count}" for name, count in sorted(outcome.faults.items())]
    if outcome.kills:
        parts.insert(0, f"SIGKILL {outcome.kills}")
    return ", ".join(parts + outcome.notes) or "-"


def table(outcomes: list[tuple[str, Outcome]]) -> str:
    head = ["test", "what", "runs", *CLASSES, "result", "secs", "faults injected / measured"]
    rows = [head]
    for name, o in outcomes:
        counts = o.verdict.row() if o.verdict else {}
        rows.append(
            [
                name,
                o.test,
                str(o.processes),
                *(str(counts[c]) if o.verdict else "-" for c in CLASSES),
                "ok" if o.ok else "FAILED",
                f"{o.seconds:.0f}",
                _faults(o),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 26)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="reduced sizes, under 3 minutes")
    size.add_argument("--full", action="store_true", help="the designs' sizes")
    parser.add_argument("--seed", type=int, default=1, help="replays a schedule (default 1)")
    parser.add_argument("--only", help="comma-separated scenario names, e.g. T1,T5b")
    args = parser.parse_args()
    steps = _steps(args.full)
    if args.only:
        wanted = set(args.only.split(","))
        steps = [s for s in steps if s.name in wanted]
    mode = "full" if args.full else "quick"
    print(f"bulkx fault campaign ({mode}, seed {args.seed}): {len(steps)} scenarios", flush=True)
    started = time.perf_counter()
    outcomes: list[tuple[str, Outcome]] = []
    with tempfile.TemporaryDirectory(prefix="bulkx-chaos-") as tmp:
        for step in steps:
            try:
                outcome = step.run(Path(tmp) / step.name.replace("/", "-"), args.seed)
            except Exception as error:  # a scenario that breaks is a failed scenario
                outcome = Outcome(step.name, problems=[f"{type(error).__name__}: {error}"])
            outcomes.append((step.name, outcome))
            print(
                f"  {step.name}: {'ok' if outcome.ok else 'FAILED'} in {outcome.seconds:.0f} s",
                flush=True,
            )
    print()
    print(table(outcomes))
    failed = [(n, o) for n, o in outcomes if not o.ok]
    for name, outcome in failed:
        print(f"\n{name}: {outcome}")
    total = time.perf_counter() - started
    print(
        f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed in {total:.0f} s"
        f" (seed {args.seed})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
