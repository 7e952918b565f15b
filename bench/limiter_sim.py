"""Row 1 in virtual time: the limiter against a token bucket, many runs in seconds.

A real run of row 1 takes 40 s and moves with the machine's load; this runs the limiter
(`bulkx.engine.throttle.AdaptiveLimiter`, unchanged) on an event loop whose clock jumps to
the next timer, against a modelled client (one CPU shared by a window of workers, per-request
cost for the given speed, jitter, rare stalls) and a token-bucket server (Retry-After in whole
seconds, at least 1: the sandbox's own `TokenBucketLimiter`). It prints row 1's figure for each
client speed and seed (`bench.throughput.paced_figures`): the rate admitted after the first
5 s as a share of the limit, starred when under 0.95 or when any 429 came after 5 s.

    python -m bench.limiter_sim [--limit 500] [--burst 0.1] [--speeds 600,700,850] [--seeds 4]

The model is coarser than the real client (its answers carry no event-loop delays), so
confirm a change with real runs of row 1 (`python -m bench.run --full --rows 1`).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import selectors
from typing import Any

from bench.throughput import paced_figures
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.sandbox.ratelimit import TokenBucketLimiter

WINDOW = 16


class _Clockwork(selectors.DefaultSelector):
    """A selector with nothing to wait on: `select(timeout)` moves the clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise RuntimeError("nothing left to wait for")
        self.now += max(0.0, timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.clockwork = _Clockwork()
        super().__init__(self.clockwork)

    def time(self) -> float:
        return self.clockwork.now


class World:
    """A client CPU shared by the workers, and a rate-limited server with its own CPU."""

    def __init__(self, rng: random.Random, limit: float, burst: int, speed: float) -> None:
        self.rng, self.speed = rng, speed
        self.bucket = TokenBucketLimiter(limit, burst, clock=lambda: self.server_free)
        self.cpu_free = self.server_free = 0.0
        self.log: list[dict[str, float]] = []

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def cpu(self, cost: float) -> None:
        start = max(self.now(), self.cpu_free)
        if self.rng.random() < 0.002:  # a stall: GC, a slow fsync, the scheduler
            cost += self.rng.expovariate(1 / 0.015)
        self.cpu_free = start + cost * self.rng.uniform(0.8, 1.25)
        await asyncio.sleep(self.cpu_free - self.now())

    def serve(self, arrives: float) -> tuple[float, float | None]:
        """(when answered, Retry-After or None if admitted)."""
        self.server_free = max(arrives, self.server_free) + 1 / 2500
        wait = self.bucket.try_acquire("bench")
        self.log.append({"time": self.server_free, "status": 429 if wait else 200})
        return self.server_free, max(1, math.ceil(wait)) if wait else None


async def _apply(world: World, limiter: AdaptiveLimiter, ops: int) -> None:
    left = ops

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await world.cpu(0.55 / world.speed)
            await asyncio.sleep(world.rng.uniform(0.002, 0.006))  # the journal's commit
            while True:
                await limiter.acquire()
                sent = await limiter.wait_out_pause()
                answered, retry_after = world.serve(sent + world.rng.uniform(2e-4, 8e-4))
                await asyncio.sleep(answered + world.rng.uniform(2e-4, 8e-4) - world.now())
                await world.cpu(0.45 / world.speed)
                if retry_after is None:
                    limiter.on_success(sent)
                    break
                limiter.on_throttled(retry_after, sent)

    await asyncio.gather(*(worker() for _ in range(WINDOW)))


def run(limit: float, burst: float, speed: float, seed: int, ops: int) -> dict[str, float]:
    """Row 1's figures (`paced_figures`) for one simulated apply."""
    loop = VirtualLoop()
    try:
        world = World(random.Random(seed), limit, max(1, round(limit * burst)), speed)
        limiter = AdaptiveLimiter(clock=loop.time, sleep=asyncio.sleep)
        loop.run_until_complete(_apply(world, limiter, ops))
    finally:
        loop.close()
    return paced_figures(world.log, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=500)
    parser.add_argument("--burst", type=float, default=0.1, help="seconds of the limit")
    parser.add_argument("--speeds", default="520,560,600,650,700,800,900")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--ops", type=int, default=10_000)
    args = parser.parse_args()
    misses = runs = 0
    for speed in (float(s) for s in args.speeds.split(",")):
        cells = []
        for seed in range(args.seeds):
            figures = run(args.limit, args.burst, speed, seed, args.ops)
            ratio = figures["ratio"]
            missed = ratio < 0.95 or figures["share_429_after_5s"] > 0
            misses += missed
            runs += 1
            cells.append(f"{ratio:.3f}{'*' if missed else ' '}")
        print(f"client {speed:5.0f}/s: {' '.join(cells)}", flush=True)
    print(f"{misses} of {runs} runs under 0.95 R or with a 429 after 5 s")


if __name__ == "__main__":
    main()
