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
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Final

import httpx

from bulkx.errors import ApiError

__all__ = [
    "MAX_EXTRA_PAGES",
    "MAX_PAGES",
    "MAX_PAGE_SIZE",
    "envelope_items",
    "iter_envelopes",
    "same_origin",
]

MAX_PAGE_SIZE: Final = 1000
#: The most pages one collection is read in: 100 million objects at the largest page size.
#: A guard against a server whose `total` is absurd, or whose `has_more` or `next` links never
#: end (or loop).
MAX_PAGES: Final = 100_000
MAX_CURSOR_PAGES: Final = MAX_PAGES  # the name this bound had before it covered offsets
#: Pages read past the `total` the first page announced: objects created while the collection
#: was read. A hundred pages of them is far more than an account makes meanwhile.
MAX_EXTRA_PAGES: Final = 100

FetchOffset = Callable[[int], Awaitable[Any]]
FetchUrl = Callable[[str], Awaitable[Any]]


def _what(value: Any) -> str:
    """A JSON value's kind, for messages (`null`, `a number`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else type(value).__name__


def _envelope(payload: Any, where: str) -> Mapping[str, Any]:
    """A list answer, checked: a mapping whose `items` is a list of objects."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("items"), list):
        raise ApiError(f"expected a list envelope with 'items' from {where}")
    for index, item in enumerate(payload["items"]):
        if not isinstance(item, Mapping):
            raise ApiError(
                f"malformed answer from {where}: item {index} of the page is {_what(item)},"
                " not an object"
            )
    return payload


def envelope_items(
    payload: Any, where: str = "the API", *, require: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The items of a list answer, each an object holding a non-null value for each field of
    `require` (a collection's sid, or the `phonenumber` of available DIDs), else ApiError."""
    items: list[dict[str, Any]] = _envelope(payload, where)["items"]
    for field in require:
        for index, item in enumerate(items):
            if item.get(field) is None:
                raise ApiError(
                    f"malformed answer from {where}: item {index} of the page has no {field!r}"
                )
    return items


def same_origin(url: str, base: str) -> bool:
    """Whether `url` is on the same scheme, host and port as `base` (credentials may go there)."""
    a, b = httpx.URL(url), httpx.URL(base)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ended(page: Mapping[str, Any]) -> bool:
    # An empty page ends a collection whatever its has_more says: it points nowhere further.
    return not page.get("has_more") or not page.get("count") or not page["items"]


def _moved_on(page: Mapping[str, Any], last: Mapping[str, Any], where: str) -> None:
    """A server answering the same page again would be read forever: an error instead."""
    if page["items"] and page["items"] == last["items"]:
        raise ApiError(f"{where} answered the same page twice while paging; stopped reading")


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
    limit = _int(first.get("limit")) or 0
    limit = limit if limit > 0 else page_size
    total = _int(first.get("total"))
    if total is None:
        async with aclosing(_cursor_pages(first, fetch_offset, fetch_url, limit, where)) as rest:
            async for page in rest:
                yield page
        return
    if total > limit * MAX_PAGES:
        raise ApiError(
            f"{where} says it holds {total:,} objects: more than {MAX_PAGES:,} pages of"
            f" {limit}; narrow the filter"
        )
    last = first
    pages = _offset_pages(fetch_offset, range(limit, total, limit), concurrency)
    async with aclosing(pages) as stream:
        async for page in stream:
            last = _envelope(page, where)
            yield last
    # Objects created while we paged: keep going one page at a time until the end.
    offset = (_int(last.get("offset")) or 0) + limit
    for _ in range(MAX_EXTRA_PAGES):
        if _ended(last):
            return
        page = _envelope(await fetch_offset(offset), where)
        _moved_on(page, last, where)
        last = page
        yield last
        offset += limit
    if not _ended(last):
        raise ApiError(
            f"{where} still says has_more {MAX_EXTRA_PAGES} pages past the {total:,} objects"
            " it announced; stopped reading (is something creating objects this fast?)"
        )


async def _cursor_pages(
    page: Mapping[str, Any], fetch_offset: FetchOffset, fetch_url: FetchUrl, limit: int, where: str
) -> AsyncGenerator[Mapping[str, Any], None]:
    """The pages after `page` of a collection without a `total`: `pagination.next` links."""
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        if _ended(page):
            return
        pagination = page.get("pagination")
        next_url = pagination.get("next") if isinstance(pagination, Mapping) else None
        if isinstance(next_url, str) and next_url:
            if next_url in seen:
                raise ApiError(f"pagination.next from {where} loops back to a page already read")
            seen.add(next_url)
            following = _envelope(await fetch_url(next_url), where)
        else:
            # has_more without a link: fall back to offsets, as CarrierX's own scripts do.
            offset = (_int(page.get("offset")) or 0) + (_int(page.get("count")) or limit)
            following = _envelope(await fetch_offset(offset), where)
        _moved_on(following, page, where)
        page = following
        yield page
    raise ApiError(f"more than {MAX_PAGES:,} pages from {where}; narrow the filter")


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
