"""Diff of 100,000 live DIDs: load + validate the plan, read live state, diff. Target < 30 s.

The sandbox runs on a real socket (uvicorn on 127.0.0.1) and the client uses its production
transport. Baseline in the same run: fetching the same DIDs one GET per row (how a naive script
reads state), measured on a sample and scaled.

    python bench/diff_bench.py [--dids 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

from bulkx.api import CarrierX, Secret, Target
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.plan.load import load_plan
from bulkx.plan.validate import validate
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_rented
from bulkx.sandbox.server import serve_in_thread


def populate(app, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    return seed_rented(app.world, count, every=2)


async def measure(url: str, plan_path: Path, sample: list[str]) -> dict[str, float]:
    target = Target(f"{url}/core/v2", is_sandbox=True, label="bench sandbox")
    async with CarrierX(target, Secret("bench")) as client:
        started = time.perf_counter()
        plan, diagnostics = load_plan(plan_path)
        assert plan is not None, diagnostics[:3]
        problems = [d for d in validate(plan) if d.severity == "error"]
        assert not problems, problems[:3]
        loaded = time.perf_counter()
        live = await read_live_state(client, plan)
        read = time.perf_counter()
        changes = diff(plan, live)
        done = time.perf_counter()
        naive_started = time.perf_counter()
        for number in sample:
            await client.get(
                "core", "/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'}
            )
        naive_per_row = (time.perf_counter() - naive_started) / len(sample)
    updates = sum(1 for c in changes if c.action == "update")
    return {
        "load_validate_s": loaded - started,
        "read_s": read - loaded,
        "diff_s": done - read,
        "total_s": done - started,
        "updates": updates,
        "naive_per_row_s": naive_per_row,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dids", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(SandboxConfig(db=Path(tmp) / "bench.db", seed=1, token="bench"))
        numbers = populate(app, args.dids)
        plan_path = Path(tmp) / "dids.csv"
        with plan_path.open("w") as out:
            out.write("# kind: did\nphonenumber,ensure,name\n")
            for i, number in enumerate(numbers):
                # Every tenth name differs from live state: the diff must find exactly those.
                out.write(f"{number},adopted,{'renamed' if i % 10 == 0 else 'N/A'}\n")
        with serve_in_thread(app) as server:
            result = asyncio.run(measure(server.url, plan_path, numbers[:300]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    naive_total = result["naive_per_row_s"] * args.dids
    print(f"diff bench: {args.dids:,} live DIDs, peak RSS {peak_mb:.0f} MB")
    print(f"  load + validate   {result['load_validate_s']:6.1f} s")
    print(f"  read live state   {result['read_s']:6.1f} s")
    print(f"  diff              {result['diff_s']:6.1f} s")
    print(f"  total             {result['total_s']:6.1f} s   (target < 30 s)")
    print(f"  baseline: one GET per row, {naive_total:,.0f} s for all (sampled);"
          f" ratio {naive_total / result['total_s']:.1f}x")  # fmt: skip
    print(f"  updates found: {result['updates']:,} (expected {len(range(0, args.dids, 10)):,})")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "diff.json").write_text(json.dumps(
        {"machine": platform.platform(), "dids": args.dids, "peak_rss_mb": round(peak_mb),
         **{k: round(v, 3) for k, v in result.items()}}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
