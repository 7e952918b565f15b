"""Rows 6, 7 and 9: a run stopped at 50% and resumed, how soon each process sends, and the
memory it all takes.

One experiment serves them all (`kill_and_resume`): `bulkx apply --yes` of a CSV plan renaming
N DIDs (one PATCH each; the sandbox in its own process, seeded beforehand) is killed (SIGKILL,
as a crash would) once half its operations have succeeded; `bulkx resume` then finishes it.

6. At 100,000 operations: time from starting `bulkx resume` to its first request and to its
   first operation, and the operations resent although the journal had them as done (must be
   0), from the sandbox's request log; and the same time to first operation for the `bulkx
   apply` that started the run. Both beside `python -c pass` timed in the same run.
7. Peak RSS of that apply and of its resume, against `bulkx runs`, the floor every bulkx
   command pays for its imports.
9. Memory does not grow with the run: the same experiment at two sizes (20,000 and 200,000
   operations; 2,000 and 20,000 in quick mode), each process's peak RSS at the large size
   against the same process at the small size, measured in the same bench run.

Peak RSS is each child's own VmHWM (`PeakWatch`), never a forked child's rusage.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    Finished,
    bulkx_env,
    finish,
    poll_until,
    python_pass_seconds,
    run_bulkx,
    sandbox_process,
    seed_many_dids,
    start_bulkx,
    write_rename_plan,
)
from bench.rows import Row, Sizes
from bulkx.errors import JournalError
from bulkx.journal import JournalReader

#: Targets (issue 14): to first operation, in seconds from process start.
RESUME_FIRST_OP_S = 1.0
APPLY_FIRST_OP_S = 5.0
#: Row 9: peak RSS of the large run, and its ratio to the small run's.
FLAT_MB = 300.0
FLAT_RATIO = 1.15


def _succeeded(home: Path) -> tuple[str | None, int]:
    runs = sorted((home / "runs").glob("*.db")) if (home / "runs").exists() else []
    if not runs:
        return None, 0
    try:
        with JournalReader.open(home, runs[0].stem) as reader:
            return runs[0].stem, reader.counts()["succeeded"]
    except JournalError:  # still being created
        return runs[0].stem, 0


def _done_sids(home: Path, run_id: str) -> set[str]:
    sids: set[str] = set()
    after: int | None = None
    with JournalReader.open(home, run_id) as reader:
        while page := reader.ops("succeeded", limit=10_000, after_op_id=after):
            sids.update(str(op.change["sid"]) for op in page)
            after = page[-1].op_id
    return sids


def _first(entries: list[dict[str, Any]], since: float, method: str | None = None) -> float:
    times = [e["time"] for e in entries if method is None or e["method"] == method]
    return float(min(times)) - since


@dataclass
class KilledRun:
    """What one apply killed at 50% and its resume did; times in seconds from process start."""

    count: int
    done_at_kill: int
    #: Operations the resume sent although the journal had them as done.
    resent: int
    final: dict[str, int]
    applied: Finished
    #: None when the resume ran under cProfile (no figures).
    resumed: Finished | None
    #: `bulkx runs`: the imports every command pays.
    floor: Finished
    apply_first_request: float
    apply_first_op: float
    resume_first_request: float
    resume_first_op: float
    #: RSS (MB) of each process when its first operation reached the sandbox.
    apply_rss_at_first_op: float
    resume_rss_at_first_op: float

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ops": self.count,
            "done_at_kill": self.done_at_kill,
            "resumed_ops": self.count - self.done_at_kill,
            "resent_completed": self.resent,
            "final": self.final,
            "apply_first_request_s": round(self.apply_first_request, 2),
            "apply_first_op_s": round(self.apply_first_op, 2),
            "resume_first_request_s": round(self.resume_first_request, 2),
            "resume_first_op_s": round(self.resume_first_op, 2),
            "floor_s": round(self.floor.seconds, 2),
            "floor_peak_rss_mb": round(self.floor.peak_rss_mb),
            "apply_peak_rss_mb": round(self.applied.peak_rss_mb),
            "apply_rss_at_first_op_mb": round(self.apply_rss_at_first_op),
        }
        if self.resumed is not None:
            out["resume_peak_rss_mb"] = round(self.resumed.peak_rss_mb)
            out["resume_rss_at_first_op_mb"] = round(self.resume_rss_at_first_op)
        return out


def _apply_killed_at_half(
    plan: Path, base_url: str, work: Path, env: dict[str, str], home: Path, count: int
) -> Finished:
    """`bulkx apply --yes` of the plan's `count` operations, SIGKILLed once half succeeded."""
    apply = start_bulkx(
        ["apply", str(plan), "--yes", "--base-url", base_url],
        cwd=work,
        env=env,
        capture=False,
    )
    half = count // 2
    reached = poll_until(lambda: _succeeded(home)[1] >= half, timeout=1800, every=0.1)
    if apply.poll() is None:
        os.killpg(apply.pid, signal.SIGKILL)
    applied = finish(apply, time.perf_counter())
    if not reached:
        raise RuntimeError(f"the apply did not reach 50% (exit {applied.code})")
    return applied


def _resume(run_id: str, work: Path, env: dict[str, str], profile: Path | None) -> Finished | None:
    """`bulkx resume RUN_ID --yes`, measured; under cProfile (writing `profile`/resume.prof,
    unmeasured: None) when `profile` is given."""
    args = ["resume", run_id, "--yes"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile / "resume.prof")]
        command += ["-m", "bulkx", *args]
        subprocess.run(command, cwd=work, env=env, capture_output=True, check=True)
        return None
    resumed = finish(start_bulkx(args, cwd=work, env=env, capture=False), time.perf_counter())
    if resumed.code != 0:
        raise RuntimeError(f"bulkx resume exited {resumed.code}")
    return resumed


def kill_and_resume(work: Path, count: int, *, profile: Path | None = None) -> KilledRun:
    """`bulkx apply --yes` of `count` renames, SIGKILLed at 50%, then `bulkx resume --yes`."""
    work.mkdir()
    plan = write_rename_plan(work / "plan.csv", seed_many_dids(work / "sandbox.db", count))
    home = work / "home"
    env = bulkx_env(home)
    with sandbox_process(work / "sandbox.db") as sb:
        floor = run_bulkx(["runs"], cwd=work, env=env)
        since = sb.clear_log()
        apply_started_at = time.time()
        applied = _apply_killed_at_half(plan, sb.core_url, work, env, home, count)
        apply_log = sb.requests(since)
        run_id, done_at_kill = _succeeded(home)
        assert run_id is not None
        done = _done_sids(home, run_id)

        since = sb.clear_log()
        started_at = time.time()
        resumed = _resume(run_id, work, env, profile)
        resume_log = sb.requests(since)
    with JournalReader.open(home, run_id) as reader:
        final = reader.counts()
    resent = sum(
        1 for e in resume_log if e["method"] == "PATCH" and e["path"].rsplit("/", 1)[-1] in done
    )
    apply_first_op = _first(apply_log, apply_started_at, "PATCH")
    resume_first_op = _first(resume_log, started_at, "PATCH")

    def rss_at(process: Finished | None, when: float) -> float:
        return process.watch.rss_at(when) if process and process.watch else 0.0

    return KilledRun(
        count=count,
        done_at_kill=done_at_kill,
        resent=resent,
        final=final,
        applied=applied,
        resumed=resumed,
        floor=floor,
        apply_first_request=_first(apply_log, apply_started_at),
        apply_first_op=apply_first_op,
        resume_first_request=_first(resume_log, started_at),
        resume_first_op=resume_first_op,
        apply_rss_at_first_op=rss_at(applied, apply_started_at + apply_first_op),
        resume_rss_at_first_op=rss_at(resumed, started_at + resume_first_op),
    )


def _python_pass(work: Path) -> float:
    return statistics.median(python_pass_seconds(work) for _ in range(3))


def resume_and_memory(sizes: Sizes, tmp: Path, *, profile: Path | None = None) -> list[Row]:
    """Rows 6 (the resume's and the apply's first operation) and 7 (their memory)."""
    run = kill_and_resume(tmp / "resume", sizes.resume_ops, profile=profile)
    count = run.count
    py = _python_pass(tmp)
    figures = {**run.figures(), "python_pass_s": round(py, 3)}
    resume_ok = run.resume_first_op < RESUME_FIRST_OP_S
    resume_note, apply_note = _first_op_notes(run)
    rows = [
        Row(
            6,
            f"resume a {count:,}-op run stopped at 50%",
            bulkx=f"first op {run.resume_first_op:.2f} s (first request"
            f" {run.resume_first_request:.2f} s), {run.resent} resent",
            baseline=f"python -c pass {py:.2f} s",
            ratio=f"+{run.resume_first_op - py:.2f} s",
            target=f"< {RESUME_FIRST_OP_S:g} s, 0 resent",
            met=resume_ok and run.resent == 0 and run.final["succeeded"] == count,
            note=resume_note,
            figures=figures,
        ),
        Row(
            6,
            f"apply of {count:,} ops with --yes",
            bulkx=f"first op {run.apply_first_op:.1f} s (first request"
            f" {run.apply_first_request:.1f} s)",
            baseline=f"python -c pass {py:.2f} s",
            ratio=f"+{run.apply_first_op - py:.1f} s",
            target=f"< {APPLY_FIRST_OP_S:g} s",
            met=run.apply_first_op < APPLY_FIRST_OP_S,
            note=apply_note,
            figures=figures,
        ),
    ]
    if run.resumed is not None:
        rows.append(_memory_row(run, run.resumed, figures))
    return rows


def _first_op_notes(run: KilledRun) -> tuple[str, str]:
    """Why the resume's and the apply's first operations were late (each "" when not), and
    any operation the resume sent again."""
    count = run.count
    floor = f"`bulkx runs` exits in {run.floor.seconds:.2f} s (its imports)"
    resume_note = ""
    if run.resume_first_op >= RESUME_FIRST_OP_S:
        resume_note = (
            f"resume: {run.resume_first_request:.2f} s to its first request ({floor}), then"
            f" {run.resume_first_op - run.resume_first_request:.2f} s to its first operation"
            f" (reading the journal's {count - run.done_at_kill:,} remaining operations)"
        )
    if run.resent:
        resent = f"{run.resent} operations the journal had as done were sent again"
        resume_note = f"{resume_note}; {resent}" if resume_note else resent
    apply_note = ""
    if run.apply_first_op >= APPLY_FIRST_OP_S:
        apply_note = (
            f"apply: {run.apply_first_request:.1f} s to its first request ({floor}; then"
            f" loading and validating the plan), then"
            f" {run.apply_first_op - run.apply_first_request:.1f} s to its first operation"
            f" (reading live state, diffing, journaling {count:,} operations)"
        )
    return resume_note, apply_note


def _memory_row(run: KilledRun, resumed: Finished, figures: dict[str, Any]) -> Row:
    """Row 7: the peak memory of the apply and of its resume."""
    applied, resumed_mb = run.applied.peak_rss_mb, resumed.peak_rss_mb
    peak = max(applied, resumed_mb)
    return Row(
        7,
        f"memory of a {run.count:,}-op apply",
        bulkx=f"apply {applied:,.0f} MB, resume {resumed_mb:,.0f} MB",
        baseline=f"`bulkx runs` {run.floor.peak_rss_mb:,.0f} MB",
        ratio=f"{peak / run.floor.peak_rss_mb:.1f}x",
        target="< 500 MB",
        met=peak < 500,
        peak_rss_mb=round(peak),
        figures=figures,
    )


def _memory_note(
    what: str, small: KilledRun, large: KilledRun, peak: tuple[float, float], at_op: float
) -> str:
    """What the large run's memory went to, when row 9 misses: how much of it was taken
    before the first operation went out, and how much more each extra operation costs."""
    grown_kb = (peak[1] - peak[0]) * 1024 / max(1, large.count - small.count)
    floor = large.floor.peak_rss_mb
    parts = [
        f"{what}: {at_op:,.0f} of {peak[1]:,.0f} MB held when its first operation went out",
        f"{grown_kb:+.2f} kB per operation from {small.count:,} to {large.count:,}"
        + (" (something still holds every operation)" if peak[1] > FLAT_RATIO * peak[0] else ""),
        f"`bulkx runs` (imports) {floor:,.0f} MB",
    ]
    return "; ".join(parts)


def memory_flat(sizes: Sizes, tmp: Path) -> list[Row]:
    """Row 9: the apply and the resume at two sizes; the small run is the baseline."""
    small_ops, large_ops = sizes.memory_ops
    small = kill_and_resume(tmp / f"memory-{small_ops}", small_ops)
    large = kill_and_resume(tmp / f"memory-{large_ops}", large_ops)
    assert small.resumed is not None and large.resumed is not None
    figures = {"small": small.figures(), "large": large.figures()}
    rows = []
    for what, peaks, at_op in (
        (
            "apply",
            (small.applied.peak_rss_mb, large.applied.peak_rss_mb),
            large.apply_rss_at_first_op,
        ),
        (
            "resume",
            (small.resumed.peak_rss_mb, large.resumed.peak_rss_mb),
            large.resume_rss_at_first_op,
        ),
    ):
        ratio = peaks[1] / peaks[0]
        met = peaks[1] < FLAT_MB and ratio <= FLAT_RATIO
        title = f"memory: {what} of {large_ops:,} ops vs {small_ops:,}"
        if what == "resume":
            title = f"memory: resume of {large_ops:,} ops (killed at 50%) vs {small_ops:,}"
        rows.append(
            Row(
                9,
                title,
                bulkx=f"{peaks[1]:,.0f} MB",
                baseline=f"{small_ops:,} ops: {peaks[0]:,.0f} MB",
                ratio=f"{ratio:.2f}x",
                target=f"< {FLAT_MB:.0f} MB, <= {FLAT_RATIO:.2f}x",
                met=met,
                peak_rss_mb=round(peaks[1]),
                note="" if met else _memory_note(what, small, large, peaks, at_op),
                figures=figures,
            )
        )
    return rows
