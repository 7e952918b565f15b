"""T3-T6: lost answers, a 429 storm and the rate ceiling, an outage, an expired credential."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.checker import read_journal
from tests.chaos.lab import MUTATING, Lab, lab
from tests.chaos.nemesis import LoseFirstAnswer
from tests.chaos.outcome import Outcome, expect_exit, settle_and_check

# --- T3 -----------------------------------------------------------------------------------


class _ChosenWrites:
    """The chooser of T3: which writes lose their first answer. It chooses nothing until
    armed, so the seeding of the lab goes through untouched."""

    def __init__(self) -> None:
        self.armed = False
        self.rooms: set[str] = set()
        #: The sids of the numbers whose E911 record is chosen.
        self.e911: set[str] = set()

    def __call__(self, method: str, path: str, body: Any) -> str | None:
        if not self.armed or not isinstance(body, dict):
            return None
        if path.endswith("/meeting_rooms") and body.get("name") in self.rooms:
            return f"room {body['name']}"
        if path.endswith("/emergency") and path.split("/")[-2] in self.e911:
            return f"e911 {path.split('/')[-2]}"
        attributes = body.get("attributes") or {}
        if path.endswith("/phonenumber/dids") and attributes.get("bulkx_step"):
            number = str(body.get("phonenumber", "0"))
            return f"rent {number}" if int(number[-1]) % 3 == 0 else None
        if path.endswith(("/trunk_groups", "/endpoints")) and method == "POST":
            return f"create {body.get('name')}"
        return None


def lost_answers(directory: Path, *, items: int, seed: int, thorough: bool = True) -> Outcome:
    """T3: the first answer to chosen writes (every third room, E911 record and rented number,
    the trunk group, the endpoint) is lost after the sandbox applied them: each must be looked
    up, found, and end succeeded exactly once, as "recovered"."""
    started = time.perf_counter()
    outcome = Outcome(f"T3 execute-then-reset, {items} items")
    chosen = _ChosenWrites()
    wrappers: list[LoseFirstAnswer] = []

    def wrap(app: Any) -> LoseFirstAnswer:
        wrappers.append(LoseFirstAnswer(app, chosen))
        return wrappers[0]

    with lab(directory, seed=seed, wrap=wrap) as bench:
        workload = bench.workload(items)
        sids = {
            n: s for n, s in bench.app.world.store.rows("SELECT c_phonenumber, sid FROM t_dids")
        }
        chosen.rooms = set(workload.rooms[::3])
        chosen.e911 = {sids[n] for n in list(workload.e911)[::3]}
        chosen.armed = True
        ran = bench.wait(bench.apply(workload, "--concurrency", "4"))
        expect_exit(outcome, ran, 0, "the apply")
        run_id = bench.only_run()
        lost = wrappers[0].lost
        outcome.expect(
            len(lost) >= len(chosen.rooms) + len(chosen.e911) + 2,
            f"only {len(lost)} answers were lost: the chooser missed items",
        )
        settle_and_check(outcome, bench, workload, run_id, thorough)
        _expect_lost_answers_recovered(outcome, bench, run_id, lost, sids)
        outcome.faults["answer lost (chosen)"] += len(lost)
        return outcome.finish(bench, started)


def _expect_lost_answers_recovered(
    outcome: Outcome, bench: Lab, run_id: str, lost: list[str], sids: dict[str, str]
) -> None:
    """A create whose answer is lost is unknown until looked up ("recovered"); an update's
    is simply sent again (the desired state, idempotent): it needs a second attempt."""
    creates = [i for i in lost if not i.startswith("e911")]
    recovered = outcome.verdict.counts["recovered"] if outcome.verdict else 0
    outcome.expect(
        recovered == len(creates),
        f"{len(creates)} create answers lost but {recovered} items recovered",
    )
    number_of = {s: n for n, s in sids.items()}
    ops = {op.key: op for op in read_journal(bench.home / "runs" / f"{run_id}.db")}
    for identity in lost:
        if identity.startswith("e911"):
            op = ops[number_of[identity.split()[1]]]
            outcome.expect(
                op.attempts >= 2,
                f"{identity}: its answer was lost, yet it was sent {op.attempts} time(s)",
            )


# --- T4 -----------------------------------------------------------------------------------


def early_after_429(log: list[dict[str, Any]], retry_after: float) -> list[int]:
    """For each 429: how many requests of the same credential arrived after its answer and
    before Retry-After had passed (5 ms of clock slack either side)."""
    answered = [
        (e["time"] + e["duration_ms"] / 1000, e["credential"]) for e in log if e["status"] == 429
    ]
    arrivals = sorted((e["time"], e["credential"]) for e in log)
    early = []
    for end, credential in answered:
        early.append(
            sum(
                1
                for t, c in arrivals
                if c == credential and end + 0.005 < t < end + retry_after - 0.005
            )
        )
    return early


def storm(
    directory: Path,
    *,
    items: int,
    seed: int,
    concurrency: int = 4,
    seconds: int = 3,
    retry_after: int = 1,
    after: float = 0.0,
    thorough: bool = True,
) -> Outcome:
    """T4: a 429 storm with a fixed Retry-After hits the run `after` seconds into sending: no
    request comes back before Retry-After (beyond the ones already in flight), nothing fails.
    The pace before and after the storm is measured (a storm says nothing of the limit)."""
    started = time.perf_counter()
    outcome = Outcome(f"T4 429 storm {seconds} s, Retry-After {retry_after} s")
    with lab(directory, faults="latency=20ms", seed=seed) as bench:
        workload = bench.workload(items)
        since = bench.last_seq()
        process = bench.apply(workload, "--concurrency", str(concurrency))
        spec = f"latency=20ms,throttle={seconds}s@{after:g}s,retry_after={retry_after}s"
        bench.when_sending(lambda: bench.app.controls.set_faults(spec))
        ran = bench.wait(process)
        expect_exit(outcome, ran, 0, "the apply")
        log = bench.requests(since)
        throttled = sum(1 for e in log if e["fault"] == "throttle")
        outcome.expect(throttled > 0, "the storm never hit the run")
        early = early_after_429(log, retry_after)
        # Requests already in flight when a 429 is answered (at most concurrency - 1) may
        # still arrive; a client that ignored Retry-After would send a stream of them.
        worst = max(early, default=0)
        outcome.expect(
            worst <= concurrency - 1, f"{worst} requests arrived within Retry-After of a 429"
        )
        outcome.faults["most requests inside Retry-After"] = worst
        outcome.notes.append(_pace_around_storm(log, retry_after))
        settle_and_check(outcome, bench, workload, bench.only_run(), thorough)
        return outcome.finish(bench, started)


def _pace_around_storm(log: list[dict[str, Any]], retry_after: float) -> str:
    """Writes/s in the second before the storm and from Retry-After after it to the end."""
    storm = [e["time"] for e in log if e["fault"] == "throttle"]
    done = [e["time"] for e in log if e["method"] in MUTATING and e["status"] < 300]
    if not storm or not done:
        return "no storm"
    before = sum(1 for t in done if storm[0] - 1 <= t < storm[0])
    after_start = storm[-1] + retry_after
    after = [t for t in done if t >= after_start]
    pace = len(after) / max(1e-3, max(after, default=after_start) - after_start)
    return f"writes/s before the storm {before}, after it {pace:.0f}"


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(times):
        while t - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


def rate_ceiling(
    directory: Path, *, items: int, rate: int, seed: int, thorough: bool = True
) -> Outcome:
    """T4 (second half): with `--rate R`, no 1-second window of arrivals holds more than R
    writes (issue 18: a ceiling is often a contracted limit; catch-up after a stall included)."""
    started = time.perf_counter()
    outcome = Outcome(f"T4 --rate {rate} ceiling, {items} items")
    with lab(directory, seed=seed) as bench:
        workload = bench.workload(items)
        since = bench.last_seq()
        ran = bench.wait(bench.apply(workload, "--rate", str(rate)))
        expect_exit(outcome, ran, 0, "the apply")
        writes = [e["time"] for e in bench.requests(since) if e["method"] in MUTATING]
        most = max_in_any_second(writes)
        outcome.faults["most writes in 1 s"] = most
        outcome.expect(most <= rate, f"{most} writes in one second at --rate {rate}")
        settle_and_check(outcome, bench, workload, bench.only_run(), thorough)
        return outcome.finish(bench, started)


# --- T5, T6 -------------------------------------------------------------------------------


def _until_up(bench: Lab, timeout: float) -> None:
    with httpx.Client(
        base_url=bench.base, headers={"Authorization": f"Bearer {bench.token}"}, timeout=5
    ) as client:
        deadline = time.monotonic() + timeout
        while client.get("/oauth/whoami").status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError("the sandbox did not come back from the outage")
            time.sleep(0.2)


def outage(
    directory: Path,
    *,
    items: int,
    seed: int,
    seconds: int,
    stop_after: int | None,
    expect_stop: bool = True,
    thorough: bool = True,
) -> Outcome:
    """T5: every request fails with 503 for `seconds` once the run is sending. With
    `--stop-after-outage` shorter than the outage the run stops (exit 5) with one outage
    notice and nothing marked failed; `bulkx resume` then finishes it."""
    started = time.perf_counter()
    breaker = f"--stop-after-outage {stop_after}" if stop_after else "default breaker"
    outcome = Outcome(f"T5 outage {seconds} s, {breaker}")
    with lab(directory, faults="latency=10ms", seed=seed) as bench:
        workload = bench.workload(items)
        events = directory / "events.jsonl"
        extra = ["--concurrency", "4", "--events", str(events)]
        if stop_after:
            extra += ["--stop-after-outage", str(stop_after)]
        process = bench.apply(workload, *extra)
        spec = f"latency=10ms,outage={seconds}s@0s"
        bench.when_sending(lambda: bench.app.controls.set_faults(spec))
        stopped = bench.wait(process)
        run_id = bench.only_run()
        counts = bench.counts(run_id)
        if expect_stop:
            expect_exit(outcome, stopped, 5, "the apply during the outage")
            outcome.expect(f"bulkx resume {run_id}" in stopped.stderr, "no resume hint")
            notices = [
                e for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "outage"
            ]
            outcome.expect(len(notices) == 1, f"{len(notices)} outage notices, not 1")
        outcome.expect(
            counts["failed"] == 0 and counts["skipped"] == 0,
            f"the outage burned operations: {counts['failed']} failed, {counts['skipped']} skipped",
        )
        _until_up(bench, seconds + 30)
        if stopped.code != 0:
            resumed = bench.run("resume", run_id, "--yes")
            expect_exit(outcome, resumed, 0, "the resume after the outage")
        settle_and_check(outcome, bench, workload, run_id, thorough)
        return outcome.finish(bench, started)


def expired_credentials(
    directory: Path, *, items: int, seed: int, thorough: bool = True
) -> Outcome:
    """T6: the credential stops working mid-run: exit 4, nothing failed because of it, and a
    resume with a working credential finishes with nothing repeated."""
    started = time.perf_counter()
    outcome = Outcome(f"T6 401 mid-run, {items} items")
    with lab(directory, seed=seed) as bench:
        workload = bench.workload(items)
        bench.app.controls.set_faults(f"unauthorized_after={workload.items // 2}", seed=seed)
        stopped = bench.wait(bench.apply(workload, "--concurrency", "4"))
        expect_exit(outcome, stopped, 4, "the apply whose token expired")
        run_id = bench.only_run()
        outcome.expect(f"bulkx resume {run_id}" in stopped.stderr, "no resume hint")
        counts = bench.counts(run_id)
        outcome.expect(counts["failed"] == 0, f"{counts['failed']} operations failed on a 401")
        outcome.expect(counts["pending"] + counts["unknown"] > 0, "the run was not stopped")
        bench.app.controls.clear_faults()  # a new token: the credential works again
        expect_exit(outcome, bench.run("resume", run_id, "--yes"), 0, "the resume")
        settle_and_check(outcome, bench, workload, run_id, thorough)
        return outcome.finish(bench, started)
