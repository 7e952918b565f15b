"""Reading live state: apply's retry, 429 and outage policy for reads, sub-records read once
each and only for DIDs that exist, a bounded window, and progress.

`ReadPolicy` (bulkx.engine.read_policy) is driven on a fake clock; `read_live_state` against
the in-process sandbox, read through it as a run reads."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.api import CarrierX, Secret, Target
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS
from bulkx.diff.read import ApiReader, _gather_bounded, read_live_state
from bulkx.engine.executor import OutageBreaker
from bulkx.engine.read_policy import ReadPolicy, briefly, for_run, policed
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import (
    AuthError,
    InvalidRequest,
    RateLimited,
    ReadStopped,
    ServerError,
    TransportError,
)
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.resources.numbers import seed_ported

URL = "http://127.0.0.1/core/v2/phonenumber/dids/abc/emergency"


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def _policy(
    time: FakeTime, *, open_after: float = DEFAULT_OUTAGE_SECONDS, min_errors: int = 5
) -> ReadPolicy:
    limiter = AdaptiveLimiter(clock=time.clock, sleep=time.sleep)
    breaker = OutageBreaker(open_after=open_after, min_errors=min_errors, clock=time.clock)
    return ReadPolicy(limiter, breaker, sleep=time.sleep, rng=random.Random(1))


def _answers(*outcomes: Exception | str) -> tuple[list[float], Any]:
    """An attempt that fails or answers in this order; and the times it was called at."""
    called: list[float] = []
    queue = list(outcomes)

    def make(time: FakeTime) -> Any:
        async def attempt() -> str:
            called.append(time.now)
            outcome = queue.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return attempt

    return called, make


def _503() -> ServerError:
    return ServerError("service unavailable", 503, "GET", URL + "?filter=x")


def test_a_429_pauses_for_its_retry_after_and_costs_no_attempt() -> None:
    time = FakeTime()
    policy = _policy(time)
    throttled = RateLimited("too many requests", 429, "GET", URL, retry_after=2.0)
    called, make = _answers(throttled, throttled, "ok")
    assert asyncio.run(policy.call("GET", make(time))) == "ok"
    assert called[1] - called[0] >= 2.0 and called[2] - called[1] >= 2.0
    assert policy.limiter.throttled == 2


def test_a_429_asking_for_a_longer_wait_than_the_policy_allows_stops_the_read() -> None:
    time = FakeTime()
    called, make = _answers(RateLimited("slow down", 429, "GET", URL, retry_after=3600.0), "ok")
    with pytest.raises(ReadStopped, match="the API asked to wait 3600 s before the next read"):
        asyncio.run(_policy(time).call("GET", make(time)))
    assert len(called) == 1


def test_transient_errors_are_retried_with_backoff() -> None:
    time = FakeTime()
    policy = _policy(time)
    reset = TransportError("no response (connection reset)", None, "GET", URL)
    called, make = _answers(_503(), reset, ServerError("bad gateway", 502, "GET", URL), "ok")
    assert asyncio.run(policy.call("GET", make(time))) == "ok"
    assert len(called) == 4
    assert all(0 < s <= 15.0 for s in time.slept)  # backoffs, capped under the outage window


def test_an_outage_stops_the_read_in_words_after_the_window() -> None:
    time = FakeTime()
    policy = _policy(time, open_after=60.0)
    _, make = _answers(*[_503() for _ in range(1000)])
    with pytest.raises(ReadStopped) as stopped:
        asyncio.run(policy.call("GET", make(time)))
    message = str(stopped.value)
    assert message == (
        "reading live state stopped: the API answered nothing but errors for 60 s"
        " (last: 503 service unavailable, GET /core/v2/phonenumber/dids/abc/emergency)"
    )
    assert 60.0 <= time.now < 60.0 + 15.0 + 1  # called soon after the window, not much later
    assert isinstance(stopped.value.last, ServerError)
    assert "RetryBudget" not in message


def test_a_read_that_keeps_failing_while_the_api_answers_stops_after_its_attempts() -> None:
    time = FakeTime()
    policy = _policy(time, min_errors=1_000)  # never suspects an outage
    called, make = _answers(*[_503() for _ in range(100)])
    with pytest.raises(ReadStopped, match="one read failed 8 times in a row"):
        asyncio.run(policy.call("GET", make(time)))
    assert len(called) == 8


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("bad filter", 400, "GET", URL),
        AuthError("unauthorized", 401, "GET", URL),
    ],
)
def test_terminal_errors_are_not_retried(error: Exception) -> None:
    time = FakeTime()
    called, make = _answers(error, "ok")
    with pytest.raises(type(error)):
        asyncio.run(_policy(time).call("GET", make(time)))
    assert len(called) == 1


def test_briefly_names_status_message_and_path_not_the_query() -> None:
    assert briefly(_503()) == (
        "503 service unavailable, GET /core/v2/phonenumber/dids/abc/emergency"
    )
    assert briefly(TransportError("no response (refused)", None, "GET", URL)).startswith(
        "no response (refused), GET /core/"
    )


def test_gather_bounded_keeps_order_bounds_the_window_and_cancels_on_error() -> None:
    running = peak = 0

    async def job(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return n

    out = asyncio.run(_gather_bounded((partial(job, n) for n in range(50)), 4))
    assert out == list(range(50)) and peak == 4

    started: list[int] = []

    async def failing(n: int) -> None:
        started.append(n)
        await asyncio.sleep(0.001 * n)
        if n == 2:
            raise ReadStopped("down")

    with pytest.raises(ReadStopped):
        asyncio.run(_gather_bounded((partial(failing, n) for n in range(100)), 4))
    assert len(started) < 10  # the rest never started


# --- read_live_state against the in-process sandbox ------------------------------------------

NUMBERS = [f"1201314{i:04d}" for i in range(30)]
NOT_OURS = ["12013149990", "12013149991"]


class CountingTransport(SandboxTransport):
    """Counts requests by path and the most in flight at once."""

    def __init__(self, app: SandboxApp) -> None:
        super().__init__(app)
        self.paths: list[str] = []
        self.running = self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            return await super().handle_async_request(request)
        finally:
            self.running -= 1


@pytest.fixture
def app(tmp_path: Path) -> SandboxApp:
    app = create_app(SandboxConfig(db=tmp_path / "w.db", seed=5, token="t"))
    seed_ported(app.world, [(n, "line") for n in NUMBERS])
    return app


def _plan(path: Path, text: str) -> ValidPlan:
    path.write_text(text)
    plan, diagnostics = load_valid(path)
    assert plan is not None, diagnostics
    return plan


def _e911_and_line_plan(tmp_path: Path) -> ValidPlan:
    e911 = tmp_path / "e911.csv"
    e911.write_text(
        "phonenumber,address_1,city,state,zip\n"
        + "".join(f"{n},1 Main St,New York,NY,10001\n" for n in NUMBERS + NOT_OURS)
    )
    lines = tmp_path / "lines.csv"
    lines.write_text("phonenumber,caller_name\n" + "".join(f"{n},ACME\n" for n in NUMBERS))
    return _plan(
        tmp_path / "plan.yaml",
        "version: 1\nsteps:\n"
        "  - {kind: did_emergency, name: e911, source: e911.csv}\n"
        "  - {kind: did_line_information, name: lines, source: lines.csv}\n",
    )


def _client(transport: httpx.AsyncBaseTransport) -> CarrierX:
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    return CarrierX(target, Secret("t"), transport=transport)


def test_sub_records_are_read_once_each_only_for_dids_that_exist_with_progress(
    app: SandboxApp, tmp_path: Path
) -> None:
    plan = _e911_and_line_plan(tmp_path)
    app.controls.set_faults("latency=2ms")  # answers that take time: reads overlap
    transport = CountingTransport(app)
    heard: list[tuple[str, int, int]] = []

    async def read() -> Any:
        async with _client(transport) as client:
            return await read_live_state(
                client, plan, concurrency=4, progress=lambda *p: heard.append(p)
            )

    live = asyncio.run(read())
    assert set(live.objects["did_emergency"]) == set(NUMBERS)
    assert set(live.objects["did_line_information"]) == set(NUMBERS)
    e911_reads = [p for p in transport.paths if p.endswith("/emergency")]
    line_reads = [p for p in transport.paths if p.endswith("/line_information")]
    assert len(e911_reads) == len(set(e911_reads)) == len(NUMBERS)  # none for NOT_OURS
    assert len(line_reads) == len(set(line_reads)) == len(NUMBERS)
    assert transport.peak == 4
    what = "DIDs (E911 and line information)"
    assert heard[0] == ("DIDs", 0, len(NUMBERS) + len(NOT_OURS))
    assert ("DIDs", len(NUMBERS) + len(NOT_OURS), len(NUMBERS) + len(NOT_OURS)) in heard
    sub = [done for w, done, total in heard if w == what and total == len(NUMBERS)]
    assert sub == list(range(len(NUMBERS) + 1))  # 0, 1, ... all: one by one, in order


def test_a_read_under_5xx_faults_is_retried_to_the_same_state(
    app: SandboxApp, tmp_path: Path
) -> None:
    plan = _e911_and_line_plan(tmp_path)

    async def read() -> Any:
        async with _client(SandboxTransport(app)) as client:
            return await read_live_state(for_run(client), plan)

    clean = asyncio.run(read())
    app.controls.set_faults("http_5xx=0.2,reset=0.05", seed=4)
    faulted = asyncio.run(read())
    assert faulted.objects == clean.objects
    log = app.controls.log.entries(0, 100_000)
    assert sum(e["fault"] in ("http_5xx", "reset") for e in log) >= 10


def test_an_outage_stops_read_live_state_with_read_stopped(app: SandboxApp, tmp_path: Path) -> None:
    plan = _e911_and_line_plan(tmp_path)
    app.controls.set_faults("outage=60s@0s")

    async def read() -> Any:
        async with _client(SandboxTransport(app)) as client:
            return await read_live_state(for_run(client, outage_after=1.0), plan)

    with pytest.raises(ReadStopped, match=r"nothing but errors for 1 s \(last: 503 "):
        asyncio.run(asyncio.wait_for(read(), 20))


def test_the_run_limiter_paces_the_reads(app: SandboxApp, tmp_path: Path) -> None:
    plan = _e911_and_line_plan(tmp_path)
    limiter = AdaptiveLimiter(400.0)
    loop_time: list[float] = []

    async def read() -> Any:
        async with _client(SandboxTransport(app)) as client:
            loop_time.append(asyncio.get_running_loop().time())
            reader = policed(client, ReadPolicy(limiter, OutageBreaker()))
            live = await read_live_state(reader, plan)
            loop_time.append(asyncio.get_running_loop().time())
            return live

    asyncio.run(read())
    requests = len(app.controls.log.entries(0, 100_000))
    assert requests > 60
    assert loop_time[1] - loop_time[0] >= (requests - 2) / 400.0  # never faster than 400/s


class PlainReader:
    """A reader with no retry policy to swap: each of its calls is retried as a whole."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]:
        self.calls += 1
        if self.calls <= self.failures:
            raise _503()
        return []

    async def get(
        self,
        api: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Any:
        raise AssertionError("no GET expected")


def test_a_plain_reader_is_read_under_the_policy_too(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "t.csv", "# kind: trunk_group\nname\nacme\n")
    reader = PlainReader(failures=2)
    typed: ApiReader = reader
    asyncio.run(read_live_state(for_run(typed), plan))
    assert reader.calls >= 3
