"""Throughput at a rate limit: the executor against a sandbox limited to R requests/s.

For each R, N updates (PATCH) are applied with an adaptive limiter that is NOT told R: it must
learn it from 429s. Prints achieved ops/s / R (target >= 0.95) and the share of 429 answers
after the first 5 s (target < 1%), measured from the sandbox's own request log.

    python bench/throughput_bench.py [--rates 50 500] [--ops 3000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path

from bulkx.api import CarrierX, RetryPolicy, Secret, Target
from bulkx.diff.changes import Update
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.engine.executor import Executor, MemoryLedger
from bulkx.engine.operations import operations
from bulkx.engine.requests import Resolver
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.plan.load import load_plan
from bulkx.plan.validate import validate
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_rented
from bulkx.sandbox.server import serve_in_thread


def populate(app, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    return seed_rented(app.world, count)


async def run_once(rate: int, ops_count: int, tmp: Path) -> dict[str, float]:
    app = create_app(SandboxConfig(db=tmp / f"r{rate}.db", seed=1, token="bench",
                                   rate_limit=float(rate), burst=max(1, rate // 10)))  # fmt: skip
    numbers = populate(app, ops_count)
    plan_path = tmp / f"r{rate}.csv"
    plan_path.write_text(
        "# kind: did\nphonenumber,name\n" + "".join(f"{n},renamed\n" for n in numbers)
    )
    plan, _ = load_plan(plan_path)
    assert plan is not None
    validate(plan)
    with serve_in_thread(app) as server:
        target = Target(f"{server.url}/core/v2", is_sandbox=True, label="bench")
        async with CarrierX(target, Secret("bench")) as reader:
            live = await read_live_state(reader, plan)
            changes = diff(plan, live)
            assert all(isinstance(c, Update) for c in changes)
            ops = operations(changes, plan.digest)
            by_key = {op.op_key: c for op, c in zip(ops, changes, strict=True)}
            app.controls.log.clear()
            executor = Executor(
                reader.with_retry(RetryPolicy.never()), MemoryLedger(), Resolver.from_live(live),
                limiter=AdaptiveLimiter(), concurrency=32,
            )  # fmt: skip
            started = time.time()
            progress = await executor.run(ops, by_key)
            ended = time.time()
    log = [e for e in app.controls.log.entries(0, 10_000_000) if e["method"] == "PATCH"]
    late = [e for e in log if e["time"] >= started + 5]
    late_ok = [e for e in late if e["status"] == 200]
    throttled_late = sum(1 for e in late if e["status"] == 429)
    window = max(1e-6, ended - (started + 5))
    return {
        "rate_limit": rate,
        "ops": ops_count,
        "done": progress.done,
        "seconds": round(ended - started, 1),
        "achieved_after_5s": round(len(late_ok) / window, 1),
        "ratio": round(len(late_ok) / window / rate, 3),
        "share_429_after_5s": round(throttled_late / max(1, len(late)), 4),
        "throttled_total": sum(1 for e in log if e["status"] == 429),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--ops", type=int, nargs="+", default=[1500, 10000])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate, count in zip(args.rates, args.ops, strict=True):
            results.append(asyncio.run(run_once(rate, count, Path(tmp))))
    print(f"{'R':>5} {'ops':>6} {'secs':>6} {'ops/s after 5s':>15} {'x R':>6} {'429 after 5s':>13}")
    for r in results:
        print(f"{r['rate_limit']:>5} {r['ops']:>6} {r['seconds']:>6} {r['achieved_after_5s']:>15}"
              f" {r['ratio']:>6} {r['share_429_after_5s']:>12.2%}")  # fmt: skip
    print("targets: x R >= 0.95, 429 share after 5 s < 1%")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(
        json.dumps({"machine": platform.platform(), "results": results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
