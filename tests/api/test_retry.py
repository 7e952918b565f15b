"""The retry policy alone: which failures repeat, the wait schedule, the run-wide budget."""

from __future__ import annotations

import random

import pytest

from bulkx.api import RetryBudget, RetryPolicy, is_safe_to_retry
from bulkx.errors import (
    ApiError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TransportError,
)
from tests.api.conftest import RecordingSleep

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "error", "safe"),
    [
        ("GET", ServerError("x", 500), True),
        ("PUT", ServerError("x", 502), True),
        ("PATCH", TransportError("x"), True),
        ("DELETE", RateLimited("x", 429), True),
        ("GET", OutcomeUnknown("x"), False),  # OutcomeUnknown is never retried, even for GET
        ("POST", RateLimited("x", 429), True),
        ("POST", ServerError("x", 503), True),
        ("POST", ServerError("x", 500), False),
        ("POST", ServerError("x", 504), False),
        ("POST", TransportError("refused before sending"), True),
        ("POST", OutcomeUnknown("sent, no answer"), False),
        ("GET", NotFound("x", 404), False),
        ("PUT", Conflict("x", 409), False),
        ("PATCH", InvalidRequest("x", 422), False),
        ("GET", ApiError("x"), False),
        ("GET", ValueError("not an API error"), False),
    ],
)
def test_only_safe_repeats(method: str, error: BaseException, safe: bool) -> None:
    assert is_safe_to_retry(method, error) is safe


def test_wait_is_jittered_capped_backoff_but_at_least_retry_after() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0, rng=random.Random(3))
    waits = [policy.wait_seconds(n, ServerError("x", 500)) for n in range(1, 8)]
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(cap / 2 <= w <= cap for w, cap in zip(waits, caps, strict=True))
    assert policy.wait_seconds(1, RateLimited("x", 429, retry_after=7.0)) == 7.0


def test_retry_after_beyond_the_maximum_is_not_waited_for() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert not policy.should_retry("GET", RateLimited("x", 429, retry_after=3600))
    assert policy.should_retry("GET", RateLimited("x", 429, retry_after=30))


async def test_retries_until_success_with_the_injected_sleep(sleeps: RecordingSleep) -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError("busy", 503, retry_after=2.0)
        return "ok"

    budget = RetryBudget(capacity=10, per_success=0.5)
    policy = RetryPolicy(attempts=5, sleep=sleeps, budget=budget)
    assert await policy.call("GET", flaky) == "ok"
    assert calls == 3
    assert len(sleeps.delays) == 2
    assert all(d >= 2.0 for d in sleeps.delays)
    assert budget.spent == 2
    assert budget.remaining == pytest.approx(8.5)  # 10 - 2 retries + 0.5 for the success


async def test_gives_up_after_the_attempts_and_reraises_the_last_error(
    sleeps: RecordingSleep,
) -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ServerError(f"down {calls}", 500)

    with pytest.raises(ServerError, match="down 3"):
        await RetryPolicy(attempts=3, sleep=sleeps).call("GET", down)
    assert calls == 3
    assert len(sleeps.delays) == 2


async def test_outcome_unknown_post_is_raised_at_once(sleeps: RecordingSleep) -> None:
    calls = 0

    async def lost() -> None:
        nonlocal calls
        calls += 1
        raise OutcomeUnknown("reset after send")

    with pytest.raises(OutcomeUnknown):
        await RetryPolicy(sleep=sleeps).call("POST", lost)
    assert calls == 1
    assert sleeps.delays == []


async def test_an_empty_budget_stops_retries_for_the_whole_run(sleeps: RecordingSleep) -> None:
    budget = RetryBudget(capacity=2, per_success=0)
    policy = RetryPolicy(attempts=10, sleep=sleeps, budget=budget)
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise TransportError("no route")

    with pytest.raises(TransportError):
        await policy.call("GET", down)
    assert calls == 3  # the first try plus the budget's two retries
    calls = 0
    with pytest.raises(TransportError):
        await policy.call("GET", down)
    assert calls == 1  # the budget is shared: nothing left for later requests
    assert budget.refused == 2
