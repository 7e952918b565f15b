"""Rows 6 and 7: resuming a 100,000-operation run stopped at 50%, and the memory it all takes.

One experiment serves both: `bulkx apply` of a 100,000-operation plan is killed (SIGKILL, as a
crash would) once half its operations have succeeded; `bulkx resume` then finishes it.

6. Time from starting `bulkx resume` to its first request, and to its first operation, against
   the same figures for the `bulkx apply` that started the run; and the number of operations
   resent although the journal had them as done (must be 0), from the sandbox's request log.
7. Peak RSS of the apply and of the resume (exact, from the kernel), against `bulkx runs`, the
   floor every bulkx command pays for its imports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    bulkx_env,
    finish,
    poll_until,
    run_bulkx,
    sandbox_process,
    seed_dids,
    start_bulkx,
    write_rename_plan,
)
from bench.rows import Row, Sizes
from bulkx.errors import JournalError
from bulkx.journal import JournalReader


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


def resume_and_memory(sizes: Sizes, tmp: Path, *, profile: Path | None = None) -> list[Row]:
    work = tmp / "resume"
    work.mkdir()
    count = sizes.resume_ops
    plan = write_rename_plan(work / "plan.csv", seed_dids(work / "sandbox.db", count))
    home = work / "home"
    env = bulkx_env(home)
    with sandbox_process(work / "sandbox.db") as sb:
        floor = run_bulkx(["runs"], cwd=work, env=env)
        since = sb.clear_log()
        apply_started_at = time.time()
        apply = start_bulkx(
            ["apply", str(plan), "--yes", "--base-url", sb.core_url],
            cwd=work,
            env=env,
            capture=False,
        )
        half = count // 2
        reached = poll_until(lambda: _succeeded(home)[1] >= half, timeout=900, every=0.1)
        if apply.poll() is None:
            os.killpg(apply.pid, signal.SIGKILL)
        applied = finish(apply, time.perf_counter())
        if not reached:
            raise RuntimeError(f"the apply did not reach 50% (exit {applied.code})")
        apply_log = sb.requests(since)
        run_id, done_at_kill = _succeeded(home)
        assert run_id is not None
        done = _done_sids(home, run_id)

        since = sb.clear_log()
        started_at = time.time()
        args = ["resume", run_id, "--yes"]
        if profile is not None:
            command = [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(profile / "resume.prof"),
                "-m",
                "bulkx",
                *args,
            ]
            subprocess.run(command, cwd=work, env=env, capture_output=True, check=True)
            resumed = None
        else:
            resumed = finish(
                start_bulkx(args, cwd=work, env=env, capture=False), time.perf_counter()
            )
            if resumed.code != 0:
                raise RuntimeError(f"bulkx resume exited {resumed.code}")
        resume_log = sb.requests(since)
    with JournalReader.open(home, run_id) as reader:
        final = reader.counts()
    resent = sum(
        1 for e in resume_log if e["method"] == "PATCH" and e["path"].rsplit("/", 1)[-1] in done
    )
    first_request = _first(resume_log, started_at)
    first_op = _first(resume_log, started_at, "PATCH")
    apply_first_op = _first(apply_log, apply_started_at, "PATCH")
    figures = {
        "ops": count,
        "done_at_kill": done_at_kill,
        "resumed_ops": count - done_at_kill,
        "resume_first_request_s": round(first_request, 2),
        "resume_first_op_s": round(first_op, 2),
        "resent_completed": resent,
        "final": final,
        "apply_first_op_s": round(apply_first_op, 2),
    }
    rows = [
        Row(
            6,
            f"resume a {count:,}-op run stopped at 50%",
            bulkx=f"first op {first_op:.1f} s (first request {first_request:.1f} s),"
            f" {resent} resent",
            baseline=f"apply: first op {apply_first_op:.1f} s",
            ratio=f"{first_op / apply_first_op:.2f}x apply",
            target="< 3 s, 0 resent",
            met=first_op < 3 and resent == 0 and final["succeeded"] == count,
            figures=figures,
        )
    ]
    if resumed is not None:
        figures.update(
            apply_peak_rss_mb=round(applied.peak_rss_mb),
            resume_peak_rss_mb=round(resumed.peak_rss_mb),
            floor_peak_rss_mb=round(floor.peak_rss_mb),
        )
        peak = max(applied.peak_rss_mb, resumed.peak_rss_mb)
        rows.append(
            Row(
                7,
                f"memory of a {count:,}-op apply",
                bulkx=f"apply {applied.peak_rss_mb:,.0f} MB, resume {resumed.peak_rss_mb:,.0f} MB",
                baseline=f"`bulkx runs` {floor.peak_rss_mb:,.0f} MB",
                ratio=f"{peak / floor.peak_rss_mb:.1f}x",
                target="< 500 MB",
                met=peak < 500,
                peak_rss_mb=round(peak),
                figures=figures,
            )
        )
    return rows
