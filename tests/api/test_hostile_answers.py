"""Malformed and endless list answers (issue 15 item 5): an ApiError that says what was wrong,
never a KeyError or TypeError later, and never paging forever.

The fakes are plain fetchers and an httpx MockTransport; the commands run against a hostile
HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bulkx.api import CarrierX, RetryPolicy, Secret, Target, paging
from bulkx.api.paging import MAX_EXTRA_PAGES, envelope_items, iter_envelopes
from bulkx.errors import ApiError
from bulkx.records import RECORD_KINDS, export_records

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

REPO = Path(__file__).resolve().parents[2]


def _page(items: list[Any], *, total: int | None, offset: int = 0, more: bool = True) -> dict:  # type: ignore[type-arg]
    return {
        "count": len(items),
        "has_more": more,
        "items": items,
        "limit": 10,
        "offset": offset,
        "pagination": {},
        "total": total,
    }


async def _drain(fetch_offset: Callable[[int], Any], fetch_url: Any = None) -> int:
    async def no_links(url: str) -> Any:
        raise AssertionError("no link was given")

    pages = 0
    async for _ in iter_envelopes(
        fetch_offset, fetch_url or no_links, page_size=10, concurrency=2, where="GET /x"
    ):
        pages += 1
    return pages


async def test_items_that_are_not_objects() -> None:
    async def hostile(offset: int) -> Any:
        return _page([None, 1], total=2, more=False)

    with pytest.raises(ApiError, match="item 0 of the page is null, not an object"):
        await _drain(hostile)


def test_an_item_without_a_required_field() -> None:
    page = _page([{"phonenumber": "15162065575"}, {"price": "0.6"}], total=2)
    assert len(envelope_items(page, "GET /x", require=())) == 2
    with pytest.raises(ApiError, match="item 1 of the page has no 'phonenumber'"):
        envelope_items(page, "GET /x", require=("phonenumber",))


async def test_endless_has_more_past_the_total_is_bounded() -> None:
    calls = 0

    async def endless(offset: int) -> Any:
        nonlocal calls
        calls += 1
        return _page([{"sid": f"s{offset}"}], total=1, offset=offset)

    with pytest.raises(ApiError, match="still says has_more"):
        await _drain(endless)
    assert calls == 1 + MAX_EXTRA_PAGES


async def test_endless_has_more_without_a_total_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 25)

    async def endless(offset: int) -> Any:
        return _page([{"sid": f"s{offset}"}], total=None, offset=offset)

    with pytest.raises(ApiError, match="more than 25 pages"):
        await _drain(endless)


async def test_the_same_page_again_stops_at_once() -> None:
    calls = 0

    async def stuck(offset: int) -> Any:
        nonlocal calls
        calls += 1
        return _page([{"sid": "s1"}], total=None)

    with pytest.raises(ApiError, match="same page twice"):
        await _drain(stuck)
    assert calls == 2


async def test_an_absurd_total_is_refused_before_paging() -> None:
    calls = 0

    async def huge(offset: int) -> Any:
        nonlocal calls
        calls += 1
        return _page([{"sid": "s1"}], total=10**15)

    with pytest.raises(ApiError, match="holds 1,000,000,000,000,000 objects"):
        await _drain(huge)
    assert calls == 1


# --- through the client ---------------------------------------------------------------------


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> CarrierX:
    async def no_sleep(seconds: float) -> None:
        return None

    return CarrierX(
        Target("https://api.example.com/core/v2"),
        Secret("tok-0123456789"),
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1, sleep=no_sleep),
    )


async def test_the_client_raises_api_errors_for_malformed_lists() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/available_dids"):
            return httpx.Response(200, json=_page([{"price": "0.6"}], total=1, more=False))
        return httpx.Response(200, json=_page([None, 1], total=2, more=False))

    async with _client(answer) as client:
        with pytest.raises(ApiError, match="not an object"):
            await client.list_all("core", "/trunk_groups")
        with pytest.raises(ApiError, match="has no 'phonenumber'"):
            await client.list_all("core", "/phonenumber/available_dids", require=("phonenumber",))


async def test_the_client_stops_an_endless_has_more() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        return httpx.Response(200, json=_page([{"sid": f"s{offset}"}], total=1, offset=offset))

    async with _client(answer) as client:
        with pytest.raises(ApiError, match="still says has_more"):
            await client.list_all("core", "/trunk_groups")


async def test_a_record_export_whose_cursor_does_not_move(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_page([{"dr_sid": "d1", "date_start": "x"}], total=None))

    async with _client(answer) as client:
        with pytest.raises(ApiError, match="cursor stays at d1"):
            await export_records(client, RECORD_KINDS["cdr"], tmp_path / "cdrs.csv", shards=1)


async def test_a_record_without_its_sid(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_page([{"date_start": "x"}], total=None, more=False))

    async with _client(answer) as client:
        with pytest.raises(ApiError, match="has no 'dr_sid'"):
            await export_records(client, RECORD_KINDS["cdr"], tmp_path / "cdrs.csv", shards=1)


# --- the command against a hostile server ----------------------------------------------------


class _Hostile(BaseHTTPRequestHandler):
    """Answers every list with `mode`'s malformed or endless page."""

    mode = "null-items"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        offset = int(parse_qs(url.query).get("offset", ["0"])[0])
        if self.mode == "null-items":
            body = _page([None, 1], total=2, more=False)
        else:  # endless: a new object on every page, has_more for ever
            body = _page([{"trunk_group_sid": f"s{offset}", "name": "x"}], total=1, offset=offset)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[_Hostile]]]:
    handler = type("Handler", (_Hostile,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/core/v2", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("mode", "message"), [("null-items", "not an object"), ("endless", "still says has_more")]
)
def test_export_from_a_hostile_server_is_an_error_not_a_traceback(
    hostile: tuple[str, type[_Hostile]], tmp_path: Path, mode: str, message: str
) -> None:
    base, handler = hostile
    handler.mode = mode
    result = subprocess.run(
        [sys.executable, "-m", "bulkx", "export", "trunk_group", "--base-url", base],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "CARRIERX_TOKEN": "tok-0123456789", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
