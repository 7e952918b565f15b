"""Sandbox capacity: 200,000 rented DIDs, a 1.2M-number inventory, list pages of limit=1000.

Prints, for each request shape, the median and p95 latency over real HTTP on 127.0.0.1, and the
ratio to a baseline measured in the same run (a trivial authenticated request, `/oauth/whoami`)
and to the 100 ms target. Writes bench/results/sandbox.json.

    python bench/sandbox_bench.py [--dids 200000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_rented
from bulkx.sandbox.server import serve_in_thread

TARGET_MS = 100.0


def populate(app: SandboxApp, count: int) -> float:
    started = time.perf_counter()
    seed_rented(app.world, count, every=2)
    return time.perf_counter() - started


Params = dict[str, str | int]
#: (method, path, JSON body or None) of one request sent for throughput.
Send = tuple[str, str, dict[str, str] | None]


def timed(client: httpx.Client, path: str, params: Params, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


async def _throughput(base: str, paths: Sequence[Send]) -> float:
    """Requests/s for `paths` sent 16 at a time (aiohttp transport: the client must not be the
    bottleneck, see ../shared/reference/performance-notes.md)."""
    from httpx_aiohttp import AiohttpTransport

    window = asyncio.Semaphore(16)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": "Bearer bench"}, transport=AiohttpTransport()
    ) as client:

        async def one(method: str, path: str, body: dict[str, str] | None) -> None:
            async with window:
                response = await client.request(method, path, json=body)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(m, p, b) for m, p, b in paths))
        return len(paths) / (time.perf_counter() - started)


def _shapes() -> list[tuple[str, str, Params]]:
    """The list requests timed: (label, path, query)."""
    dids, available = "/phonenumber/dids", "/phonenumber/available_dids"
    return [
        ("dids limit=1000 offset=0", dids, {"limit": 1000}),
        ("dids limit=1000 offset=150000", dids, {"limit": 1000, "offset": 150_000}),
        ("dids filter state eq NY", dids, {"limit": 1000, "filter": 'state eq "NY"'}),
        (
            "dids filter like 1212% order desc",
            dids,
            {"limit": 1000, "filter": 'phonenumber like "1212%"', "order": "phonenumber desc"},
        ),
        ("available limit=1000", available, {"limit": 1000}),
        ("available offset=900000", available, {"limit": 1000, "offset": 900_000}),
        ("available like 1917%", available, {"limit": 1000, "filter": 'phonenumber like "1917%"'}),
        ("available state eq CA", available, {"limit": 1000, "filter": 'state eq "CA"'}),
    ]


def _latencies(client: httpx.Client, repeat: int) -> list[dict[str, Any]]:
    """Median and p95 of each shape, against the baseline and the target."""
    baseline = statistics.median(timed(client, "/oauth/whoami", {}, repeat))
    results: list[dict[str, Any]] = []
    for label, path, params in _shapes():
        samples = sorted(timed(client, path, params, repeat))
        median = statistics.median(samples)
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        results.append(
            {
                "shape": label,
                "median_ms": round(median, 1),
                "p95_ms": round(p95, 1),
                "x_baseline": round(median / baseline, 1),
                "x_target": round(median / TARGET_MS, 2),
            }
        )
    return results


def _read_and_write_rates(client: httpx.Client, base: str) -> tuple[float, float]:
    """Requests/s of 2,000 trivial reads and of 2,000 PATCHes of rented DIDs."""
    page = client.get("/phonenumber/dids", params={"limit": 1000}).json()
    sids = [d["did_sid"] for d in page["items"]]
    reads: list[Send] = [("GET", "/oauth/whoami", None)] * 2000
    writes: list[Send] = [
        ("PATCH", f"/phonenumber/dids/{sids[i % len(sids)]}", {"name": f"line {i}"})
        for i in range(2000)
    ]
    return asyncio.run(_throughput(base, reads)), asyncio.run(_throughput(base, writes))


def _print_report(
    summary: dict[str, Any], load_s: float, inventory: int, rates: tuple[float, float]
) -> None:
    """The table on stdout; `rates` are the unrounded (reads/s, writes/s)."""
    print(
        f"sandbox bench: {summary['dids']:,} rented DIDs (loaded in {load_s:.1f} s), "
        f"inventory {inventory:,} numbers, peak RSS {summary['peak_rss_mb']:.0f} MB"
    )
    print(f"{'request':<38}{'median ms':>10}{'p95 ms':>9}{'x whoami':>10}{'x 100ms':>9}")
    for row in summary["results"]:
        print(
            f"{row['shape']:<38}{row['median_ms']:>10}{row['p95_ms']:>9}"
            f"{row['x_baseline']:>10}{row['x_target']:>9}"
        )
    read_rps, write_rps = rates
    print(
        f"writes: {write_rps:,.0f} PATCH/s vs {read_rps:,.0f} GET whoami/s (baseline),"
        f" ratio {write_rps / read_rps:.2f}; target >= 1,000 writes/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dids", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(SandboxConfig(db=Path(tmp) / "bench.db", seed=1, token="bench"))
        load_s = populate(app, args.dids)
        with (
            serve_in_thread(app) as server,
            httpx.Client(
                base_url=f"{server.url}/core/v2",
                headers={"Authorization": "Bearer bench"},
                timeout=60,
            ) as client,
        ):
            results = _latencies(client, args.repeat)
            read_rps, write_rps = _read_and_write_rates(client, f"{server.url}/core/v2")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "machine": platform.platform(),
        "dids": args.dids,
        "peak_rss_mb": round(peak_mb),
        "writes_per_s": round(write_rps),
        "whoami_per_s": round(read_rps),
        "results": results,
    }
    _print_report(summary, load_s, app.world.inventory.size, (read_rps, write_rps))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "sandbox.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
