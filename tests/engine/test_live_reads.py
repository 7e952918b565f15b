"""The reads before a send: numbers to rent are listed once per step, however many workers
ask at once, and a hostile listing never raises a KeyError."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bulkx.diff.changes import RentByCriteria
from bulkx.engine.live_reads import LiveReads
from bulkx.engine.requests import Resolver, UnresolvedReference
from bulkx.plan.model import Position


class _Listing:
    """Just enough of the client: GET available_dids answers `pages` in turn, slowly enough
    that every worker asks while the first list is on its way."""

    def __init__(self, *pages: Any) -> None:
        self.pages = list(pages)
        self.gets = 0

    async def get(self, api: str, path: str, **kwargs: object) -> Any:
        self.gets += 1
        await asyncio.sleep(0.01)
        return self.pages.pop(0)


def _rent(count: int) -> RentByCriteria:
    return RentByCriteria(
        kind="did",
        key="rent#1",
        step="numbers",
        position=Position("p.yaml", 3),
        count=count,
        criteria={"npa": "212"},
        template={},
    )


def test_sixteen_workers_share_one_listing_of_numbers() -> None:
    numbers = [f"1212555{i:04d}" for i in range(50)]
    client = _Listing({"items": [{"phonenumber": n} for n in numbers]})
    reads = LiveReads(client, Resolver())  # type: ignore[arg-type]

    async def scenario() -> list[str]:
        return await asyncio.gather(*(reads._next_number(_rent(16)) for _ in range(16)))

    taken = asyncio.run(scenario())
    assert client.gets == 1
    assert sorted(taken) == sorted(numbers[:16])  # each number handed out once


@pytest.mark.parametrize(
    "page", [{"items": [None, 1, {"name": "x"}]}, {"items": None}, [], {"nothing": True}]
)
def test_a_listing_without_numbers_is_no_number_not_a_crash(page: Any) -> None:
    reads = LiveReads(_Listing(page), Resolver())  # type: ignore[arg-type]
    with pytest.raises(UnresolvedReference, match="no available number"):
        asyncio.run(reads._next_number(_rent(1)))
