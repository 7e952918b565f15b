"""Rows 1, 2 and 5: how fast bulkx applies, against a sandbox in its own process.

1. At a rate limit R (the limiter is not told R; it learns it from 429s): ops/s after the
   first 5 s, over R, and the share of 429s after 5 s.
2. Unthrottled with 20 ms of latency per request: bulkx against a sequential client (one
   request after another, as CarrierX's own bulk script works) and against concurrency/latency.
5. The same executor with its journal and with an in-memory ledger, at R = 500.
"""

from __future__ import annotations

import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    TOKEN,
    Finished,
    Sandbox,
    bulkx_env,
    run_bulkx,
    sandbox_process,
    seed_dids,
    start_bulkx,
    write_rename_plan,
)
from bench.rows import Row, Sizes, rate
from bulkx.api.loop import run as run_on_loop

#: The executor's default window (`bulkx apply --concurrency`).
CONCURRENCY = 16
LATENCY_S = 0.020
WARMUP_S = 5.0
#: Row 5's target for the client's CPU per operation, journaled and unpaced (issue 18).
CPU_MS_TARGET = 0.4


def _patches(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests(since) if e["method"] == "PATCH"]


def paced_figures(patches: list[dict[str, Any]], limit: float) -> dict[str, float]:
    """Achieved rate and 429 share after the first WARMUP_S seconds of sending."""
    first = min(e["time"] for e in patches)
    last = max(e["time"] for e in patches)
    late = [e for e in patches if e["time"] >= first + WARMUP_S]
    late_ok = sum(1 for e in late if e["status"] == 200)
    window = last - (first + WARMUP_S)
    achieved = rate(late_ok, window)
    return {
        "seconds_sending": round(last - first, 2),
        "achieved_after_5s": round(achieved, 1),
        "ratio": round(achieved / limit, 3),
        "share_429_after_5s": round(
            sum(1 for e in late if e["status"] == 429) / max(1, len(late)), 4
        ),
        "throttled_total": sum(1 for e in patches if e["status"] == 429),
    }


def _profiled(args: list[str], out: Path) -> list[str]:
    return ["-m", "cProfile", "-o", str(out), "-m", "bulkx", *args]


def at_rate_limit(sizes: Sizes, tmp: Path, limit: int, *, profile: Path | None = None) -> Row:
    """Row 1 at `limit`: one apply (at R = 50), or `sizes.runs_at_500` of them (at R = 500)
    against one sandbox, each renaming the same numbers anew; odd runs start with an empty
    BULKX_HOME (the limit learned from 429s), even ones with the one before (the limit
    remembered). The row is met when every run is."""
    ops = sizes.ops_at_50 if limit <= 50 else sizes.ops_at_500
    runs = 1 if limit <= 50 or profile is not None else sizes.runs_at_500
    work = tmp / f"rate{limit}"
    work.mkdir()
    numbers = seed_dids(work / "sandbox.db", ops)
    measured: list[tuple[dict[str, Any], Finished | None, str]] = []
    with sandbox_process(work / "sandbox.db", rate_limit=limit, burst=max(1, limit // 10)) as sb:
        for run in range(runs):
            plan = write_rename_plan(work / f"plan{run}.csv", numbers, name=f"renamed {run}")
            home = work / f"home{run - run % 2}"  # a pair shares its home: the second remembers
            measured.append(_one_rate_run(sb, plan, home, limit, profile))
    return _rate_row(limit, ops, measured)


def _one_rate_run(
    sb: Sandbox, plan: Path, home: Path, limit: int, profile: Path | None
) -> tuple[dict[str, Any], Finished | None, str]:
    """One `bulkx apply --yes` against `sb`: the sandbox's figures, how it ended, and who was
    busy (or, under `profile`, a cProfile of it and no measurement)."""
    since = sb.clear_log()
    args = ["apply", str(plan), "--yes", "--base-url", sb.core_url]
    env = bulkx_env(home)
    finished = None
    if profile is not None:
        out = profile / f"apply-r{limit}.prof"
        command = [sys.executable, *_profiled(args, out)]
        subprocess.run(command, cwd=plan.parent, env=env, capture_output=True, check=True)
    else:
        finished = run_bulkx(args, cwd=plan.parent, env=env)
        if finished.code != 0:
            raise RuntimeError(f"bulkx apply exited {finished.code}: {finished.stderr[-2000:]}")
    patches = _patches(sb, since)
    figures = paced_figures(patches, limit)
    busy = ""
    if finished is not None and finished.watch is not None:
        busy = _who_is_busy(figures, patches, finished.watch.busy, sb.watch.busy)
    if finished is not None:
        figures.update(cpu_s=round(finished.cpu_s, 1), wall_s=round(finished.seconds, 1))
    return figures, finished, busy


def _rate_row(
    limit: int, ops: int, measured: list[tuple[dict[str, Any], Finished | None, str]]
) -> Row:
    runs = [figures for figures, _, _ in measured]
    ratios = [f["ratio"] for f in runs]
    worst = min(runs, key=lambda f: f["ratio"])
    met = all(f["ratio"] >= 0.95 and f["share_429_after_5s"] < 0.01 for f in runs)
    peaks = [finished.peak_rss_mb for _, finished, _ in measured if finished is not None]
    title = f"throughput at R={limit} ({ops:,} ops)"
    bulkx = f"{worst['achieved_after_5s']:,.0f} ops/s, 429 {worst['share_429_after_5s']:.2%}"
    ratio = f"{worst['ratio']:.2f} R"
    note = measured[-1][2]
    if len(runs) > 1:
        met_in = sum(1 for f in runs if f["ratio"] >= 0.95 and f["share_429_after_5s"] < 0.01)
        title = f"throughput at R={limit} ({ops:,} ops, {len(runs)} runs)"
        bulkx = f"worst {bulkx}"
        ratio = f"{min(ratios):.2f}-{max(ratios):.2f} R, {met_in} of {len(runs)} met"
        learned = ", ".join(f"{r:.2f}" for r in ratios[0::2])
        remembered = ", ".join(f"{r:.2f}" for r in ratios[1::2])
        note = (
            f"share of R after 5 s, limit learned (fresh BULKX_HOME): {learned}; remembered"
            f" from the run before: {remembered}; worst 429 share"
            f" {max(f['share_429_after_5s'] for f in runs):.2%}; last run: {note}"
        )
    return Row(
        1,
        title,
        bulkx=bulkx,
        baseline=f"R = {limit}/s",
        ratio=ratio,
        target=">= 0.95 R, 429 < 1%" + (" in every run" if len(runs) > 1 else ""),
        met=met,
        peak_rss_mb=round(max(peaks)) if peaks else None,
        note=note,
        figures={"ops": ops, "rate_limit": limit, "runs": runs},
    )


def _who_is_busy(
    figures: dict[str, Any],
    patches: list[dict[str, Any]],
    client: Callable[[float, float], float],
    server: Callable[[float, float], float],
) -> str:
    """How busy client and sandbox were while the operations went out (shares of one core),
    and the client's CPU per operation: which of the two limits the rate."""
    first, last = min(e["time"] for e in patches), max(e["time"] for e in patches)
    start = min(first + WARMUP_S, (first + last) / 2)
    sent = sum(1 for e in patches if start <= e["time"] <= last)
    client_busy, server_busy = client(start, last), server(start, last)
    per_op = client_busy * (last - start) * 1000 / max(1, sent)
    figures.update(
        client_core_share=round(client_busy, 2),
        sandbox_core_share=round(server_busy, 2),
        client_cpu_ms_per_op=round(per_op, 2),
    )
    return (
        f"while sending, bulkx used {client_busy:.0%} of a core ({per_op:.2f} ms CPU per"
        f" op), the sandbox {server_busy:.0%}"
    )


def sequential_client(url: str, sids: list[str]) -> float:
    """One PATCH after another on one keep-alive connection: how CarrierX's bulk script works."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        started = time.perf_counter()
        for i, sid in enumerate(sids):
            client.patch(f"/phonenumber/dids/{sid}", json={"name": f"seq {i}"}).raise_for_status()
        return rate(len(sids), time.perf_counter() - started)


#: Row 2's windows: the executor's default, and the widest the issue asks for.
LATENCY_CONCURRENCIES = (CONCURRENCY, 64)
#: Row 2's target: this share of concurrency / latency (issue 18).
LATENCY_TARGET = 0.9


def with_latency(sizes: Sizes, tmp: Path, concurrency: int = CONCURRENCY) -> Row:
    work = tmp / f"latency{concurrency}"
    work.mkdir()
    numbers = seed_dids(work / "sandbox.db", sizes.latency_ops + sizes.sequential_ops)
    plan = write_rename_plan(work / "plan.csv", numbers[: sizes.latency_ops])
    limit = concurrency / LATENCY_S
    with sandbox_process(work / "sandbox.db", faults=f"latency={LATENCY_S * 1000:g}ms") as sb:
        since = sb.clear_log()
        args = ["apply", str(plan), "--yes", "--base-url", sb.core_url]
        finished = run_bulkx(
            [*args, "--concurrency", str(concurrency)], cwd=work, env=bulkx_env(work / "home")
        )
        if finished.code != 0:
            raise RuntimeError(f"bulkx apply exited {finished.code}: {finished.stderr[-2000:]}")
        patches = _patches(sb, since)
        first, last = min(e["time"] for e in patches), max(e["time"] for e in patches)
        achieved = rate(sum(1 for e in patches if e["status"] == 200), last - first)
        busy: dict[str, Any] = {}
        note = (
            _who_is_busy(busy, patches, finished.watch.busy, sb.watch.busy)
            if finished.watch is not None
            else ""
        )
        taken = {d["phonenumber"]: d["did_sid"] for d in sb.collection("dids")}
        baseline_sids = [taken[n] for n in numbers[sizes.latency_ops :]]
        sequential = sequential_client(sb.core_url, baseline_sids)
    figures = {
        "ops": sizes.latency_ops,
        "latency_ms": LATENCY_S * 1000,
        "concurrency": concurrency,
        "bulkx_ops_per_s": round(achieved, 1),
        "sequential_ops_per_s": round(sequential, 1),
        "sequential_ops": sizes.sequential_ops,
        "limit_ops_per_s": limit,
        "x_sequential": round(achieved / sequential, 2),
        "x_limit": round(achieved / limit, 3),
        **busy,
    }
    held_ms = sum(e["duration_ms"] for e in patches) / max(1, len(patches))
    figures.update(sandbox_ms_per_request=round(held_ms, 1))
    met = achieved / limit >= LATENCY_TARGET
    if not met:
        note += _latency_cap(busy, held_ms, concurrency, limit)
    return Row(
        2,
        f"unthrottled, 20 ms latency, {concurrency} in flight ({sizes.latency_ops:,} ops)",
        bulkx=f"{achieved:,.0f} ops/s",
        baseline=f"sequential {sequential:,.0f}/s; limit {limit:,.0f}/s",
        ratio=f"{achieved / sequential:.1f}x seq; {achieved / limit:.2f} limit",
        target=f">= {LATENCY_TARGET} limit (issue 18)",
        met=met,
        peak_rss_mb=round(finished.peak_rss_mb),
        note=note,
        figures=figures,
    )


def _latency_cap(busy: dict[str, Any], held_ms: float, concurrency: int, limit: float) -> str:
    """What held a missed row 2 back: the time the sandbox held each request (its latency and
    its own work), which bounds the rate at `concurrency` in flight however fast the client
    is, and how busy each process was."""
    bound = concurrency / (held_ms / 1000) if held_ms > 0 else 0.0
    text = (
        f"; the sandbox held each request {held_ms:.1f} ms on average ({LATENCY_S * 1000:g} of"
        f" them the latency), so even an instant client gets at most {bound:,.0f}/s"
        f" = {bound / limit:.2f} of the limit"
    )
    if bound / limit < LATENCY_TARGET:
        text += ": the sandbox (one Python process) caps this row"
    if busy.get("client_core_share", 0.0) >= 0.85:
        text += "; bulkx's own core was saturated"
    return text


async def _execute(
    url: str,
    plan_path: Path,
    journal_root: Path | None,
    pace: float | None,
    harness_cpu: Callable[[], float],
) -> float:
    """Prepare the plan and carry it out; the CPU seconds (this process, every thread but the
    harness's own, `harness_cpu`) that carrying it out took, from the first operation loaded
    to the journal's last commit."""
    from bulkx.api import CarrierX, RetryPolicy, Secret, Target
    from bulkx.engine.executor import Executor, Ledger, MemoryLedger
    from bulkx.engine.operations import change_of
    from bulkx.engine.plan_run import prepare
    from bulkx.engine.requests import Resolver
    from bulkx.engine.run import Run, RunOptions, start_run
    from bulkx.engine.throttle import AdaptiveLimiter
    from bulkx.plan.validate import load_valid

    plan, diagnostics = load_valid(plan_path)  # as `bulkx apply` does: diff takes a valid plan
    assert plan is not None, diagnostics[:3]
    target = Target(f"{url}/core/v2", is_sandbox=True, label="bench")
    async with CarrierX(target, Secret(TOKEN)) as reader:
        prepared = await prepare(reader, plan, target="bench", allow_release=False)
        ledger: Ledger
        run: Run | None = None
        if journal_root is not None:
            run = start_run(journal_root, plan, prepared, RunOptions())
            ledger = run.ledger
        else:
            ledger = MemoryLedger()
        executor = Executor(
            reader.with_retry(RetryPolicy.never()),
            ledger,
            Resolver(dict(prepared.refs)),
            limiter=AdaptiveLimiter(pace),
            concurrency=CONCURRENCY,
        )
        if run is not None:
            # As `bulkx apply` does: the operations from the journal, a window at a time.
            cpu = time.process_time() - harness_cpu()
            progress = await executor.run_from(run.source, total=run.total)
            run.ledger.finish(progress, "completed", 0)
        else:
            changes = {op.op_key: change_of(op) for op in prepared.ops}
            cpu = time.process_time() - harness_cpu()
            progress = await executor.run(prepared.ops, changes)
        cpu = time.process_time() - harness_cpu() - cpu
        assert progress.done == len(prepared.ops), progress
        return cpu


Measured = dict[tuple[str, float | None], float]


def _journal_runs(work: Path, ops: int, limit: int) -> dict[str, Measured]:
    """Row 5's four runs, (mode, pace) each: ops/s (from the sandbox's log), the CPU per
    operation while the executor ran, the CPU per operation with the plan's load, the live
    read, the diff and the journal's creation (and, for the first run, the imports): what a
    short run pays on top of its operations; and the share of a core the sandbox used."""
    work.mkdir()
    runs = [(mode, pace) for pace in (float(limit), None) for mode in ("journal", "memory")]
    numbers = seed_dids(work / "sandbox.db", len(runs) * ops)
    achieved: Measured = {}
    cpu_ms: Measured = {}
    whole_ms: Measured = {}
    sandbox_busy: Measured = {}
    with sandbox_process(work / "sandbox.db") as sb:
        for i, (mode, pace) in enumerate(runs):
            plan = write_rename_plan(work / f"plan{i}.csv", numbers[i * ops : (i + 1) * ops])
            since = sb.clear_log()
            root = work / f"home{i}" if mode == "journal" else None
            cpu = time.process_time() - sb.watch.own_cpu()
            # On the loop `bulkx apply` runs on (uvloop's where installed).
            executing = run_on_loop(_execute(sb.url, plan, root, pace, sb.watch.own_cpu))
            cpu_ms[(mode, pace)] = executing * 1000 / ops
            whole = time.process_time() - sb.watch.own_cpu() - cpu
            whole_ms[(mode, pace)] = whole * 1000 / ops
            patches = _patches(sb, since)
            first, last = min(e["time"] for e in patches), max(e["time"] for e in patches)
            achieved[(mode, pace)] = rate(
                sum(1 for e in patches if e["status"] == 200), last - first
            )
            sandbox_busy[(mode, pace)] = sb.watch.busy(first, last)
    return {"ops": achieved, "cpu": cpu_ms, "whole": whole_ms, "sandbox": sandbox_busy}


def journal_cost(sizes: Sizes, tmp: Path, limit: int = 500) -> Row:
    """The executor with its journal, then with an in-memory ledger, each paced at `limit`
    (`--rate`) and then unpaced: the paced pair is the target; the unpaced pair and the CPU
    per operation show the journal's cost when the client is the bottleneck.

    Pacing is the client's ceiling, not a sandbox limit, so that both runs pace alike: the
    adaptive limiter learning a limit from 429s varies from run to run more than the journal
    costs (see row 1)."""
    ops = sizes.journal_ops
    measured = _journal_runs(tmp / "journal", ops, limit)
    achieved, cpu_ms, whole_ms = measured["ops"], measured["cpu"], measured["whole"]
    sandbox_busy = measured["sandbox"]
    paced = float(limit)
    loss = 1 - achieved[("journal", paced)] / achieved[("memory", paced)]
    unpaced_loss = 1 - achieved[("journal", None)] / achieved[("memory", None)]
    figures = {
        "ops": ops,
        "pace": limit,
        "paced_journal_ops_per_s": round(achieved[("journal", paced)], 1),
        "paced_memory_ops_per_s": round(achieved[("memory", paced)], 1),
        "paced_loss": round(loss, 3),
        "unpaced_journal_ops_per_s": round(achieved[("journal", None)], 1),
        "unpaced_memory_ops_per_s": round(achieved[("memory", None)], 1),
        "unpaced_loss": round(unpaced_loss, 3),
        "cpu_ms_per_op": {f"{m} {p or 'unpaced'}": round(v, 3) for (m, p), v in cpu_ms.items()},
        "cpu_ms_per_op_with_preparation": {
            f"{m} {p or 'unpaced'}": round(v, 3) for (m, p), v in whole_ms.items()
        },
        "sandbox_core_share": {
            f"{m} {p or 'unpaced'}": round(v, 2) for (m, p), v in sandbox_busy.items()
        },
    }
    journaled_ms = cpu_ms[("journal", None)]
    met = loss < 0.10 and unpaced_loss <= 0.10 and journaled_ms <= CPU_MS_TARGET
    return Row(
        5,
        f"journal cost at R={limit} ({ops:,} ops each)",
        bulkx=f"{achieved[('journal', paced)]:,.0f} ops/s journaled; {journaled_ms:.2f} ms CPU/op",
        baseline=f"{achieved[('memory', paced)]:,.0f} ops/s no journal",
        ratio=f"{loss:.1%} loss",
        target=f"< 10% loss, unpaced too; <= {CPU_MS_TARGET} ms CPU/op journaled",
        met=met,
        note=(
            f"unpaced: {achieved[('journal', None)]:,.0f} vs {achieved[('memory', None)]:,.0f}"
            f" ops/s ({unpaced_loss:.1%} loss); client CPU per op (executor, every thread)"
            f" journaled {journaled_ms:.2f} ms, without {cpu_ms[('memory', None)]:.2f} ms;"
            f" with the run's preparation {whole_ms[('journal', None)]:.2f} /"
            f" {whole_ms[('memory', None)]:.2f} ms; unpaced, the sandbox (one process) used"
            f" {sandbox_busy[('journal', None)]:.0%} / {sandbox_busy[('memory', None)]:.0%}"
            " of a core, and client and sandbox share this machine's 2 cores"
        ),
        figures=figures,
    )


#: (component, what a profile entry's file or name contains), first match wins.
COMPONENTS = (
    ("waiting (epoll: idle or waiting for the network)", ("select.epoll",)),
    ("SQLite (journal writes and reads)", ("sqlite3.",)),
    ("imports (startup)", ("<frozen importlib", "marshal.loads", "builtins.compile")),
    ("socket send/recv", ("_socket.socket",)),
    ("httpx (request building, URL parsing, models)", ("/httpx/",)),
    ("aiohttp + httpx-aiohttp transport", ("/aiohttp/", "/httpx_aiohttp/")),
    ("asyncio event loop", ("/asyncio/",)),
    ("json", ("/json/",)),
    ("bulkx.journal", ("/bulkx/journal/",)),
    ("bulkx.engine", ("/bulkx/engine/",)),
    ("bulkx.api", ("/bulkx/api/",)),
    ("bulkx (plan, diff, cli, other)", ("/bulkx/",)),
)


def profile_summary(path: Path) -> list[str]:
    """Own time per component of a cProfile file: where the client's time goes."""
    stats = pstats.Stats(str(path))
    totals: dict[str, float] = {}
    for (file, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        where = f"{file} {name}"
        component = next(
            (label for label, marks in COMPONENTS if any(m in where for m in marks)), "other"
        )
        totals[component] = totals.get(component, 0.0) + own
    total = sum(totals.values())
    lines = [f"{'own s':>7} {'share':>6}  component"]
    for component, own in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"{own:7.2f} {own / total:6.1%}  {component}")
    return lines


__all__ = ["at_rate_limit", "journal_cost", "profile_summary", "start_bulkx", "with_latency"]
