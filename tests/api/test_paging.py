"""Pagination decisions with fake fetchers: which pages are asked for, and how."""

from __future__ import annotations

from typing import Any

import pytest

from bulkx.api.paging import iter_envelopes, same_origin
from bulkx.errors import ApiError

pytestmark = pytest.mark.anyio


def _page(offset: int, limit: int, total: int | None, size: int, **extra: Any) -> dict[str, Any]:
    count = max(0, min(limit, size - offset))
    has_more = offset + count < size
    pagination = {"next": f"https://h/x?offset={offset + limit}"} if has_more else {}
    page = {
        "count": count,
        "has_more": has_more,
        "items": [{"n": i} for i in range(offset, offset + count)],
        "limit": limit,
        "offset": offset,
        "pagination": pagination,
        "total": total,
    }
    page.update(extra)
    return page


class Fake:
    def __init__(self, size: int, *, known_total: bool, grow_to: int | None = None) -> None:
        self.size = size
        self.known_total = known_total
        self.grow_to = grow_to
        self.offsets: list[int] = []
        self.urls: list[str] = []

    async def offset(self, offset: int) -> dict[str, Any]:
        self.offsets.append(offset)
        total = self.size if self.known_total else None
        page = _page(offset, 10, total, self.size)
        if self.grow_to is not None:  # objects created after the first page was read
            self.size = self.grow_to
        return page

    async def url(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        return _page(int(url.rsplit("=", 1)[1]), 10, None, self.size)


async def _items(fake: Fake) -> list[int]:
    out = []
    async for env in iter_envelopes(
        fake.offset, fake.url, page_size=10, concurrency=3, where="test"
    ):
        out += [item["n"] for item in env["items"]]
    return out


async def test_known_total_fetches_the_remaining_offsets() -> None:
    fake = Fake(45, known_total=True)
    assert await _items(fake) == list(range(45))
    assert sorted(fake.offsets) == [0, 10, 20, 30, 40]
    assert fake.urls == []


async def test_unknown_total_follows_next_links() -> None:
    fake = Fake(25, known_total=False)
    assert await _items(fake) == list(range(25))
    assert fake.offsets == [0]
    assert fake.urls == ["https://h/x?offset=10", "https://h/x?offset=20"]


async def test_objects_added_while_paging_are_still_read() -> None:
    fake = Fake(20, known_total=True, grow_to=27)
    assert await _items(fake) == list(range(27))


async def test_a_looping_next_link_is_an_error() -> None:
    async def first(offset: int) -> dict[str, Any]:
        return _page(0, 10, None, 100)

    async def same(url: str) -> dict[str, Any]:
        return _page(0, 10, None, 100)

    # The page itself repeats too: caught at the first repeat, before the link loops.
    with pytest.raises(ApiError, match=r"loops back|same page twice"):
        async for _ in iter_envelopes(first, same, page_size=10, concurrency=2, where="t"):
            pass


async def test_a_non_envelope_is_an_error() -> None:
    async def bad(offset_or_url: object) -> Any:
        return ["not", "an", "envelope"]

    with pytest.raises(ApiError, match="list envelope"):
        async for _ in iter_envelopes(bad, bad, page_size=10, concurrency=2, where="t"):
            pass


def test_same_origin() -> None:
    assert same_origin("https://a.example/core/v2/x?y=1", "https://a.example/core/v2")
    assert not same_origin("https://evil.example/core/v2/x", "https://a.example/core/v2")
    assert not same_origin("http://a.example/core/v2/x", "https://a.example/core/v2")
    assert not same_origin("https://a.example:8443/x", "https://a.example/core/v2")
