"""Bulk phone number lookups: a port-in pre-check report before anything is planned.

For every number of a CSV: is it a valid number, is it already on the account, which carrier and
line type serve it, its CNAM and LRN, the RespOrg of a toll-free number, and (optionally) what a
minute of inbound and outbound calling to it costs. One row per input number, errors included,
so the report lines up with the file it came from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bulkx.api import CarrierX
from bulkx.diff.read import in_filter
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import ApiError, NotFound, RateLimited
from bulkx.plan.numbers import normalise_one

#: NANP toll-free NPAs: their RespOrg says who controls them (and so who must release them).
TOLL_FREE_NPAS = frozenset({"800", "833", "844", "855", "866", "877", "888"})


@dataclass
class LookupRow:
    line: int
    input: str
    phonenumber: str | None = None
    valid: bool = False
    on_account: bool | None = None
    state: str | None = None
    country_code: str | None = None
    carrier: str | None = None
    line_type: str | None = None
    cnam: str | None = None
    lrn: str | None = None
    resporg: str | None = None
    inbound_rate: str | None = None
    outbound_rate: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(LookupRow.__dataclass_fields__)


def is_toll_free(number: str) -> bool:
    return len(number) == 11 and number.startswith("1") and number[1:4] in TOLL_FREE_NPAS


class Lookups:
    def __init__(
        self,
        client: CarrierX,
        *,
        concurrency: int = 8,
        rates: bool = False,
        limiter: AdaptiveLimiter | None = None,
        on_row: Callable[[LookupRow], None] | None = None,
    ) -> None:
        self.client = client
        self.concurrency = concurrency
        self.rates = rates
        self.limiter = limiter or AdaptiveLimiter()
        self.on_row = on_row

    async def run(self, inputs: Sequence[tuple[int, str]]) -> list[LookupRow]:
        """`inputs`: (line in the file, the number as written). Rows come back in input order."""
        rows = [LookupRow(line, text, normalise_one(text)) for line, text in inputs]
        for row in rows:
            row.valid = row.phonenumber is not None
            if not row.valid:
                row.error = "not a valid phone number"
        numbers = sorted({r.phonenumber for r in rows if r.phonenumber})
        owned = await self._on_account(numbers)
        queue: asyncio.Queue[LookupRow] = asyncio.Queue()
        for row in rows:
            if row.phonenumber:
                row.on_account = row.phonenumber in owned
                queue.put_nowait(row)

        async def worker() -> None:
            while not queue.empty():
                row = queue.get_nowait()
                await self._look_up(row)
                if self.on_row is not None:
                    self.on_row(row)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return rows

    async def _on_account(self, numbers: list[str]) -> set[str]:
        owned: set[str] = set()
        for start in range(0, len(numbers), 100):
            chunk = numbers[start : start + 100]
            found = await self.client.list_all(
                "core",
                "/phonenumber/dids",
                filter=in_filter("phonenumber", chunk),
                params={"include_fields": "phonenumber"},
                require=("phonenumber",),
            )
            owned.update(str(d["phonenumber"]) for d in found)
        return owned

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        while True:
            sent_at = await self.limiter.acquire()
            try:
                answer = await self.client.get("core", path, params=params)
            except RateLimited as error:
                self.limiter.on_throttled(error.retry_after, sent_at)
                continue
            self.limiter.on_success(sent_at)
            return answer

    async def _look_up(self, row: LookupRow) -> None:
        number = str(row.phonenumber)
        try:
            found = await self._get(f"/lookup/dids/{number}", {"cnam": "true", "carrier": "true"})
            details = found.get("details") or {}
            carrier = details.get("carrier") or {}
            row.state = found.get("state")
            row.country_code = found.get("country_code")
            row.carrier = carrier.get("name")
            row.line_type = carrier.get("type")
            row.cnam = details.get("cnam")
            row.lrn = details.get("lrn")
            if is_toll_free(number):
                row.resporg = (await self._get(f"/lookup/toll_free/{number}")).get("resporg")
            if self.rates:
                row.inbound_rate = await self._rate("inbound", number)
                row.outbound_rate = await self._rate("outbound", number)
        except NotFound:
            row.error = "the lookup service does not know this number"
        except ApiError as error:
            row.error = str(error)

    async def _rate(self, direction: str, number: str) -> str | None:
        params = {"direction": direction, "duration": "60", "to": number}
        answer = await self._get("/rating/calls/pstn", params)
        rate = answer.get("rate")
        return None if rate is None else str(rate)
