"""Reading whole collections: the list envelope, offset pages fetched concurrently, and cursors.

A CarrierX list answers `{"count", "has_more", "items", "limit", "offset", "pagination", "total"}`.
When `total` is known the remaining offsets are known after the first page, so they are fetched
a few at a time in parallel (a bounded window, yielded in order). When `total` is null (the
available-DIDs inventory), only `pagination.next` says where to go, so pages are sequential.

Offset paging over a collection that changes meanwhile can skip or repeat objects; callers that
need an exact snapshot must filter narrowly or de-duplicate by sid.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Final

import httpx

from bulkx.errors import ApiError

__all__ = ["MAX_PAGE_SIZE", "envelope_items", "iter_envelopes", "same_origin"]

MAX_PAGE_SIZE: Final = 1000
#: A guard against a server whose `next` links never end (or loop).
MAX_CURSOR_PAGES: Final = 100_000

FetchOffset = Callable[[int], Awaitable[Any]]
FetchUrl = Callable[[str], Awaitable[Any]]


def _envelope(payload: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("items"), list):
        raise ApiError(f"expected a list envelope with 'items' from {where}")
    return payload


def envelope_items(payload: Any, where: str = "the API") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _envelope(payload, where)["items"]
    return items


def same_origin(url: str, base: str) -> bool:
    """Whether `url` is on the same scheme, host and port as `base` (credentials may go there)."""
    a, b = httpx.URL(url), httpx.URL(base)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def iter_envelopes(
    fetch_offset: FetchOffset,
    fetch_url: FetchUrl,
    *,
    page_size: int,
    concurrency: int,
    where: str,
) -> AsyncGenerator[Mapping[str, Any], None]:
    """Every page of a collection, in order.

    `fetch_offset(offset)` gets the page at `offset` (limit `page_size`); `fetch_url(url)` follows
    a `pagination.next` link (the caller checks it stays on the API's origin).
    """
    first = _envelope(await fetch_offset(0), where)
    yield first
    limit = _int(first.get("limit")) or page_size
    total = _int(first.get("total"))
    if total is not None:
        last = first
        pages = _offset_pages(fetch_offset, range(limit, total, limit), concurrency)
        async with aclosing(pages) as stream:
            async for page in stream:
                last = _envelope(page, where)
                yield last
        # Objects created while we paged: keep going one page at a time until the end.
        offset = (_int(last.get("offset")) or 0) + limit
        while last.get("has_more") and last.get("count"):
            last = _envelope(await fetch_offset(offset), where)
            yield last
            offset += limit
        return
    page, seen = first, set()
    for _ in range(MAX_CURSOR_PAGES):
        if not page.get("has_more") or not page.get("count"):
            return
        pagination = page.get("pagination")
        next_url = pagination.get("next") if isinstance(pagination, Mapping) else None
        if isinstance(next_url, str) and next_url:
            if next_url in seen:
                raise ApiError(f"pagination.next from {where} loops back to a page already read")
            seen.add(next_url)
            page = _envelope(await fetch_url(next_url), where)
        else:
            # has_more without a link: fall back to offsets, as CarrierX's own scripts do.
            offset = (_int(page.get("offset")) or 0) + (_int(page.get("count")) or limit)
            page = _envelope(await fetch_offset(offset), where)
        yield page
    raise ApiError(f"more than {MAX_CURSOR_PAGES} pages from {where}; narrow the filter")


async def _offset_pages(
    fetch_offset: FetchOffset, offsets: range, concurrency: int
) -> AsyncGenerator[Any, None]:
    # A sliding window: at most `concurrency` pages in flight or waiting to be consumed, so a
    # slow consumer never makes the whole collection pile up in memory.
    pending: deque[asyncio.Task[Any]] = deque()
    todo = iter(offsets)
    try:
        for offset in todo:
            pending.append(asyncio.ensure_future(fetch_offset(offset)))
            if len(pending) >= max(1, concurrency):
                break
        while pending:
            page = await pending.popleft()
            next_offset = next(todo, None)
            if next_offset is not None:
                pending.append(asyncio.ensure_future(fetch_offset(next_offset)))
            yield page
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
