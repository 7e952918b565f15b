"""A plain sequential applier for tests: proves a changeset, once carried out, leaves nothing
to do. (The real executor, with journal and concurrency, is bulkx's apply engine.)"""

from __future__ import annotations

from bulkx.api import CarrierX
from bulkx.diff.changes import Changeset, Create, RentByCriteria
from bulkx.diff.read import criteria_filter
from bulkx.diff.state import LiveState
from bulkx.engine.requests import Request, Resolver, created_sid, rent_requests, request_for


async def apply_in_order(client: CarrierX, changeset: Changeset, live: LiveState) -> int:
    resolver = Resolver.from_live(live)
    sent = 0
    request: Request | None
    for change in changeset.changes:
        if isinstance(change, RentByCriteria):
            flt = criteria_filter(change.criteria)
            page = await client.get(
                "core",
                "/phonenumber/available_dids",
                params={"limit": change.count, **({"filter": flt} if flt else {})},
            )
            numbers = [d["phonenumber"] for d in page["items"]]
            for request in rent_requests(change, numbers, resolver):
                await client.request(request.api, request.method, request.path, json=request.body)
                sent += 1
            continue
        request = request_for(change, resolver)
        if request is None:
            continue
        response = await client.request(
            request.api,
            request.method,
            request.path,
            json=request.body,
            endpoint=request.endpoint,
            params=request.params,
        )
        sent += 1
        if isinstance(change, Create):
            sid = created_sid(change.kind, response)
            if sid:
                resolver.remember(change.kind, change.key, sid)
    return sent
