"""The sandbox's operational controls at work: rate limit, faults, request log, admin API.

Behaviour is checked over real HTTP (uvicorn on 127.0.0.1) and in-process (SandboxTransport),
because dropped connections must look the same to a client on both. (Parsing fault specs, and
the injector, token bucket and log on their own: tests/sandbox/test_fault_injection.py.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bulkx.sandbox import assumptions
from bulkx.sandbox.controls import (
    ConnectionDropped,
    Message,
    RequestLog,
    SandboxControls,
    SandboxTransport,
    Scope,
)
from bulkx.sandbox.faults import (
    HTTP_5XX_STATUSES,
    FaultInjector,
    FaultSpec,
)
from bulkx.sandbox.server import quiet_dropped_connections, serve_in_thread
from tests.sandbox.fake_clock import FakeClock

pytestmark = pytest.mark.timeout(30)

ALICE = "Bearer s3cret-alice-7f1d2c"
BOB = "Bearer s3cret-bob-99aa01"
SECRETS = ("s3cret-alice-7f1d2c", "s3cret-bob-99aa01")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
def _quiet_uvicorn() -> None:
    quiet_dropped_connections()


def credential_of(scope: Scope) -> str | None:
    """An id derived from the secret, as the real sandbox would do: never the secret itself."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "cred-" + hashlib.sha256(value).hexdigest()[:10]
    return None


def alice_is_admin(scope: Scope) -> bool:
    """The admin credential of these tests: Alice's header (the sandbox's is its own token)."""
    return (b"authorization", ALICE.encode()) in list(scope["headers"])


def alice_id() -> str:
    return "cred-" + hashlib.sha256(ALICE.encode()).hexdigest()[:10]


@dataclass
class Counter:
    value: int = 0


def make_app(counter: Counter) -> Starlette:
    async def items(request: Request) -> JSONResponse:
        if request.method == "POST":
            counter.value += 1
        return JSONResponse({"count": counter.value})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"served_by": "inner app", "count": counter.value})

    return Starlette(
        routes=[
            Route("/items", items, methods=["GET", "POST"]),
            Route("/_sandbox/state", state, methods=["GET"]),
        ]
    )


@dataclass
class Harness:
    controls: SandboxControls
    counter: Counter
    clock: FakeClock
    kind: str
    base_url: str

    def client(self, auth: str | None = ALICE) -> httpx.AsyncClient:
        headers = {"Authorization": auth} if auth else {}
        if self.kind == "http":
            return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)
        return httpx.AsyncClient(
            transport=SandboxTransport(self.controls), base_url=self.base_url, headers=headers
        )


def build_controls(clock: FakeClock) -> tuple[SandboxControls, Counter]:
    counter = Counter()
    controls = SandboxControls(
        make_app(counter),
        credential_of=credential_of,
        limiter=None,
        faults=FaultInjector(FaultSpec(), seed=0, clock=clock),
        log=RequestLog(),
        admin_auth=alice_is_admin,
    )
    return controls, counter


@pytest.fixture(params=["http", "asgi"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    clock = FakeClock()
    controls, counter = build_controls(clock)
    server: AbstractContextManager[Any] = (
        serve_in_thread(controls) if request.param == "http" else nullcontext()
    )
    with server as running:
        url = running.url if running is not None else "http://sandbox.test"
        yield Harness(controls, counter, clock, request.param, url)


def test_quiet_filter_matches_connection_dropped() -> None:
    logger = logging.getLogger("uvicorn.error")
    exc = ConnectionDropped("fault")
    record = logger.makeRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "boom", (), (ConnectionDropped, exc, None)
    )
    assert not logger.filter(record)
    other = logger.makeRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "boom", (), (ValueError, ValueError(), None)
    )
    assert logger.filter(other)


# --- over HTTP and in-process -----------------------------------------------------------------


@pytest.mark.anyio
async def test_pass_through_and_log(harness: Harness) -> None:
    async with harness.client() as client:
        assert (await client.post("/items")).json() == {"count": 1}
        response = await client.get("/items", params={"access_token": "leaky", "x": "1"})
        assert response.json() == {"count": 1}
    entries = harness.controls.log.entries()
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in entries] == [
        ("POST", "/items", 200, None),
        ("GET", "/items", 200, None),
    ]
    assert entries[0]["credential"] == alice_id()
    assert entries[1]["query"] == "access_token=REDACTED&x=1"
    assert set(entries[0]) == {
        "seq",
        "time",
        "method",
        "path",
        "query",
        "status",
        "credential",
        "fault",
        "duration_ms",
    }
    assert abs(entries[0]["time"] - time.time()) < 60
    assert entries[0]["duration_ms"] >= 0


@pytest.mark.anyio
async def test_rate_limit_answers_429_with_retry_after(harness: Harness) -> None:
    # 0.1 token/s: no refill can happen during the test, so exactly `burst` requests pass.
    harness.controls.set_rate_limit(0.1, 3)
    async with harness.client(ALICE) as alice, harness.client(BOB) as bob:
        responses = await asyncio.gather(*(alice.post("/items") for _ in range(12)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 3 + [429] * 9
        limited = next(r for r in responses if r.status_code == 429)
        retry_after = int(limited.headers["Retry-After"])
        assert assumptions.RETRY_AFTER_MIN_SECONDS <= retry_after <= 10
        assert limited.json() == {"message": "too many requests", "errors": []}
        assert harness.counter.value == 3
        # Bob's bucket is his own.
        assert (await bob.get("/items")).status_code == 200
        # Admin requests are never limited.
        assert (await alice.get("/_sandbox/faults")).status_code == 200
    faults = [e["fault"] for e in harness.controls.log.entries()]
    assert faults.count("rate_limit") == 9


@pytest.mark.anyio
async def test_latency_adds_delay(harness: Harness) -> None:
    harness.controls.set_faults("latency=150ms,jitter=20ms", seed=1)
    async with harness.client() as client:
        started = time.perf_counter()
        response = await client.get("/items")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.15
    (entry,) = harness.controls.log.entries()
    assert entry["fault"] == "latency"
    assert entry["duration_ms"] >= 150


@pytest.mark.anyio
async def test_http_5xx_does_not_call_the_app(harness: Harness) -> None:
    harness.controls.set_faults("http_5xx=1", seed=5)
    async with harness.client() as client:
        responses = [await client.post("/items") for _ in range(20)]
    statuses = {r.status_code for r in responses}
    assert statuses <= set(HTTP_5XX_STATUSES)
    assert len(statuses) > 1
    for response in responses:
        body = response.json()
        assert set(body) == set(assumptions.ERROR_BODY_KEYS)
        assert isinstance(body["message"], str)
    assert harness.counter.value == 0
    entries = harness.controls.log.entries()
    assert [e["status"] for e in entries] == [r.status_code for r in responses]
    assert {e["fault"] for e in entries} == {"http_5xx"}


@pytest.mark.anyio
async def test_reset_drops_the_connection_before_the_app(harness: Harness) -> None:
    harness.controls.set_faults("reset=1", seed=1)
    async with harness.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/items")
        harness.controls.clear_faults()
        assert (await client.get("/items")).json() == {"count": 0}
    assert harness.counter.value == 0
    entry = harness.controls.log.entries()[0]
    assert (entry["status"], entry["fault"]) == (0, "reset")


@pytest.mark.anyio
async def test_execute_then_reset_applies_the_effect_and_loses_the_answer(
    harness: Harness,
) -> None:
    harness.controls.set_faults("execute_then_reset=1", seed=1)
    async with harness.client() as client:
        with pytest.raises(httpx.TransportError):
            await client.post("/items")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/items")
        harness.controls.clear_faults()
        assert (await client.get("/items")).json() == {"count": 2}
    entries = harness.controls.log.entries()
    assert [(e["status"], e["fault"]) for e in entries[:2]] == [(0, "execute_then_reset")] * 2


@pytest.mark.anyio
async def test_outage_window(harness: Harness) -> None:
    harness.controls.set_faults("outage=10s@5s", seed=1)
    async with harness.client() as client:
        assert (await client.post("/items")).status_code == 200
        harness.clock.now += 6
        during = await client.post("/items")
        assert during.status_code == 503
        assert set(during.json()) == set(assumptions.ERROR_BODY_KEYS)
        harness.clock.now += 10
        assert (await client.post("/items")).status_code == 200
    assert harness.counter.value == 2
    assert [e["fault"] for e in harness.controls.log.entries()] == [None, "outage", None]


@pytest.mark.anyio
async def test_throttle_window_is_a_429_storm_with_its_retry_after(harness: Harness) -> None:
    harness.controls.set_faults("throttle=10s@5s,retry_after=1.5s", seed=1)
    async with harness.client() as client:
        assert (await client.post("/items")).status_code == 200
        harness.clock.now += 6
        during = await client.post("/items")
        assert during.status_code == 429
        assert during.headers["retry-after"] == "2"  # whole seconds, rounded up
        assert set(during.json()) == set(assumptions.ERROR_BODY_KEYS)
        harness.clock.now += 10
        assert (await client.post("/items")).status_code == 200
    assert harness.counter.value == 2
    assert [e["fault"] for e in harness.controls.log.entries()] == [None, "throttle", None]


@pytest.mark.anyio
async def test_unauthorized_after_applies_per_credential(harness: Harness) -> None:
    harness.controls.set_faults("unauthorized_after=3", seed=1)
    async with harness.client(ALICE) as alice, harness.client(BOB) as bob:
        alice_statuses = [(await alice.get("/items")).status_code for _ in range(5)]
        bob_statuses = [(await bob.get("/items")).status_code for _ in range(3)]
        unauthorized = await alice.get("/items")
    assert alice_statuses == [200, 200, 200, 401, 401]
    assert bob_statuses == [200, 200, 200]
    assert unauthorized.json()["message"] == assumptions.MESSAGE_BY_STATUS[401]


@pytest.mark.anyio
async def test_same_seed_same_fates(harness: Harness) -> None:
    async def run() -> list[int]:
        harness.controls.set_faults("http_5xx=0.3,reset=0.2,execute_then_reset=0.2", seed=11)
        outcomes: list[int] = []
        async with harness.client() as client:
            for _ in range(30):
                try:
                    outcomes.append((await client.post("/items")).status_code)
                except httpx.RemoteProtocolError:
                    outcomes.append(0)
        return outcomes

    first = await run()
    assert first == await run()
    assert {0, 200} <= set(first)
    assert set(first) - {0, 200}


@pytest.mark.anyio
async def test_log_never_holds_the_secret(harness: Harness) -> None:
    harness.controls.set_faults("http_5xx=0.5,reset=0.2", seed=3)
    async with harness.client(ALICE) as alice, harness.client(BOB) as bob:
        for client in (alice, bob) * 5:
            with suppress(httpx.RemoteProtocolError):
                await client.post("/items", params={"password": SECRETS[0]})
        page = (await alice.get("/_sandbox/requests")).json()
    dumped = json.dumps(page) + json.dumps(harness.controls.log.entries())
    for secret in SECRETS:
        assert secret not in dumped
    assert "Bearer" not in dumped
    assert len(page["items"]) == 10
    assert {e["credential"] for e in page["items"]} == {
        alice_id(),
        credential_of({"headers": [(b"authorization", BOB.encode())]}),
    }


@pytest.mark.anyio
async def test_admin_faults_endpoints(harness: Harness) -> None:
    async with harness.client() as client:
        assert (await client.get("/_sandbox/faults")).json() == {"spec": "", "seed": 0}
        put = await client.put(
            "/_sandbox/faults", json={"spec": "latency=0.020s, http_5xx=0.5", "seed": 9}
        )
        assert put.status_code == 200
        assert put.json() == {"spec": "latency=20ms,http_5xx=0.5", "seed": 9}
        assert (await client.get("/_sandbox/faults")).json() == put.json()
        assert harness.controls.faults.spec.http_5xx == 0.5

        bad = await client.put("/_sandbox/faults", json={"spec": "latency=2ms,bogus=1"})
        assert bad.status_code == 400
        body = bad.json()
        assert "bogus" in body["message"]
        assert body["errors"][0]["field"] == "spec"
        assert harness.controls.faults.spec.http_5xx == 0.5  # a bad spec changes nothing

        for payload in ({"spec": 5}, {"spec": "", "seed": "x"}, [1, 2]):
            assert (await client.put("/_sandbox/faults", json=payload)).status_code == 400
        not_json = await client.put("/_sandbox/faults", content=b"{nope")
        assert not_json.status_code == 400
        assert not_json.json()["message"] == assumptions.INVALID_JSON_MESSAGE

        deleted = await client.delete("/_sandbox/faults")
        assert deleted.json() == {"spec": "", "seed": 9}
        assert (await client.post("/_sandbox/faults")).status_code == 405


@pytest.mark.anyio
async def test_admin_rate_limit_and_requests_endpoints(harness: Harness) -> None:
    async with harness.client() as client:
        assert (await client.get("/_sandbox/rate_limit")).json()["rate"] == 0
        put = await client.put("/_sandbox/rate_limit", json={"rate": 50, "burst": 10})
        assert put.json() == {"rate": 50.0, "burst": 10}
        assert (await client.get("/_sandbox/rate_limit")).json() == {"rate": 50.0, "burst": 10}
        for payload in ({"rate": -1}, {"rate": "x"}, {"rate": 5, "burst": 0}, {"burst": 2}):
            assert (await client.put("/_sandbox/rate_limit", json=payload)).status_code == 400

        for _ in range(5):
            await client.post("/items")
        page = (await client.get("/_sandbox/requests", params={"since": 1, "limit": 3})).json()
        assert [e["seq"] for e in page["items"]] == [2, 3, 4]
        assert page["next_since"] == 4
        rest = (await client.get("/_sandbox/requests", params={"since": 4})).json()
        assert [e["seq"] for e in rest["items"]] == [5]
        empty = (await client.get("/_sandbox/requests", params={"since": 5})).json()
        assert empty == {"items": [], "next_since": 5}
        bad = await client.get("/_sandbox/requests", params={"limit": "lots"})
        assert bad.status_code == 400

        assert (await client.delete("/_sandbox/requests")).status_code == 200
        assert (await client.get("/_sandbox/requests")).json()["items"] == []
        await client.get("/items")
        after = (await client.get("/_sandbox/requests")).json()["items"]
        assert [e["seq"] for e in after] == [6]  # sequence numbers survive a clear

        # Unknown admin paths belong to the inner app; admin traffic is never logged.
        state = await client.get("/_sandbox/state")
        assert state.json() == {"served_by": "inner app", "count": 5}
    assert [e["path"] for e in harness.controls.log.entries()] == ["/items"]


@pytest.mark.anyio
async def test_admin_is_not_faulted(harness: Harness) -> None:
    harness.controls.set_faults("reset=1,outage=1s@0s", seed=1)
    async with harness.client() as client:
        assert (await client.get("/_sandbox/faults")).status_code == 200
        assert (await client.get("/_sandbox/state")).status_code == 200


# --- loopback only ----------------------------------------------------------------------------


async def call_directly(
    app: SandboxControls, path: str, client: tuple[str, int], auth: str = ALICE
) -> list[Message]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"sandbox.test"), (b"authorization", auth.encode())],
        "client": client,
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_admin_refuses_non_loopback_clients() -> None:
    controls, _ = build_controls(FakeClock())
    remote = ("10.0.0.5", 1234)

    async def scenario() -> None:
        for path in ("/_sandbox/requests", "/_sandbox/faults", "/_sandbox/state"):
            start, body = await call_directly(controls, path, remote)
            assert start["status"] == 403
            assert set(json.loads(body["body"])) == set(assumptions.ERROR_BODY_KEYS)
        start, _ = await call_directly(controls, "/_sandbox/requests", ("::1", 5555))
        assert start["status"] == 200
        # A loopback client still needs the admin credential.
        for auth in (BOB, "Basic " + ALICE, ""):
            start, body = await call_directly(controls, "/_sandbox/faults", ("::1", 5), auth)
            assert start["status"] == 401
            assert "Bearer" in json.loads(body["body"])["errors"][0]["message"]
        # The API itself is not restricted by this check.
        start, _ = await call_directly(controls, "/items", remote)
        assert start["status"] == 200

    asyncio.run(scenario())
    assert [e["path"] for e in controls.log.entries()] == ["/items"]


@pytest.mark.anyio
async def test_asgi_transport_surfaces_connection_dropped_raw() -> None:
    controls, _ = build_controls(FakeClock())
    controls.set_faults("reset=1")
    transport = httpx.ASGITransport(app=controls)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        with pytest.raises(ConnectionDropped):
            await client.get("/items")
