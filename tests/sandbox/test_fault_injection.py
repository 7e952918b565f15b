"""The sandbox's fault specs, fault injector, token bucket and request log, without HTTP:
parsing and printing a spec, deterministic fates for a seed, windows and counters on a fake
clock. (tests/sandbox/test_controls.py has them at work, over HTTP and in-process.)"""

from __future__ import annotations

from typing import Any

import pytest

from bulkx.sandbox.controls import RequestLog
from bulkx.sandbox.faults import (
    FAULT_NAMES,
    HTTP_5XX_STATUSES,
    FaultInjector,
    FaultKind,
    FaultSpec,
    FaultSpecError,
    parse_fault_spec,
)
from bulkx.sandbox.ratelimit import TokenBucketLimiter
from tests.sandbox.fake_clock import FakeClock

pytestmark = pytest.mark.timeout(30)


# --- fault spec parsing -----------------------------------------------------------------------


def test_parse_full_spec() -> None:
    spec = parse_fault_spec(
        "latency=20ms,jitter=10ms,http_5xx=0.02,reset=0.01,execute_then_reset=0.02,"
        "outage=10s@30s,unauthorized_after=500"
    )
    assert spec == FaultSpec(
        latency_s=0.02,
        jitter_s=0.01,
        http_5xx=0.02,
        reset=0.01,
        execute_then_reset=0.02,
        outages=((30.0, 10.0),),
        unauthorized_after=500,
    )


def test_parse_units_spaces_and_repeated_outage() -> None:
    spec = parse_fault_spec(" latency = 1.5 , jitter=2s, outage=500ms@1, outage=2@0.25s ,")
    assert spec.latency_s == 1.5
    assert spec.jitter_s == 2.0
    assert spec.outages == ((1.0, 0.5), (0.25, 2.0))


def test_empty_spec_means_no_faults() -> None:
    assert parse_fault_spec("") == FaultSpec()
    assert parse_fault_spec("  ") == FaultSpec()
    assert FaultSpec().is_empty
    assert FaultSpec().to_text() == ""


@pytest.mark.parametrize(
    "text",
    [
        "",
        "latency=20ms,jitter=10ms,http_5xx=0.02,reset=0.01,execute_then_reset=0.02,"
        "outage=10s@30s,unauthorized_after=500",
        "latency=1.5s,outage=250ms@0s,outage=1s@2.125s",
        "latency=0.1234567s,http_5xx=1,reset=0.3333333333333333",
        "jitter=3ms,unauthorized_after=0",
        "throttle=10s@5s,throttle=1s@30s,retry_after=3s",
    ],
)
def test_to_text_round_trips(text: str) -> None:
    spec = parse_fault_spec(text)
    assert parse_fault_spec(spec.to_text()) == spec
    assert parse_fault_spec(spec.to_text()).to_text() == spec.to_text()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("latncy=20ms", "latncy"),
        ("latency", "latency"),
        ("latency=fast", "latency=fast"),
        ("latency=-5ms", "latency=-5ms"),
        ("jitter=10min", "jitter=10min"),
        ("http_5xx=1.5", "http_5xx=1.5"),
        ("reset=-0.1", "reset=-0.1"),
        ("execute_then_reset=nan", "execute_then_reset=nan"),
        ("outage=10s", "outage=10s"),
        ("outage=10s@soon", "outage=10s@soon"),
        ("unauthorized_after=2.5", "unauthorized_after=2.5"),
        ("unauthorized_after=-1", "unauthorized_after=-1"),
        ("latency=1ms,latency=2ms", "latency=2ms"),
        ("reset=0.1,reset=0.1", "reset=0.1"),
    ],
)
def test_parse_errors_name_the_item_and_list_valid_names(text: str, named: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault_spec(text)
    message = str(info.value)
    assert named in message
    for name in FAULT_NAMES:
        assert name in message
    assert isinstance(info.value, ValueError)


def test_fault_spec_validates_when_built_directly() -> None:
    with pytest.raises(FaultSpecError):
        FaultSpec(http_5xx=2.0)
    with pytest.raises(FaultSpecError):
        FaultSpec(outages=((-1.0, 5.0),))


# --- the fault injector and the token bucket, without HTTP -----------------------------------


def test_injector_is_deterministic_for_a_seed() -> None:
    spec = parse_fault_spec("jitter=10ms,http_5xx=0.2,reset=0.2,execute_then_reset=0.2")
    credentials = ["a", "b", None] * 100

    def run(seed: int) -> list[Any]:
        injector = FaultInjector(spec, seed=seed, clock=FakeClock())
        return [injector.decide(c) for c in credentials]

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    kinds = {d.kind for d in first}
    assert kinds == {
        FaultKind.NONE,
        FaultKind.HTTP_5XX,
        FaultKind.RESET,
        FaultKind.EXECUTE_THEN_RESET,
    }
    assert {d.status for d in first if d.kind is FaultKind.HTTP_5XX} <= set(HTTP_5XX_STATUSES)

    injector = FaultInjector(spec, seed=7, clock=FakeClock())
    [injector.decide(c) for c in credentials[:10]]
    injector.replace(spec, 7)
    assert [injector.decide(c) for c in credentials] == first


def test_injector_outage_window_and_unauthorized_counter() -> None:
    clock = FakeClock()
    injector = FaultInjector(parse_fault_spec("outage=10s@5s,unauthorized_after=2"), 1, clock)
    assert injector.decide("a").kind is FaultKind.NONE
    clock.now += 5
    assert injector.decide("a").kind is FaultKind.OUTAGE
    clock.now += 9.9
    assert injector.decide("a").kind is FaultKind.OUTAGE
    clock.now += 0.1
    assert injector.decide("a").kind is FaultKind.NONE
    assert injector.decide("a").kind is FaultKind.UNAUTHORIZED
    assert injector.decide("b").kind is FaultKind.NONE
    assert injector.decide(None).kind is FaultKind.NONE
    # replace() restarts the outage clock and the counters.
    injector.replace(injector.spec, injector.seed)
    assert injector.decide("a").kind is FaultKind.NONE
    clock.now += 5
    assert injector.decide("a").kind is FaultKind.OUTAGE


def test_injector_latency_is_a_floor_plus_jitter() -> None:
    injector = FaultInjector(parse_fault_spec("latency=20ms,jitter=10ms"), 3, FakeClock())
    latencies = [injector.decide("a").latency_s for _ in range(200)]
    assert min(latencies) >= 0.02
    assert max(latencies) <= 0.03
    assert len(set(latencies)) > 100


def test_token_bucket_refill_and_waits() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.try_acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("a") == pytest.approx(0.5)
    assert limiter.try_acquire("b") == 0.0  # another key has its own bucket
    clock.now += 0.25
    assert limiter.try_acquire("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.try_acquire("a") == 0.0
    clock.now += 100  # refill is capped at `burst`
    assert [limiter.try_acquire("a") for _ in range(4)][-1] > 0.0
    limiter.configure(0, 1)
    assert all(limiter.try_acquire("a") == 0.0 for _ in range(100))
    with pytest.raises(ValueError, match="burst"):
        limiter.configure(1.0, 0)


def test_request_log_ring_and_since() -> None:
    log = RequestLog(capacity=3, clock=lambda: 42.0)

    def add(n: int) -> None:
        for _ in range(n):
            log.record(
                method="GET",
                path="/x",
                query="",
                status=200,
                credential="c",
                fault=None,
                duration_ms=1.0,
            )

    add(5)
    assert [e["seq"] for e in log.entries()] == [3, 4, 5]
    assert [e["seq"] for e in log.entries(since_seq=3)] == [4, 5]
    assert [e["seq"] for e in log.entries(since_seq=0, limit=2)] == [3, 4]
    assert log.entries()[0]["time"] == 42.0
    assert log.clear() == 3
    assert log.entries() == []
    add(4)
    assert [e["seq"] for e in log.entries()] == [7, 8, 9]
    assert log.last_seq == 9
