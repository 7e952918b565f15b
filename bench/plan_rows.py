"""Rows 10 and 11: `bulkx plan` at scale, and reading live state at an account's rate limit.

10. `bulkx plan` of a 1,000,000-row CSV (every tenth number renamed) against 1,000,000 live
    DIDs (50,000 in quick mode), the sandbox in its own process: wall time and peak RSS, beside
    the same command run by the code of an older git revision (`--baseline-rev`, default
    5af09d1: before the streaming work) against the same sandbox in the same bench run. That
    code is a clean copy (`git archive`, no git state changed) run with the same Python.
11. `bulkx plan` of 2,000 numbers' E911 addresses (300 in quick mode: one GET per number, the
    API has no list of E911 records) against a sandbox limited to R = 50 requests/s: requests
    admitted per second over the read, from the sandbox's request log, against R and the floor
    time (requests / R); the progress lines on stderr are counted. Then the same plan with a
    503 outage switched on once half the E911 records are read: it must stop with exit 5 and
    one clear line on stderr, no traceback.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data_rows import write_diff_plan
from bench.harness import (
    Finished,
    Sandbox,
    bulkx_env,
    code_env,
    finish,
    run_bulkx,
    sandbox_process,
    seed_dids,
    seed_many_dids,
    source_of,
    start_bulkx,
)
from bench.rows import Row, Sizes, rate

#: Row 10's target: peak RSS of `bulkx plan` of 1,000,000 rows (issue 14).
PLAN_MB = 500.0
#: Row 11: the sandbox's limit (burst R/10, as row 1), the target share of it, and
#: `--stop-after-outage` for the outage run.
E911_RATE = 50
E911_BURST = 5
E911_SHARE = 0.9
OUTAGE_S = 5.0
WARMUP_S = 5.0

_VERDICT = re.compile(r"(\d[\d,]*) to update, [^;]*; (\d[\d,]*) unchanged")
_E911_PROGRESS = re.compile(r"^reading live state: [\d,]+/[\d,]+ DIDs \(E911\)$")


# --- row 10 ------------------------------------------------------------------------------


@dataclass
class PlanRun:
    """One `bulkx plan` against the sandbox; times in seconds from process start."""

    finished: Finished
    requests: int
    first_request: float
    last_request: float
    updates: int
    unchanged: int
    #: RSS (MB) when the last request reached the sandbox (the read was over).
    rss_at_read_end: float
    #: Seconds from process start to the highest RSS sample.
    peak_at: float

    @property
    def phases(self) -> str:
        read = self.last_request - self.first_request
        after = self.finished.seconds - self.last_request
        where = "after" if self.peak_at > self.last_request else "during"
        return (
            f"load+validate {self.first_request:.1f} s, read {read:.1f} s"
            f" ({self.requests:,} requests), diff+output {after:.1f} s;"
            f" {self.rss_at_read_end:,.0f} MB held when the read ended, peak"
            f" {self.finished.peak_rss_mb:,.0f} MB {where} the read"
        )

    def figures(self) -> dict[str, Any]:
        return {
            "seconds": round(self.finished.seconds, 2),
            "peak_rss_mb": round(self.finished.peak_rss_mb),
            "cpu_s": round(self.finished.cpu_s, 2),
            "requests": self.requests,
            "first_request_s": round(self.first_request, 2),
            "last_request_s": round(self.last_request, 2),
            "rss_at_read_end_mb": round(self.rss_at_read_end),
            "peak_at_s": round(self.peak_at, 2),
            "updates": self.updates,
            "unchanged": self.unchanged,
        }


def _plan_once(sb: Sandbox, plan: Path, work: Path, env: dict[str, str], label: str) -> PlanRun:
    since = sb.clear_log()
    out = work / f"{label}.txt"
    started_at = time.time()
    finished = finish(
        start_bulkx(["plan", str(plan), "--base-url", sb.core_url], cwd=work, env=env, stdout=out),
        time.perf_counter(),
    )
    text = out.read_text(errors="replace")
    if finished.code != 0:
        raise RuntimeError(f"{label}: bulkx plan exited {finished.code}: {finished.stderr[-2000:]}")
    verdict = _VERDICT.search(text[-2000:])
    if verdict is None:
        raise RuntimeError(f"{label}: no verdict line in the plan's output: {text[-500:]!r}")
    log = sb.requests(since)
    first = min(e["time"] for e in log) - started_at
    last = max(e["time"] for e in log) - started_at
    watch = finished.watch
    return PlanRun(
        finished=finished,
        requests=len(log),
        first_request=first,
        last_request=last,
        updates=int(verdict[1].replace(",", "")),
        unchanged=int(verdict[2].replace(",", "")),
        rss_at_read_end=watch.rss_at(started_at + last) if watch else 0.0,
        peak_at=(watch.peak_at() - started_at) if watch else 0.0,
    )


def million_plan(sizes: Sizes, tmp: Path) -> list[Row]:
    work = tmp / "plan-million"
    work.mkdir()
    count = sizes.plan_dids
    rev = sizes.baseline_rev
    plan = work / "dids.csv"
    expected = write_diff_plan(plan, seed_many_dids(work / "sandbox.db", count))
    source = source_of(rev, work / f"code-{rev}")
    env = bulkx_env(work / "home")
    old_env = code_env(bulkx_env(work / "home-baseline"), source, work)
    with sandbox_process(work / "sandbox.db") as sb:
        current = _plan_once(sb, plan, work, env, "current")
        baseline = _plan_once(sb, plan, work, old_env, "baseline")
    for label, run in (("current", current), (rev, baseline)):
        if (run.updates, run.unchanged) != (expected, count - expected):
            raise RuntimeError(
                f"{label}: the plan found {run.updates:,} updates and {run.unchanged:,}"
                f" unchanged, not {expected:,} and {count - expected:,}"
            )
    peak = current.finished.peak_rss_mb
    seconds, old_seconds = current.finished.seconds, baseline.finished.seconds
    met = peak < PLAN_MB
    note = f"current: {current.phases}; {rev}: {baseline.phases}"
    if not met:
        per_did = peak * 1024 / count
        note = f"{per_did:.2f} kB per DID at the peak (misses < {PLAN_MB:.0f} MB); " + note
    return [
        Row(
            10,
            f"`bulkx plan` of {count:,} rows vs {count:,} live DIDs",
            bulkx=f"{seconds:.1f} s, {peak:,.0f} MB",
            baseline=f"{rev}: {old_seconds:.1f} s, {baseline.finished.peak_rss_mb:,.0f} MB",
            ratio=f"{seconds / old_seconds:.2f}x time, {peak / baseline.finished.peak_rss_mb:.2f}x"
            " memory",
            target=f"< {PLAN_MB:.0f} MB",
            met=met,
            peak_rss_mb=round(peak),
            note=note,
            figures={
                "dids": count,
                "renamed": expected,
                "baseline_rev": rev,
                "current": current.figures(),
                "baseline": baseline.figures(),
            },
        )
    ]


# --- row 11 ------------------------------------------------------------------------------


def _e911_plan(path: Path, numbers: list[str]) -> Path:
    """Every number's E911 address: one GET each to read (no list), one PUT each to apply."""
    with path.open("w") as out:
        out.write("# kind: did_emergency\nphonenumber,address_1,city,state,zip\n")
        for i, number in enumerate(numbers):
            out.write(f"{number},{100 + i % 900} Main St,New York,NY,10001\n")
    return path


def _is_e911(entry: dict[str, Any]) -> bool:
    return str(entry["path"]).endswith("/emergency")


def _why_slow(
    done: Finished, rates: tuple[float, float], refused: int, busy: float, progress: list[str]
) -> str:
    """The note of an E911 read that missed its target: the (early, late) request rates
    around the warm-up, the 429s, how busy the client was and what stderr lacked."""
    early_rate, late_rate = rates
    parts = [
        f"{early_rate:.0f} req/s in the first {WARMUP_S:.0f} s (the limiter learning R;"
        f" {refused} 429s in all), {late_rate:.0f} req/s after",
        f"the client used {busy:.0%} of a core",
    ]
    if not progress:
        parts.append("no `reading live state: ... DIDs (E911)` line on stderr")
    if done.code != 0:
        parts.append(f"exit {done.code}: {done.stderr.strip().splitlines()[-1:]}")
    return "; ".join(parts)


def _read_at_limit(sb: Sandbox, plan: Path, work: Path, env: dict[str, str], n: int) -> Row:
    since = sb.clear_log()
    started_at = time.time()
    done = run_bulkx(["plan", str(plan), "--base-url", sb.core_url], cwd=work, env=env)
    log = sb.requests(since)
    if not log:
        raise RuntimeError(f"bulkx plan sent nothing (exit {done.code}): {done.stderr[-2000:]}")
    admitted = [e for e in log if e["status"] != 429]
    refused = len(log) - len(admitted)
    first = min(e["time"] for e in log)
    last = max(e["time"] for e in log)
    achieved = rate(len(admitted) - 1, last - first)
    early = [e for e in admitted if e["time"] < first + WARMUP_S]
    late = [e for e in admitted if e["time"] >= first + WARMUP_S]
    early_rate = rate(len(early), min(WARMUP_S, last - first))
    late_rate = rate(len(late), last - first - WARMUP_S)
    floor = len(admitted) / E911_RATE
    lines = done.stderr.splitlines()
    progress = [line for line in lines if _E911_PROGRESS.match(line)]
    e911_ok = sum(1 for e in log if _is_e911(e) and e["status"] == 200)
    busy = done.watch.busy(first, last) if done.watch else 0.0
    met = (
        done.code == 0
        and achieved >= E911_SHARE * E911_RATE
        and len(progress) >= 1
        and "Traceback" not in done.stderr
    )
    note = "" if met else _why_slow(done, (early_rate, late_rate), refused, busy, progress)
    return Row(
        11,
        f"E911 reads at R={E911_RATE} ({n:,} numbers)",
        bulkx=f"{achieved:.1f} req/s over {last - first:.1f} s ({len(admitted):,} requests,"
        f" {refused} 429s), {len(progress)} progress lines",
        baseline=f"R = {E911_RATE}/s; floor {floor:.1f} s",
        ratio=f"{achieved / E911_RATE:.2f} R",
        target=f">= {E911_SHARE} R, progress on stderr",
        met=met,
        peak_rss_mb=round(done.peak_rss_mb),
        note=note,
        figures={
            "numbers": n,
            "exit": done.code,
            "seconds": round(done.seconds, 2),
            "read_s": round(last - first, 2),
            "first_request_s": round(first - started_at, 2),
            "requests": len(log),
            "admitted": len(admitted),
            "throttled": refused,
            "e911_answered": e911_ok,
            "rate": round(achieved, 2),
            "rate_first_5s": round(early_rate, 1),
            "rate_after_5s": round(late_rate, 1),
            "floor_s": round(floor, 1),
            "client_busy": round(busy, 3),
            "progress_lines": progress,
        },
    )


def _stopped_by_outage(sb: Sandbox, plan: Path, work: Path, env: dict[str, str], n: int) -> Row:
    since = sb.clear_log()
    args = ["plan", str(plan), "--base-url", sb.core_url, "--stop-after-outage", f"{OUTAGE_S:g}"]
    started = time.perf_counter()
    process = start_bulkx(args, cwd=work, env=env)
    # Switch the outage on once half the E911 records have been read.
    cursor, answered = since, 0
    while answered < n // 2 and process.poll() is None:
        time.sleep(0.1)
        page = sb.requests(cursor)
        if page:
            cursor = page[-1]["seq"]
            answered += sum(1 for e in page if _is_e911(e) and e["status"] == 200)
    sb.set_faults("outage=3600s@0s")
    outage_at = time.time()
    stopped = finish(process, started)
    after = time.time() - outage_at
    sb.admin.delete("/_sandbox/faults").raise_for_status()
    log = sb.requests(since)
    e911 = [e for e in log if _is_e911(e)]
    answered = sum(1 for e in e911 if e["status"] == 200)
    outage_503 = sum(1 for e in log if e["status"] == 503)
    errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
    line = errors[-1] if errors else (stopped.stderr.strip().splitlines() or [""])[-1]
    traceback = "Traceback" in stopped.stderr
    in_the_middle = 0 < answered < n
    met = stopped.code == 5 and len(errors) == 1 and not traceback and in_the_middle
    note = f"the line: {line}"
    if not met:
        problems = []
        if stopped.code != 5:
            problems.append(f"exit {stopped.code}, not 5")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines on stderr")
        if traceback:
            problems.append("a traceback on stderr")
        if not in_the_middle:
            problems.append(f"the outage came after {answered} of {n} E911 reads, not between")
        note = "; ".join(problems) + f"; {note}"
    return Row(
        11,
        f"E911 read, a 503 outage at {answered:,} of {n:,}",
        bulkx=f"exit {stopped.code} {after:.1f} s after the outage began, {len(errors)} line"
        f"{'' if len(errors) == 1 else 's'}{', traceback' if traceback else ''}",
        baseline=f"--stop-after-outage {OUTAGE_S:g} s",
        ratio=f"{after / OUTAGE_S:.1f}x",
        target="exit 5, one line, no traceback",
        met=met,
        peak_rss_mb=round(stopped.peak_rss_mb),
        note=note,
        figures={
            "exit": stopped.code,
            "seconds_after_outage": round(after, 2),
            "e911_answered_before": answered,
            "answered_503": outage_503,
            "error_lines": errors,
            "traceback": traceback,
            "stdout_empty": stopped.stdout == "",
        },
    )


def e911_reads(sizes: Sizes, tmp: Path) -> list[Row]:
    work = tmp / "e911"
    work.mkdir()
    n = sizes.e911_numbers
    plan = _e911_plan(work / "e911.csv", seed_dids(work / "sandbox.db", n))
    env = bulkx_env(work / "home")
    with sandbox_process(work / "sandbox.db", rate_limit=E911_RATE, burst=E911_BURST) as sb:
        return [
            _read_at_limit(sb, plan, work, env, n),
            _stopped_by_outage(sb, plan, work, env, n),
        ]
