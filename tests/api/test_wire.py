"""The wire under the client: what real HTTP puts on the socket, and how its failures map.

A raw asyncio server on 127.0.0.1 records the bytes the client sends (so the request is seen
as CarrierX would see it, not as a library re-reads it), answers as each test says, or never
answers at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from bulkx.api import CarrierX, RetryPolicy, Secret, Target
from bulkx.api.loop import loop_factory, run
from bulkx.api.wire import with_query
from bulkx.errors import OutcomeUnknown, RateLimited, TransportError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

TOKEN = "wire-test-token-0123456789"


class RawServer:
    """Accepts connections on 127.0.0.1 and answers each request with `answer(head, body)`'s
    bytes (or never, when it returns None); keeps every request's head and body."""

    def __init__(self, answer: Callable[[bytes, bytes], bytes | None]) -> None:
        self.answer = answer
        self.requests: list[tuple[bytes, bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                reply = self.answer(head, body)
                if reply is None:
                    await asyncio.sleep(3600)  # never answers: the client's timeout decides
                writer.write(reply or b"")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_server(answer: Callable[[bytes, bytes], bytes | None]) -> AsyncIterator[Any]:
    server = RawServer(answer)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}/core/v2"
    finally:
        listening.close()


def _json_reply(status: int, body: Any, *extra: str) -> bytes:
    data = json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} Whatever", "Content-Type: application/json", *extra]
    head.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode().split("\r\n")[1:]
    pairs = [line.split(":", 1) for line in lines if ":" in line]
    return {name.strip().lower(): value.strip() for name, value in pairs}


async def test_a_patch_goes_out_as_compact_json_with_the_token_header() -> None:
    async with raw_server(lambda head, body: _json_reply(200, {"did_sid": "x"})) as (srv, url):
        client = CarrierX(Target(url, is_sandbox=True), Secret(TOKEN))
        async with client:
            answer = await client.patch("core", "/phonenumber/dids/x", json={"name": "Zoë"})
            await client.post("core", "/trunk_groups")  # no body given: `{}`
    assert answer == {"did_sid": "x"}
    (head, body), (_, empty) = srv.requests
    assert head.startswith(b"PATCH /core/v2/phonenumber/dids/x HTTP/1.1\r\n")
    headers = _headers(head)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert body == '{"name":"Zoë"}'.encode()  # as httpx encodes JSON: compact, UTF-8
    assert empty == b"{}"


async def test_query_parameters_are_encoded_as_httpx_encodes_them() -> None:
    params = {"filter": "phonenumber in ('15551230000', '1555')", "limit": 5, "flag": True}
    params_with_list: dict[str, Any] = {**params, "fields": ["a", "b"], "empty": None}
    expected = str(httpx.URL("http://h/p", params=params_with_list))
    assert with_query("http://h/p", params_with_list) == expected
    assert with_query("http://h/p?x=1", {"y": 2}) == "http://h/p?x=1&y=2"
    assert with_query("http://h/p", {}) == "http://h/p"
    async with raw_server(lambda head, body: _json_reply(200, {"items": []})) as (srv, url):
        client = CarrierX(Target(url, is_sandbox=True), Secret(TOKEN))
        async with client:
            await client.get("core", "/phonenumber/dids", params=params)
    ((head, _),) = srv.requests
    sent = head.split(b" ")[1].decode()
    assert sent == str(httpx.URL("/core/v2/phonenumber/dids", params=params))


async def test_a_post_left_unanswered_is_an_unknown_outcome_and_a_get_a_transport_error() -> None:
    async with raw_server(lambda head, body: None) as (srv, url):
        target = Target(url, is_sandbox=True)
        async with CarrierX(target, Secret(TOKEN), retry=RetryPolicy.never(), timeout=0.3) as cx:
            with pytest.raises(OutcomeUnknown) as posted:
                await cx.post("core", "/trunk_groups", json={"name": "t"})
            with pytest.raises(TransportError) as got:
                await cx.get("core", "/trunk_groups")
    assert not isinstance(got.value, OutcomeUnknown)
    assert len(srv.requests) == 2
    for error in (posted.value, got.value):
        assert TOKEN not in str(error) and TOKEN not in repr(error)


async def test_an_error_answer_keeps_its_status_message_and_retry_after() -> None:
    reply = _json_reply(429, {"message": "slow down", "errors": []}, "Retry-After: 7")
    async with raw_server(lambda head, body: reply) as (_, url):
        target = Target(url, is_sandbox=True)
        async with CarrierX(target, Secret(TOKEN), retry=RetryPolicy.never()) as client:
            with pytest.raises(RateLimited) as info:
                await client.get("core", "/trunk_groups")
    assert info.value.status == 429
    assert info.value.retry_after == 7.0
    assert "slow down" in str(info.value)


def test_the_loop_is_uvloop_unless_asyncio_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    async def loop_type() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert loop_factory() is uvloop.new_event_loop
    assert run(loop_type()).startswith("uvloop")
    monkeypatch.setenv("BULKX_EVENT_LOOP", "asyncio")
    assert loop_factory() is None
    assert run(loop_type()).startswith("asyncio")
