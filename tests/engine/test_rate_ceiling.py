"""A ceiling is a ceiling (issue 18, item 4): with `--rate R` no 1-second window holds more
than R requests, whatever stalls pacing has to catch up on, on a fake clock and at the wire."""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections.abc import Callable

import pytest

from bulkx.engine.ceiling import MAX_LATE, RECHECK_SECONDS, WINDOW_SLACK, SlidingCap
from bulkx.engine.throttle import AdaptiveLimiter
from tests.engine.test_throttle import FakeTime, _limiter


def most_in_any_second(times: list[float]) -> int:
    """The most of `times` in any half-open window [t, t + 1)."""
    times = sorted(times)
    best = left = 0
    for right, at in enumerate(times):
        while at - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


class Wire(FakeTime):
    """A fake clock, and the requests out on it: each reaches the server some time after the
    limiter let it go (held up in the client, now and then for long) and is answered a little
    later; the client handles an answer when it comes if it is idle, else when it is free."""

    def __init__(self, limiter_of: Callable[[Wire], AdaptiveLimiter]) -> None:
        super().__init__()
        self.limiter = limiter_of(self)
        self.arrivals: list[float] = []
        self._answers: list[tuple[float, float, bool]] = []  # (answered at, let go at, 429?)

    def send(self, let_go: float, held_up: float, serving: float, refused: bool) -> None:
        self.arrivals.append(let_go + held_up)
        heapq.heappush(self._answers, (let_go + held_up + serving, let_go, refused))

    def deliver(self) -> None:
        while self._answers and self._answers[0][0] <= self.now:
            _, let_go, refused = heapq.heappop(self._answers)
            if refused:
                self.limiter.on_throttled(retry_after=1.0, sent_at=let_go)
            else:
                self.limiter.on_success(let_go)

    async def sleep(self, seconds: float) -> None:
        """An idle client handles each answer as it comes."""
        self.slept.append(seconds)
        until = self.now + seconds
        while self._answers and self._answers[0][0] <= until:
            self.now = max(self.now, self._answers[0][0])
            self.deliver()
        self.now = until


def _stalled_run(wire: Wire, rng: random.Random, n: int) -> None:
    """`n` requests by a client that stalls at random: between requests (a busy loop, a slow
    journal, idle spells) and between a request's admission and the wire (up to 0.2 s: its
    connection, the journal's fsync), with now and then a 429's Retry-After pause."""

    async def scenario() -> None:
        for _ in range(n):
            let_go = await wire.limiter.acquire()
            held_up = rng.uniform(0.0, 0.003)
            if rng.random() < 0.03:
                held_up = rng.uniform(0.02, 0.2)
            wire.send(let_go, held_up, rng.uniform(0.001, 0.006), rng.random() < 0.004)
            roll = rng.random()
            if roll < 0.05:
                wire.now += rng.uniform(0.05, 1.5)
            elif roll < 0.08:
                wire.now += rng.uniform(0.0, 0.02) * rng.randint(1, 40)
            else:
                wire.now += rng.expovariate(1000.0)  # the client's own work per request
            wire.deliver()

    asyncio.run(scenario())


@pytest.mark.parametrize("seed", range(40))
def test_no_second_holds_more_than_the_ceiling_after_any_stalls(seed: int) -> None:
    rng = random.Random(seed)
    ceiling = rng.choice([0.5, 3.0, 7.3, 40.0, 50.0, 123.4, 500.0])
    remembered = ceiling * rng.uniform(0.5, 3.0) if rng.random() < 0.5 else None

    def limiter_of(wire: Wire) -> AdaptiveLimiter:
        limiter = _limiter(wire, ceiling=ceiling)
        if remembered is not None:
            limiter.start_from(remembered)  # a remembered limit, probed upward later
        return limiter

    wire = Wire(limiter_of)
    _stalled_run(wire, rng, min(3000, max(20, int(ceiling * 12))))
    assert most_in_any_second(wire.arrivals) <= max(1, math.floor(ceiling))


def test_steady_pace_under_a_ceiling_loses_only_the_slack() -> None:
    wire = Wire(lambda wire: _limiter(wire, ceiling=40.0))

    async def scenario() -> list[float]:
        admitted = []
        for _ in range(401):
            admitted.append(await wire.limiter.acquire())
            wire.send(admitted[-1], 0.001, 0.002, refused=False)
            wire.deliver()
        return admitted

    admitted = asyncio.run(scenario())
    pace = 400 / (admitted[-1] - admitted[0])
    assert 40 / (1 + WINDOW_SLACK) * 0.99 <= pace <= 40
    assert most_in_any_second(wire.arrivals) <= 40


def test_a_window_counts_from_when_the_answer_says_a_request_may_have_arrived() -> None:
    cap = SlidingCap(0.5, slack=0.0)  # one request per 2 s
    assert (cap.count, cap.seconds) == (1, 2.0)
    cap.admit(10.0)
    assert 0 < cap.wait(10.1) <= RECHECK_SECONDS  # not answered yet: look again soon
    cap.answered(10.0, 10.1)  # it may have reached the server only just before its answer
    assert cap.wait(11.0) == pytest.approx(1.1)
    assert cap.wait(12.1) == 0.0
    slow = SlidingCap(2.0, slack=0.0)
    slow.admit(10.0)
    slow.admit(10.5)
    slow.answered(10.5, 10.7)  # late by 0.2 s at most
    # Out for longer than MAX_LATE: a slow answer (or none, a timeout), not a late send; it
    # counts as late as the latest answered one of the window.
    assert slow.wait(10.0 + MAX_LATE + 0.01) == pytest.approx(1.2 - MAX_LATE - 0.01)
