"""Reading live state for a plan: bulk lists with filters, not one GET per row.

Where the API has no list (a DID's E911 and line information records), one GET per item is
the only way, and they run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any, Protocol

from bulkx.diff.state import STEP_TAG, LiveObject, LiveState, natural_key, scope_field
from bulkx.errors import NotFound
from bulkx.journal.sent import EarlierSend
from bulkx.plan.model import Plan
from bulkx.resources import KINDS, Kind

#: Above this many keys a kind's whole list is cheaper than `in (...)` filters.
LIST_ALL_ABOVE = 5_000
#: Values per `in (...)` filter: keeps URLs well under the 8 KB many servers accept.
IN_CHUNK = 200
CONCURRENCY = 8


class ApiReader(Protocol):
    """What the diff needs of a client: read-only access (it never writes)."""

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> list[dict[str, Any]]: ...

    async def get(
        self,
        api: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Any: ...


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_filter(field: str, values: Iterable[str]) -> str:
    return f"{field} in ({','.join(quote(v) for v in values)})"


async def _gather_bounded(jobs: Iterable[Callable[[], Awaitable[Any]]]) -> list[Any]:
    window = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with window:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


async def _read_by_keys(
    reader: ApiReader, kind: Kind, keys: list[str], *, endpoint: str | None = None
) -> list[dict[str, Any]]:
    if not keys:
        return []
    if len(keys) > LIST_ALL_ABOVE:
        return await reader.list_all(kind.api, kind.path, endpoint=endpoint)
    pages = await _gather_bounded(
        partial(reader.list_all, kind.api, kind.path, filter=in_filter(kind.key_field, chunk),
                endpoint=endpoint)
        for chunk in _chunks(sorted(set(keys)), IN_CHUNK)
    )  # fmt: skip
    return [obj for page in pages for obj in page]


def _add_all(
    live: LiveState, kind: Kind, objects: Iterable[dict[str, Any]], scope: str = ""
) -> None:
    for obj in objects:
        values = kind.from_api(obj)
        if kind.per_endpoint:
            values[kind.key] = scope  # an endpoint's own account: keyed by the endpoint
        values.setdefault(kind.key, obj.get(kind.key_field))
        field = scope_field(kind)
        if field:
            values[field] = scope
        # Conference v1's integer ids are kept as text, like every other sid.
        sid = None if obj.get(kind.sid_field) is None else str(obj[kind.sid_field])
        live.add(kind, natural_key(kind, values), LiveObject(sid, values))


#: What earlier runs sent of the untraceable kinds: {kind: keys} -> (kind, key) -> the send.
SentBefore = Callable[[Mapping[str, list[str]]], Mapping[tuple[str, str], EarlierSend]]


async def read_live_state(
    reader: ApiReader, plan: Plan, *, sent_before: SentBefore | None = None
) -> LiveState:
    """Live state for everything the plan names, plus every object its references may name.
    `sent_before` answers for the sends the API keeps no trace of (the run journals); without
    it, none is known to have been sent."""
    live = LiveState()
    kinds = {s.kind for s in plan.steps}
    referenced: set[str] = {
        str(f.reference) for k in kinds for f in KINDS[k].fields if f.reference
    } | {str(KINDS[k].parent) for k in kinds if KINDS[k].parent}
    keys: dict[str, list[str]] = {}
    scoped: dict[tuple[str, str], list[str]] = {}
    for step in plan.steps:
        kind = KINDS[step.kind]
        if step.rows.height == 0 or kind.key not in step.rows.columns:
            continue
        field = "endpoint" if kind.per_endpoint else scope_field(kind)
        column = step.rows[kind.key].cast(str).to_list()
        if field and field in step.rows.columns and kind.api != "core":
            for scope, key in zip(step.rows[field].cast(str).to_list(), column, strict=True):
                scoped.setdefault((kind.name, scope), []).append(key)
        else:
            keys.setdefault(kind.name, []).extend(column)

    # Small kinds that references point at: read them whole.
    for name in sorted(referenced - {"did"}):
        kind = KINDS[name]
        if kind.api != "core":
            continue
        if name == "trunk_group":
            groups = await reader.list_all("core", kind.path, params={"with_trunks": "true"})
            _add_all(live, kind, groups)
            trunk = KINDS["trunk"]
            for group in groups:
                _add_all(live, trunk, group.get("trunks") or [], scope=str(group.get("name")))
        else:
            _add_all(live, kind, await reader.list_all("core", kind.path))

    # Sends the API keeps no trace of: what the run journals say went out.
    untraceable = {name: keys[name] for name in keys if not KINDS[name].traceable}
    if untraceable and sent_before is not None:
        for (name, key), send in sent_before(untraceable).items():
            if send.certain:
                live.add(KINDS[name], key, LiveObject(send.sid, {KINDS[name].key: key}))
            else:
                live.maybe_sent[(name, key)] = send.run_id

    # Other Core kinds with a list of their own (DIDs, their records and trunks come below).
    for name in sorted(keys.keys() - referenced - {"did"} - untraceable.keys()):
        kind = KINDS[name]
        if kind.sends:  # messages sent are many: look up only the ones the plan names
            _add_all(live, kind, await _read_by_keys(reader, kind, keys[name]))
            continue
        if kind.api == "core" and not kind.singleton and not kind.parent:
            params = {"with_trunks": "true"} if name == "trunk_group" else None
            _add_all(live, kind, await reader.list_all("core", kind.path, params=params))

    # Core kinds listed on their own but scoped by the object they live in (a link by its
    # domain, a file by its container, both read whole above): the scope is its natural key.
    for name in sorted(keys.keys()):
        kind = KINDS[name]
        if kind.api == "core" and kind.parent and "{parent_sid}" not in kind.path:
            parents = live.sid_index(kind.parent)
            parent_sid_field = kind.by_name[kind.parent_field or ""].api_name or ""
            for obj in await reader.list_all("core", kind.path):
                sid = str(obj.get(parent_sid_field))
                _add_all(live, kind, [obj], scope=parents.get(sid, f"<{sid}>"))

    # DIDs, and the sub-records of the DIDs that exist.
    did_keys = sorted(
        set(keys.get("did", []))
        | {k for name in ("did_emergency", "did_line_information") for k in keys.get(name, [])}
    )
    if did_keys:
        _add_all(live, KINDS["did"], await _read_by_keys(reader, KINDS["did"], did_keys))
        missing = [k for k in keys.get("did", []) if live.get("did", k) is None]
        await _read_prices(reader, live, missing)
    for name in ("did_emergency", "did_line_information"):
        await _read_sub_records(reader, live, KINDS[name], keys.get(name, []))

    for step in plan.steps:
        if step.count is not None:
            tagged = await reader.list_all(
                "core", "/phonenumber/dids", filter=f"attributes.{STEP_TAG} eq {quote(step.name)}"
            )
            live.rented_by_step[step.name] = len(tagged)
            shortfall = max(0, step.count - len(tagged))
            live.criteria[step.name] = await _count_available(reader, step.criteria, shortfall)

    # App API objects, per endpoint (each endpoint is its own account), with the objects of
    # the same API they name (a room's DID group, an account's call flow).
    read: set[tuple[str, str]] = set()
    for (name, endpoint), _ in sorted(scoped.items()):
        kind = KINDS[name]
        wanted = [kind] + [
            KINDS[str(f.reference)]
            for f in kind.fields
            if f.reference and KINDS[str(f.reference)].api == kind.api
        ]
        for each in wanted:
            if (each.name, endpoint) in read:
                continue
            read.add((each.name, endpoint))
            try:
                objects = await reader.list_all(each.api, each.path, endpoint=endpoint)
            except NotFound:
                objects = []  # the endpoint itself is created by this plan
            _add_all(live, each, objects, scope=endpoint)
    return live


async def _read_sub_records(
    reader: ApiReader, live: LiveState, kind: Kind, keys: list[str]
) -> None:
    parents = [(k, live.get("did", k)) for k in sorted(set(keys))]
    present = [(k, p) for k, p in parents if p is not None and p.sid]

    async def one(key: str, sid: str) -> None:
        record = await reader.get(kind.api, kind.path.format(parent_sid=sid))
        values = kind.from_api(record)
        values[kind.key] = key
        live.add(kind, key, LiveObject(sid, values))

    await _gather_bounded(partial(one, k, str(p.sid)) for k, p in present)


async def _read_prices(reader: ApiReader, live: LiveState, numbers: list[str]) -> None:
    if not numbers:
        return
    pages = await _gather_bounded(
        partial(reader.list_all, "core", "/phonenumber/available_dids",
                filter=in_filter("phonenumber", chunk))
        for chunk in _chunks(sorted(set(numbers)), IN_CHUNK)
    )  # fmt: skip
    for page in pages:
        for obj in page:
            live.available[str(obj["phonenumber"])] = str(obj.get("price"))


def criteria_filter(criteria: Mapping[str, Any]) -> str:
    parts = []
    for name, value in sorted(criteria.items()):
        if name == "npa":
            parts.append(f'phonenumber like "1{value}%"')
        elif name == "prefix":
            parts.append(f'phonenumber like "{value}%"')
        else:
            parts.append(f"{name} eq {quote(str(value))}")
    return " and ".join(parts)


async def _count_available(
    reader: ApiReader, criteria: Mapping[str, Any], wanted: int
) -> tuple[int, str | None]:
    """How many numbers match (counted up to `wanted`), and the first one's price.

    The inventory has no total (`total` is null), so this pages only as far as `wanted`.
    """
    flt = criteria_filter(criteria)
    found = 0
    price: str | None = None
    while found < wanted:
        params: dict[str, Any] = {"limit": min(1000, wanted - found), "offset": found}
        if flt:
            params["filter"] = flt
        page = await reader.get("core", "/phonenumber/available_dids", params=params)
        items = page.get("items") or []
        if price is None and items:
            price = str(items[0].get("price"))
        found += len(items)
        if not page.get("has_more") or not items:
            break
    return found, price
