"""Rows 3 and 4: validating a million rows, and diffing 100,000 live DIDs.

3. `load_plan` + `validate` of 1,000,000 DID rows (polars, vectorised) against a row-by-row
   pydantic + phonenumbers validator (timed on a sample and scaled), in a child process so its
   peak RSS is its own (bench/validate_bench.py does the work); then the worst case for the
   range check, 300,000 rows each with its own NPA-NXX, the same way.
4. `bulkx plan` of 100,000 DIDs against a sandbox holding them: the command's wall time and the
   requests it used, against reading the same state one GET per row (sampled and scaled). The
   same run is then timed phase by phase in-process, to show where the time goes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import TOKEN, Sandbox, bulkx_env, run_bulkx, sandbox_process, seed_dids
from bench.rows import Row, Sizes

HERE = Path(__file__).resolve().parent
BASELINE_SAMPLE = 300


#: Row 3's worst case: distinct NPA-NXX prefixes (300,000 at full size), against < 3 s.
WORST_CASE_SHARE = 0.3


def _validate_bench(tmp: Path, rows: int, baseline_rows: int, *extra: str) -> dict[str, Any]:
    out = tmp / f"validate-{rows}{''.join(extra)}.json"
    command = [
        sys.executable,
        str(HERE / "validate_bench.py"),
        "--rows",
        str(rows),
        "--baseline-rows",
        str(baseline_rows),
        "--json",
        str(out),
        *extra,
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def validation(sizes: Sizes, tmp: Path) -> list[Row]:
    """Row 3: a million mixed-format rows, then the worst case for the range check."""
    f = _validate_bench(tmp, sizes.validate_rows, sizes.validate_baseline_rows)
    rows = [
        Row(
            3,
            f"validate {f['rows']:,} DID rows",
            bulkx=f"{f['bulkx_s']:.1f} s (load {f['load_s']:.1f} + validate {f['validate_s']:.1f})",
            baseline=f"row-by-row pydantic {f['baseline_s']:.0f} s (scaled)",
            ratio=f"{f['speedup']:.0f}x faster",
            target="< 1.5 s, < 300 MB",
            met=f["bulkx_s"] < 1.5 and f["bulkx_peak_rss_mb"] < 300,
            peak_rss_mb=f["bulkx_peak_rss_mb"],
            figures=f,
        )
    ]
    worst_rows = int(sizes.validate_rows * WORST_CASE_SHARE)
    w = _validate_bench(tmp, worst_rows, sizes.validate_baseline_rows // 2, "--distinct-prefixes")
    rows.append(
        Row(
            3,
            f"validate {worst_rows:,} distinct NPA-NXX",
            bulkx=f"{w['bulkx_s']:.1f} s (load {w['load_s']:.1f} + validate {w['validate_s']:.1f})",
            baseline=f"row-by-row pydantic {w['baseline_s']:.0f} s (scaled)",
            ratio=f"{w['speedup']:.0f}x faster",
            target="< 3 s",
            met=w["bulkx_s"] < 3,
            peak_rss_mb=w["bulkx_peak_rss_mb"],
            figures=w,
        )
    )
    return rows


def write_diff_plan(path: Path, numbers: list[str]) -> int:
    """A CSV plan adopting `numbers`, every tenth renamed; returns how many are renamed."""
    renamed = 0
    with path.open("w") as out:
        out.write("# kind: did\nphonenumber,ensure,name\n")
        for i, number in enumerate(numbers):
            # Every tenth name differs from live state: the diff must find exactly those.
            renamed += i % 10 == 0
            out.write(f"{number},adopted,{'renamed' if i % 10 == 0 else 'N/A'}\n")
    return renamed


async def _phases(url: str, plan_path: Path) -> dict[str, float]:
    from bulkx.api import CarrierX, Secret, Target
    from bulkx.diff.engine import diff
    from bulkx.diff.read import read_live_state
    from bulkx.plan.load import load_plan
    from bulkx.plan.validate import validate

    target = Target(f"{url}/core/v2", is_sandbox=True, label="bench")
    async with CarrierX(target, Secret(TOKEN)) as client:
        started = time.perf_counter()
        loaded_plan, diagnostics = load_plan(plan_path)
        assert loaded_plan is not None, diagnostics[:3]
        plan, problems = validate(loaded_plan)
        assert plan is not None, problems[:3]
        loaded = time.perf_counter()
        live = await read_live_state(client, plan)
        read = time.perf_counter()
        changes = diff(plan, live)
        done = time.perf_counter()
    updates = sum(1 for c in changes if c.action == "update")
    return {
        "load_validate_s": round(loaded - started, 2),
        "read_s": round(read - loaded, 2),
        "diff_s": round(done - read, 2),
        "updates": updates,
    }


def _one_get_per_row(sandbox: Sandbox, numbers: list[str]) -> float:
    """Seconds per row for reading state the naive way: one filtered GET per number."""
    with httpx.Client(
        base_url=sandbox.core_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        started = time.perf_counter()
        for number in numbers:
            client.get(
                "/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'}
            ).raise_for_status()
        return (time.perf_counter() - started) / len(numbers)


def live_diff(sizes: Sizes, tmp: Path) -> Row:
    work = tmp / "diff"
    work.mkdir()
    count = sizes.diff_dids
    numbers = seed_dids(work / "sandbox.db", count, every=2)
    plan = work / "dids.csv"
    expected = write_diff_plan(plan, numbers)
    with sandbox_process(work / "sandbox.db") as sb:
        since = sb.clear_log()
        finished = run_bulkx(
            ["plan", str(plan), "--base-url", sb.core_url, "-o", "json"],
            cwd=work,
            env=bulkx_env(work / "home"),
        )
        if finished.code != 0:
            raise RuntimeError(f"bulkx plan exited {finished.code}: {finished.stderr[-2000:]}")
        used = len(sb.requests(since))
        phases = asyncio.run(_phases(sb.url, plan))
        per_row = _one_get_per_row(sb, numbers[:BASELINE_SAMPLE])
    if phases["updates"] != expected:
        raise RuntimeError(f"the diff found {phases['updates']} updates, not {expected}")
    baseline_s = per_row * count
    figures = {
        "dids": count,
        "cli_s": round(finished.seconds, 2),
        "requests": used,
        "baseline_s": round(baseline_s, 1),
        "baseline_requests": count,
        **phases,
    }
    return Row(
        4,
        f"diff {count:,} live DIDs",
        bulkx=f"{finished.seconds:.1f} s, {used:,} requests",
        baseline=f"GET per row {baseline_s:,.0f} s, {count:,} req",
        ratio=f"{baseline_s / finished.seconds:.0f}x faster",
        target="< 5 s",
        met=finished.seconds < 5,
        peak_rss_mb=round(finished.peak_rss_mb),
        note=(
            f"in-process: load+validate {phases['load_validate_s']} s, read"
            f" {phases['read_s']} s, diff {phases['diff_s']} s"
        ),
        figures=figures,
    )
