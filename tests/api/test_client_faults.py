"""Status and failure mapping, retries and redaction, against the sandbox in-process.

Faults are set through the sandbox's admin API; the request log shows what reached the server.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
import pytest

from bulkx.api import CarrierX, Filter, RetryPolicy, Secret, Target
from bulkx.errors import (
    ApiError,
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TransportError,
)
from bulkx.sandbox.app import SandboxApp
from bulkx.sandbox.controls import SandboxTransport
from tests.api.conftest import INPROC_BASE, RecordingSleep, logged_requests, set_faults

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

CANARY = "canary-token-7d41e0aa"


async def test_5xx_is_retried_then_raised_as_server_error(
    cx: CarrierX, admin: httpx.AsyncClient, sleeps: RecordingSleep
) -> None:
    await set_faults(admin, "http_5xx=1")
    with pytest.raises(ServerError) as info:
        await cx.get("core", "/trunk_groups")
    assert info.value.status in (500, 502, 503, 504)
    assert info.value.method == "GET"
    assert info.value.url == f"{INPROC_BASE}/trunk_groups"
    gets = [r for r in await logged_requests(admin) if r["path"] == "/core/v2/trunk_groups"]
    assert len(gets) == cx.retry.attempts == 3
    assert len(sleeps.delays) == 2


async def test_reset_on_get_is_retried(
    cx: CarrierX, admin: httpx.AsyncClient, sleeps: RecordingSleep
) -> None:
    cx.retry = RetryPolicy(attempts=10, sleep=sleeps)
    await set_faults(admin, "reset=0.5", seed=5)
    for _ in range(6):  # with p=0.5 some of these need retries; all must end well
        assert (await cx.get("core", "/trunk_groups"))["items"] == []
    faults = [r["fault"] for r in await logged_requests(admin)]
    assert "reset" in faults
    assert len(sleeps.delays) == faults.count("reset")


async def test_reset_on_every_try_ends_as_transport_error_for_get(
    cx: CarrierX, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, "reset=1")
    with pytest.raises(TransportError) as info:
        await cx.get("core", "/trunk_groups")
    assert not isinstance(info.value, OutcomeUnknown)


async def test_execute_then_reset_on_post_is_outcome_unknown_and_not_retried(
    cx: CarrierX, admin: httpx.AsyncClient, sleeps: RecordingSleep
) -> None:
    await set_faults(admin, "execute_then_reset=1")
    with pytest.raises(OutcomeUnknown) as info:
        await cx.post("core", "/trunk_groups", json={"name": "acme-sip"})
    assert "may have been executed" in str(info.value)
    posts = [r for r in await logged_requests(admin) if r["method"] == "POST"]
    assert len(posts) == 1
    assert sleeps.delays == []
    # It was executed: reconciling by natural key finds the object.
    await set_faults(admin, "")
    found = await cx.list_all("core", "/trunk_groups", filter=Filter.eq("name", "acme-sip"))
    assert [g["name"] for g in found] == ["acme-sip"]


async def test_429_honours_retry_after_through_the_injected_sleep(
    cx: CarrierX, admin: httpx.AsyncClient, sleeps: RecordingSleep
) -> None:
    r = await admin.put("/rate_limit", json={"rate": 0.05, "burst": 1})
    assert r.status_code == 200, r.text
    cx.retry.max_throttled = 3  # a 429 spends no attempt and no budget: cap them here
    spent_before = cx.retry.budget.spent
    await cx.get("core", "/trunk_groups")  # spends the burst
    with pytest.raises(RateLimited) as info:
        await cx.post("core", "/trunk_groups", json={"name": "x"})  # POST: 429 is safe to repeat
    retry_after = info.value.retry_after
    assert retry_after is not None and retry_after >= 1
    assert len(sleeps.delays) == 2
    assert all(delay >= retry_after for delay in sleeps.delays)
    statuses = [r["status"] for r in await logged_requests(admin) if r["method"] == "POST"]
    assert statuses == [429, 429, 429]
    assert cx.retry.budget.spent == spent_before


async def test_401_with_a_wrong_token(app: SandboxApp, policy: RetryPolicy) -> None:
    target = Target(INPROC_BASE, is_sandbox=True)
    async with CarrierX(
        target, Secret(CANARY), transport=SandboxTransport(app), retry=policy
    ) as client:
        with pytest.raises(AuthError) as info:
            await client.get("core", "/trunk_groups")
    assert info.value.status == 401
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


async def test_404_with_field_errors(cx: CarrierX) -> None:
    sid = str(uuid.uuid4())
    with pytest.raises(NotFound) as info:
        await cx.get("core", f"/trunk_groups/{sid}")
    assert info.value.status == 404
    assert info.value.errors and info.value.errors[0].reference_sid == sid


async def test_409_on_renting_a_number_twice(cx: CarrierX) -> None:
    did = await cx.post("core", "/phonenumber/dids")  # `{}` is sent: rents any number
    with pytest.raises(Conflict) as info:
        await cx.post("core", "/phonenumber/dids", json={"phonenumber": did["phonenumber"]})
    assert info.value.status == 409
    assert info.value.errors[0].field == "phonenumber"
    assert info.value.errors[0].reference_sid == did["did_sid"]


async def test_422_parses_field_errors(cx: CarrierX) -> None:
    with pytest.raises(InvalidRequest) as info:
        await cx.post("core", "/trunk_groups", json={"hard_failure_last_resort": "never"})
    assert info.value.status == 422
    fields = {e.field for e in info.value.errors}
    assert "hard_failure_last_resort" in fields
    assert "hard_failure_last_resort" in str(info.value)


async def test_delete_returns_none_for_204(cx: CarrierX) -> None:
    group = await cx.post("core", "/trunk_groups", json={"name": "temp"})
    assert await cx.delete("core", f"/trunk_groups/{group['trunk_group_sid']}") is None


async def test_canary_token_never_leaks(
    app: SandboxApp, sleeps: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app.world.ensure_token(CANARY)
    app.controls.set_faults("http_5xx=1")
    target = Target(INPROC_BASE, is_sandbox=True, label="sandbox (in-process)")
    policy = RetryPolicy(attempts=2, sleep=sleeps)
    async with CarrierX(
        target, Secret(CANARY), transport=SandboxTransport(app), retry=policy
    ) as client:
        with pytest.raises(ServerError) as info:
            await client.get("core", "/trunk_groups")
        shown = [repr(client), str(client), str(info.value), repr(info.value), caplog.text]
        assert repr(client) == "CarrierX(target='sandbox (in-process)')"
        assert "retry 1/1" in caplog.text  # the retry was logged...
        assert all(CANARY not in text for text in shown)  # ...without the token


async def test_server_echoing_the_token_is_scrubbed(sleeps: RecordingSleep) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"message": f"bad token {CANARY}", "errors": [{"field": None, "message": CANARY}]}
        return httpx.Response(401, json=body)

    target = Target(INPROC_BASE)
    async with CarrierX(
        target, Secret(CANARY), transport=httpx.MockTransport(handler), retry=RetryPolicy.never()
    ) as client:
        with pytest.raises(AuthError) as info:
            await client.get("core", "/trunk_groups")
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


async def test_garbled_success_body(sleeps: RecordingSleep) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"items": [', headers={"content-type": "json"})

    target = Target(INPROC_BASE)
    async with CarrierX(
        target, Secret("t"), transport=httpx.MockTransport(handler), retry=RetryPolicy.never()
    ) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("core", "/trunk_groups", json={"name": "x"})
        with pytest.raises(TransportError) as info:
            await client.get("core", "/trunk_groups")
        assert not isinstance(info.value, OutcomeUnknown)


async def test_pages_are_fetched_concurrently_and_in_order(app: SandboxApp) -> None:
    inner = SandboxTransport(app)
    in_flight = peak = 0

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0)  # let the other page requests start
                return await inner.handle_async_request(request)
            finally:
                in_flight -= 1

    async with CarrierX(
        Target(INPROC_BASE), Secret("test-token-0123456789"), transport=Counting()
    ) as client:
        for i in range(25):
            await client.post("core", "/trunk_groups", json={"name": f"g{i:02d}"})
        peak = 0
        groups = await client.list_all("core", "/trunk_groups", page_size=2)
    assert [g["name"] for g in groups] == [f"g{i:02d}" for i in range(25)]
    assert peak > 1
    assert peak <= client.page_concurrency


async def test_secret_looking_query_values_are_redacted_in_errors(sleeps: RecordingSleep) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Not Found", "errors": []})

    async with CarrierX(
        Target(INPROC_BASE), Secret("t"), transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(NotFound) as info:
            await client.get("core", "/x", params={"api_key": CANARY, "limit": 5})
    assert CANARY not in str(info.value)
    assert "limit=5" in str(info.value)


async def test_pagination_next_to_another_origin_is_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        page = {
            "count": 1,
            "has_more": True,
            "items": [{"n": 1}],
            "limit": 1,
            "offset": 0,
            "pagination": {"next": "https://evil.example/core/v2/x?offset=1"},
            "total": None,
        }
        return httpx.Response(200, json=page)

    async with CarrierX(
        Target(INPROC_BASE), Secret(CANARY), transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(ApiError, match=r"pagination\.next leaves"):
            await client.list_all("core", "/x")
    assert len(seen) == 1


async def test_a_rejected_app_password_is_looked_up_again(cx: CarrierX, app: SandboxApp) -> None:
    endpoint = await cx.post("core", "/endpoints", json={"name": "Bridge", "type": "conference_v2"})
    assert (await cx.get("conference_v2", "/meeting_rooms"))["total"] == 0
    # Rotate the password behind the client's back: the cached one now fails once.
    sid = endpoint["endpoint_sid"]
    stored = app.world.store.get("endpoints", sid)
    assert stored is not None
    stored["properties"]["password"] = "rotated-password-1"
    app.world.store.replace("endpoints", sid, stored)
    with pytest.raises(AuthError):
        await cx.get("conference_v2", "/meeting_rooms")
    assert (await cx.get("conference_v2", "/meeting_rooms"))["total"] == 0
