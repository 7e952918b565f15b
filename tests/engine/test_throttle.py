"""The adaptive limiter on a fake clock: it learns a limit from 429s and stays under it."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from bulkx.engine.throttle import (
    ASSUMED_BURST_SECONDS,
    FITTED_HEADROOM,
    LEARNING_SECONDS,
    PROBE_AFTER,
    QUIET_SECONDS,
    RAMP_START,
    AdaptiveLimiter,
    Spell,
    agreements,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(time: FakeTime, **kwargs: object) -> AdaptiveLimiter:
    return AdaptiveLimiter(clock=time.clock, sleep=time.sleep, **kwargs)  # type: ignore[arg-type]


def _spell(time: FakeTime, limiter: AdaptiveLimiter, count: int, rate: float) -> None:
    """`count` requests admitted at `rate`/s, then a 429 with Retry-After: 1."""
    for _ in range(count):
        limiter.on_success(time.now)
        time.now += 1 / rate
    limiter.on_throttled(retry_after=1.0, sent_at=time.now)


@pytest.mark.parametrize("ceiling", [0.0, -5.0, math.nan])
def test_a_ceiling_of_zero_or_less_is_refused(ceiling: float) -> None:
    """No pace at all: it divided by zero, or (below zero) slept forever in a busy loop."""
    with pytest.raises(ValueError, match="must be above 0"):
        AdaptiveLimiter(ceiling)


def test_unlimited_until_the_server_objects_then_a_learning_spell_from_a_guess() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        await limiter.acquire()
        assert limiter.rate is None and time.slept == []
        _spell(time, limiter, count=110, rate=1100)  # 50 + 500/s * 0.1 s, at 1,100/s
        refused_at = time.now
        await limiter.acquire()
        assert time.now - refused_at >= 1.0  # Retry-After honoured
        # One spell cannot tell the limit from its burst: the guess assumes the burst.
        guess = 1100 / (1 + ASSUMED_BURST_SECONDS / 0.1)
        assert limiter.rate == pytest.approx(guess * RAMP_START, rel=0.02)

    asyncio.run(scenario())


def test_the_429s_of_one_burst_are_one_spell() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        await limiter.acquire()
        _spell(time, limiter, count=110, rate=1100)
        for _ in range(15):  # the rest of the concurrency window, refused too
            limiter.on_throttled(retry_after=1.0, sent_at=time.now)
            time.now += 0.001
        await limiter.acquire()

    asyncio.run(scenario())
    assert limiter.throttled == 16
    assert len(limiter._spells) == 1


def test_a_429_with_nothing_admitted_keeps_the_pace() -> None:
    time = FakeTime()
    limiter = _limiter(time, ceiling=120.0)
    limiter.on_throttled(retry_after=3.0)  # a storm: nothing got through at all
    assert limiter.throttled == 1

    async def scenario() -> None:
        before = time.now
        await limiter.acquire()
        assert time.now - before >= 3.0  # but its Retry-After is honoured

    asyncio.run(scenario())
    assert limiter.rate == 120.0


def test_a_retry_after_pause_is_not_caught_up_in_a_burst() -> None:
    time = FakeTime()
    limiter = _limiter(time, ceiling=100.0)

    async def scenario() -> list[float]:
        await limiter.acquire()
        limiter.on_success()
        limiter.on_throttled(retry_after=1.0)
        sent = []
        for _ in range(5):
            await limiter.acquire()
            sent.append(time.now)
        return sent

    sent = asyncio.run(scenario())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(gap >= 0.99 / limiter.rate for gap in gaps)  # type: ignore[operator]


def _bucket_spell(limit: float, burst: int, paces: list[tuple[float, float]]) -> Spell:
    """What a token bucket admits from full to its first refusal, for a client sending at
    each (pace, seconds) in turn and then at the last pace until refused."""
    tokens, now = float(burst), 0.0
    sent: list[float] = []
    segments = itertools.chain(paces[:-1], [(paces[-1][0], math.inf)])
    for pace, seconds in segments:
        until = now + seconds
        while now < until:
            now += 1 / pace
            tokens = min(burst, tokens + limit / pace)
            if tokens < 1:
                return Spell(sent, now)
            tokens -= 1
            sent.append(now)
    raise AssertionError("unreachable")


@pytest.mark.parametrize(("limit", "burst"), [(500, 50), (500, 500), (50, 5), (2000, 100)])
def test_spells_that_drained_for_different_lengths_agree_only_at_the_limit(
    limit: int, burst: int
) -> None:
    fast = _bucket_spell(limit, burst, [(limit * 1.7, 0)])  # unpaced, drained quickly
    slow = _bucket_spell(limit, burst, [(limit * 1.05, 0)])  # just over: a long drain
    found, _ = agreements([fast, slow], limit / 10, limit * 1.6)
    at_limit = [a for a in found if a.low <= limit <= a.high]
    assert len(at_limit) == 1
    assert at_limit[0].narrow
    assert at_limit[0].best == pytest.approx(limit, rel=0.01)


def test_a_lull_that_refills_the_bucket_is_counted_as_it_happened() -> None:
    """A stalled client lets the server's bucket fill up again: the drain starts over, and
    the spell says so (a plain count over the whole spell would put the limit too low)."""
    fast = _bucket_spell(500, 50, [(850, 0)])
    stalled = _bucket_spell(500, 50, [(530, 0.5), (100, 0.3), (530, 0)])
    found, _ = agreements([fast, stalled], 50, 800)
    assert any(a.low <= 500 <= a.high for a in found)


def test_similar_spells_do_not_fix_a_limit() -> None:
    one = _bucket_spell(500, 50, [(800, 0)])
    two = _bucket_spell(500, 50, [(810, 0)])
    found, _ = agreements([one, two], 50, 780)
    assert not any(a.narrow for a in found)


def test_the_first_spell_counts_from_when_requests_reached_the_wire() -> None:
    """The first requests of a run wait for connections after they are let go; counted
    from when they were let go, the first spell looks slower than it was."""
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        await limiter.acquire()
        start = time.now
        # 16 let go at once, on the wire only once connections opened, 50 ms later; each
        # answered a millisecond after it was on the wire
        for k in range(16):
            time.now = start + 0.05 + k / 1100 + 0.001
            limiter.on_success(start)
        # then 1,100/s until refused: 110 admitted in all, over 0.1 s on the wire
        for k in range(16, 110):
            sent = start + 0.05 + k / 1100
            time.now = sent + 0.001
            limiter.on_success(sent)
        time.now = start + 0.15 + 0.001
        limiter.on_throttled(retry_after=1.0, sent_at=start + 0.15)
        await limiter.acquire()

    asyncio.run(scenario())
    # 110 in 0.1 s: 1,100/s, a guess of 1,100 / (1 + 0.1 / 0.1); from the times the requests
    # were let go, 110 in 0.15 s would give 440
    assert limiter._guess == pytest.approx(550, rel=0.05)


def _against_a_token_bucket(
    limit: float,
    burst: int,
    client_speed: float,
    seconds: float,
    limiter: AdaptiveLimiter | None = None,
    time: FakeTime | None = None,
) -> tuple[AdaptiveLimiter, list[tuple[float, int]]]:
    """Send as fast as the limiter lets a client of `client_speed` requests/s, for `seconds`,
    to a server admitting `limit`/s with `burst` (Retry-After in whole seconds, at least 1).
    The answers: (time, status)."""
    time = time or FakeTime()
    limiter = limiter or _limiter(time)
    tokens, stamp = float(burst), time.now
    answers: list[tuple[float, int]] = []

    async def scenario() -> None:
        nonlocal tokens, stamp
        end = time.now + seconds
        while time.now < end:
            await limiter.acquire()
            sent = await limiter.wait_out_pause()
            time.now += 1 / client_speed
            tokens = min(burst, tokens + (time.now - stamp) * limit)
            stamp = time.now
            if tokens >= 1:
                tokens -= 1
                answers.append((time.now, 200))
                limiter.on_success(sent)
            else:
                answers.append((time.now, 429))
                retry_after = max(1, math.ceil((1 - tokens) / limit))
                limiter.on_throttled(retry_after, sent)

    asyncio.run(scenario())
    return limiter, answers


@pytest.mark.parametrize(
    ("limit", "burst", "client_speed"),
    [(500, 50, 650), (500, 50, 850), (200, 20, 650), (50, 5, 650), (1000, 100, 1300)],
)
def test_the_limit_is_learned_within_seconds_and_then_kept(
    limit: int, burst: int, client_speed: int
) -> None:
    limiter, answers = _against_a_token_bucket(limit, burst, client_speed, seconds=20)
    start = answers[0][0]
    late = [status for at, status in answers if at >= start + 5]
    admitted_late = late.count(200) / (answers[-1][0] - start - 5)
    assert late.count(429) == 0
    assert 0.95 * limit <= admitted_late <= limit
    assert limiter.rate is not None and 0.95 * limit <= limiter.rate <= limit


@pytest.mark.parametrize(("burst", "client_speed"), [(25, 800), (500, 800), (100, 650)])
def test_a_burst_unlike_the_assumed_one_is_learned_too(burst: int, client_speed: int) -> None:
    """The first guess assumes a burst of 0.1 s; other bursts take more learning spells."""
    limiter, answers = _against_a_token_bucket(500, burst, client_speed, seconds=40)
    start = answers[0][0]
    late = [status for at, status in answers if at >= start + 20]
    assert late.count(429) == 0
    assert limiter.rate is not None and 0.9 * 500 <= limiter.rate <= 500


def test_a_learning_spell_ramps_then_ends_unpaced() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> list[float | None]:
        await limiter.acquire()
        _spell(time, limiter, count=110, rate=1100)
        rates = []
        for _ in range(20):
            await limiter.acquire()
            rates.append(limiter.rate)
            time.now += LEARNING_SECONDS / 15
        return rates

    rates = asyncio.run(scenario())
    paced = [r for r in rates if r is not None]
    assert paced == sorted(paced) and paced[-1] > paced[0]  # ramping up
    assert rates[-1] is None  # then unpaced until the 429 that ends the spell


def test_a_ceiling_is_never_exceeded_not_even_unpaced() -> None:
    time = FakeTime()
    capped = _limiter(time, ceiling=300.0)
    capped, answers = _against_a_token_bucket(500, 50, 900, 10, capped, time)
    assert all(status == 200 for _, status in answers)
    assert capped.rate == 300.0
    sent = [at for at, _ in answers]
    assert len(sent) / (sent[-1] - sent[0]) <= 300 * 1.01


def test_a_settled_guess_is_probed_upward_later() -> None:
    """A slow client's first spell is long and leaves no time to learn before LEARN_BY: the
    pace settles on the guess, and is probed upward after PROBE_AFTER."""
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> tuple[float | None, float | None]:
        await limiter.acquire()
        _spell(time, limiter, count=1550, rate=520)  # 50 + 500/s * 3 s, barely over
        await limiter.acquire()
        settled = limiter.rate
        time.now += PROBE_AFTER + 0.1
        await limiter.acquire()
        return settled, limiter.rate

    settled, probed = asyncio.run(scenario())
    assert settled is not None and probed is not None
    assert 0.93 * 500 <= settled <= 500
    assert probed > settled


def test_fitted_pace_keeps_a_margin_under_the_limit() -> None:
    limiter, _ = _against_a_token_bucket(500, 50, 800, seconds=10)
    assert limiter.estimate is not None
    assert limiter.rate == pytest.approx(limiter.estimate * FITTED_HEADROOM)
    assert limiter.estimate == pytest.approx(500, rel=0.01)


def test_the_client_may_hurry_once_a_server_refused_nothing_for_a_second() -> None:
    """Work is taken ahead (`may_hurry`) only where it cannot blur a spell: not in the first
    QUIET_SECONDS of sending, nor from a 429 until the pace settles."""
    time = FakeTime()
    limiter = _limiter(time)

    def state() -> tuple[bool, bool]:
        return limiter.learning, limiter.may_hurry

    async def scenario() -> None:
        assert state() == (True, False)  # nothing sent yet
        await limiter.acquire()
        limiter.on_success(time.now)
        time.now += QUIET_SECONDS / 2
        assert state() == (True, False)
        time.now += QUIET_SECONDS / 2
        assert state() == (True, True)  # nothing refused in a second
        _spell(time, limiter, count=600, rate=1100)
        assert state() == (True, False)  # a 429: the limit is taught now
        for _ in range(2_000):
            if not limiter.learning:
                break
            await limiter.acquire()
            limiter.on_success(time.now)
        assert state() == (False, True)  # settled

    asyncio.run(scenario())


def test_a_ceiling_or_a_remembered_limit_may_hurry_from_the_first_request() -> None:
    time = FakeTime()
    assert _limiter(time, ceiling=100.0).may_hurry
    remembered = _limiter(time)
    remembered.start_from(500.0, 50.0, fitted=True)
    assert remembered.may_hurry
