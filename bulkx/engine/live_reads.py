"""The reads one operation needs besides its own request.

Before a send: candidate numbers for a rent by criteria, the sid of an object the plan names by
key only. After a lost answer: whether the change happened, looked up by what the API keeps
(the natural key, the run's tag on a rented number), so that nothing is sent twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bulkx.api import CarrierX
from bulkx.diff.changes import Change, Create, Release, RentByCriteria, Update
from bulkx.diff.read import criteria_filter, quote
from bulkx.engine.operations import Operation
from bulkx.engine.requests import (
    OP_TAG,
    Request,
    Resolver,
    UnresolvedReference,
    object_request,
    rent_request,
    request_for,
    sid_from_lookup,
    sid_lookup_request,
)
from bulkx.errors import NotFound
from bulkx.kinds import KINDS


async def _no_wait() -> None:
    return None


@dataclass
class LiveReads:
    client: CarrierX
    resolver: Resolver
    #: Waits for the run's rate limit (and a 429's Retry-After) before each read: the reads
    #: around a send are requests too, under the same ceiling as the sends.
    before_read: Callable[[], Awaitable[object]] = field(default=lambda: _no_wait())
    #: Step -> available numbers listed for its rents and not taken yet.
    _pools: dict[str, deque[str]] = field(default_factory=dict)
    #: Step -> the lock one worker holds while it lists numbers for the step's pool: the
    #: others wait for that list rather than each fetching an overlapping one (16 workers
    #: fetched 16 lists of the same numbers at once, and then raced each other to rent them).
    _listing: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def request(self, op: Operation, change: Change) -> Request | None:
        """The request that carries `change` out (None: nothing to send), after the reads it
        needs. Raises UnresolvedReference, or the API's error for a failed read."""
        if isinstance(change, RentByCriteria):
            number = await self._next_number(change)
            return rent_request(change, number, self.resolver, op.op_key)
        if isinstance(change, Update):
            lookup = sid_lookup_request(change, self.resolver)
            if lookup is not None:  # e.g. the account of an endpoint this run created
                await self.before_read()
                answer = await self.client.request(
                    lookup.api, lookup.method, lookup.path, endpoint=lookup.endpoint
                )
                sid = sid_from_lookup(change, answer)
                if sid is not None:
                    self.resolver.remember(change.kind, change.key, sid)
        return request_for(change, self.resolver)

    async def _next_number(self, change: RentByCriteria) -> str:
        pool = self._pools.setdefault(change.step, deque())
        if pool:
            return pool.popleft()
        async with self._listing.setdefault(change.step, asyncio.Lock()):
            return await self._listed_number(change, pool)

    async def _listed_number(self, change: RentByCriteria, pool: deque[str]) -> str:
        """The next number of `pool`, listing available ones first when it is empty (under the
        step's lock: another worker may have filled it while this one waited)."""
        if not pool:
            flt = criteria_filter(change.criteria)
            params: dict[str, Any] = {
                "limit": min(1000, max(50, change.count * 2)),
                "order": "shuffle",
            }
            if flt:
                params["filter"] = flt
            await self.before_read()
            page = await self.client.get("core", "/phonenumber/available_dids", params=params)
            items = page.get("items") if isinstance(page, dict) else None
            pool.extend(
                str(d["phonenumber"])
                for d in items or []
                if isinstance(d, dict) and d.get("phonenumber")
            )
            if not pool:
                raise UnresolvedReference(f"no available number matches {change.key}")
        return pool.popleft()

    async def look_up_outcome(self, op: Operation, change: Change) -> str | None:
        """After a lost answer: did the change happen? The sid if so, None if not."""
        kind = KINDS[change.kind]
        if isinstance(change, Release):
            lookup = object_request(change, self.resolver)
            try:
                await self.before_read()
                await self.client.request(
                    lookup.api, lookup.method, lookup.path, endpoint=lookup.endpoint
                )
            except NotFound:
                return change.sid
            return None
        if isinstance(change, Update):
            return None  # sending the desired state again is safe
        if isinstance(change, RentByCriteria):
            await self.before_read()
            found = await self.client.list_all(
                "core", kind.path, filter=f"attributes.{OP_TAG} eq {quote(op.op_key)}"
            )
            return str(found[0][kind.sid_field]) if found else None
        assert isinstance(change, Create)
        values = change.values
        scope = kind.scope_field
        if kind.parent and scope and "{parent_sid}" in kind.path:  # a trunk: in its group
            await self.before_read()
            groups = await self.client.list_all(
                "core",
                KINDS[kind.parent].path,
                params={"with_trunks": "true"},
                filter=f"name eq {quote(str(values[scope]))}",
            )
            for group in groups:
                for trunk in group.get("trunks") or []:
                    if trunk.get(kind.key) == values[kind.key]:
                        return str(trunk[kind.sid_field])
            return None
        endpoint = str(values["endpoint"]) if kind.api != "core" and "endpoint" in values else None
        where = f"{kind.key_field} eq {quote(str(values[kind.key]))}"
        parent_field = kind.by_name.get(kind.parent_field or "")
        if kind.parent and parent_field is not None and parent_field.api_name:
            # A link is named within its domain, a file within its container.
            parent_sid = self.resolver.sid(kind.parent, str(values[parent_field.name]))
            where += f" and {parent_field.api_name} eq {quote(parent_sid)}"
        await self.before_read()
        found = await self.client.list_all(kind.api, kind.path, filter=where, endpoint=endpoint)
        return str(found[0][kind.sid_field]) if found else None
