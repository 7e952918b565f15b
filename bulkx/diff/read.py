"""Reading live state for a plan: bulk lists with filters, not one GET per row.

Where the API has no list (a DID's E911 and line information records), one GET per item is
the only way: they are read concurrently, and only for the DIDs that exist.

A run reads through `bulkx.engine.read_policy`: apply's limiter, retries and outage breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from bulkx.diff.state import STEP_TAG, LiveObject, LiveState
from bulkx.errors import NotFound
from bulkx.journal.sent import EarlierSend
from bulkx.kinds import KINDS, Kind
from bulkx.kinds.model import ReadStrategy
from bulkx.kinds.registry import nested_kinds, records_of
from bulkx.plan.model import Plan, Step

#: Above this many keys a kind's whole list is cheaper than `in (...)` filters.
LIST_ALL_ABOVE = 5_000
#: Values per `in (...)` filter: keeps URLs well under the 8 KB many servers accept.
IN_CHUNK = 200
#: Reads in flight at once. The limiter paces them; this only has to cover the round trip:
#: 16 in flight at 100 ms each is 160 requests/s, well over a 50/s account's limit.
CONCURRENCY = 16
#: The per-parent records (a DID's E911, line information and messaging: no list endpoint, one
#: GET per parent each), as progress names them.
SUB_RECORDS = {
    kind.name: kind.progress_label for kind in KINDS.values() if kind.reads == "per_parent"
}

#: Progress of a long read: (what, done, total), e.g. ("DIDs (E911)", 1200, 2000).
ReadProgress = Callable[[str, int, int], None]


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


async def _gather_bounded(
    jobs: Iterable[Callable[[], Awaitable[Any]]], concurrency: int = CONCURRENCY
) -> list[Any]:
    """Each job's result, in order, with at most `concurrency` running: workers pull the next
    job when they are free (no coroutine per job waiting). The first error cancels the rest."""
    results: dict[int, Any] = {}
    todo = enumerate(jobs)

    async def worker() -> None:
        for index, job in todo:  # shared: each worker takes the next job
            results[index] = await job()

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return [results[i] for i in range(len(results))]


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


async def read_by_keys(
    reader: ApiReader,
    kind: Kind,
    keys: list[str],
    *,
    endpoint: str | None = None,
    concurrency: int = CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The live objects of `kind` named by `keys`; `progress(keys looked up, of)`."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    say = progress or (lambda done, total: None)
    say(0, len(wanted))
    fields = {"include_fields": ",".join(kind.read_fields)} if kind.read_fields else None
    if len(wanted) > LIST_ALL_ABOVE:
        everything = await reader.list_all(kind.api, kind.path, params=fields, endpoint=endpoint)
        say(len(wanted), len(wanted))
        return everything
    done = 0

    async def chunk_of(chunk: list[str]) -> list[dict[str, Any]]:
        nonlocal done
        page = await reader.list_all(
            kind.api,
            kind.path,
            filter=in_filter(kind.key_field, chunk),
            params=fields,
            endpoint=endpoint,
        )
        done += len(chunk)
        say(done, len(wanted))
        return page

    pages = await _gather_bounded(
        (partial(chunk_of, chunk) for chunk in _chunks(wanted, IN_CHUNK)), concurrency
    )
    return [obj for page in pages for obj in page]


def add_all(
    live: LiveState, kind: Kind, objects: Iterable[dict[str, Any]], scope: str = ""
) -> None:
    # What the kind says is looked up once, not per object: `Kind.scope_field` builds a dict
    # of the kind's fields on every call (a third of reading 200,000 DIDs).
    field = kind.scope_field
    per_endpoint, key, key_field, sid_field = (
        kind.per_endpoint,
        kind.key,
        kind.key_field,
        kind.sid_field,
    )
    into = live.objects.setdefault(kind.name, {})
    for obj in objects:
        values = kind.from_api(obj)
        if per_endpoint:
            values[key] = scope  # an endpoint's own account: keyed by the endpoint
        values.setdefault(key, obj.get(key_field))
        if field:
            values[field] = scope
        # Conference v1's integer ids are kept as text, like every other sid.
        sid = None if obj.get(sid_field) is None else str(obj[sid_field])
        # kind.natural_key(values), with the scope field looked up above.
        name = str(values.get(key, ""))
        into[f"{scope}/{name}" if field else name] = LiveObject(sid, values)


#: What earlier runs sent of the untraceable kinds: {kind: keys} -> (kind, key) -> the send.
SentBefore = Callable[[Mapping[str, list[str]]], Mapping[tuple[str, str], EarlierSend]]


@dataclass(frozen=True)
class PlanKeys:
    """The natural keys some steps name, as the reads need them."""

    #: kind -> keys, for kinds read by key or whole (Core kinds, and unscoped ones).
    keys: dict[str, list[str]]
    #: (app kind, endpoint) -> keys: app API objects are read per endpoint (its own account).
    scoped: dict[tuple[str, str], list[str]]


def plan_keys(steps: Iterable[Step]) -> PlanKeys:
    keys: dict[str, list[str]] = {}
    scoped: dict[tuple[str, str], list[str]] = {}
    for step in steps:
        kind = KINDS[step.kind]
        if step.rows.height == 0 or kind.key not in step.rows.columns:
            continue
        field = "endpoint" if kind.per_endpoint else kind.scope_field
        column = step.rows[kind.key].cast(str).to_list()
        if field and field in step.rows.columns and kind.api != "core":
            for scope, key in zip(step.rows[field].cast(str).to_list(), column, strict=True):
                scoped.setdefault((kind.name, scope), []).append(key)
        else:
            keys.setdefault(kind.name, []).extend(column)
    return PlanKeys(keys, scoped)


def referenced_kinds(kinds: Iterable[str]) -> set[str]:
    """The kinds that objects of `kinds` name: by a reference field, or as their parent."""
    named = set(kinds)
    return {str(f.reference) for k in named for f in KINDS[k].fields if f.reference} | {
        str(KINDS[k].parent) for k in named if KINDS[k].parent
    }


def listed_kinds(names: Iterable[str], referenced: set[str]) -> list[str]:
    """The plan's kinds with a list of their own, besides the referenced ones (read whole
    already): the small Core collections and the traceable sends (the DIDs and their records,
    the untraceable sends and the app kinds are read their own ways); sorted, as they are read."""
    return sorted(
        name
        for name in set(names) - referenced
        if KINDS[name].reads == "whole" or (KINDS[name].reads == "by_key" and KINDS[name].sends)
    )


def parent_scoped_kinds(names: Iterable[str]) -> list[str]:
    """Core kinds listed on their own but scoped by the object they live in (a link by its
    domain, a file by its container)."""
    return sorted(name for name in set(names) if KINDS[name].reads == "parent_scoped")


@dataclass(frozen=True)
class _Reading:
    """What each read strategy reads with, and into."""

    reader: ApiReader
    live: LiveState
    named: PlanKeys
    sent_before: SentBefore | None
    concurrency: int
    progress: ReadProgress | None


def kinds_to_read(steps: Iterable[Step], named: PlanKeys) -> dict[ReadStrategy, list[Kind]]:
    """The kinds a plan's live state needs, by how each is read (sorted by name): those its
    steps name, what those reference (read whole), and the parents of the records they name
    (a DID's, read by key with it). Nested kinds come with their parents' lists."""
    planned = set(named.keys) | {name for name, _ in named.scoped}
    referenced = referenced_kinds(step.kind for step in steps)
    wanted = planned | {n for n in referenced if KINDS[n].reads == "whole"}
    wanted |= {str(KINDS[n].parent) for n in planned if KINDS[n].reads == "per_parent"}
    by_strategy: dict[ReadStrategy, list[Kind]] = {}
    for name in sorted(wanted):
        by_strategy.setdefault(KINDS[name].reads, []).append(KINDS[name])
    return by_strategy


async def _read_whole(reading: _Reading, kinds: list[Kind]) -> None:
    for kind in kinds:
        await read_whole(reading.reader, reading.live, kind)


async def _read_journaled(reading: _Reading, kinds: list[Kind]) -> None:
    add_sent_before(reading.live, reading.named.keys, reading.sent_before)


async def _read_keyed(reading: _Reading, kinds: list[Kind]) -> None:
    r = reading
    for kind in kinds:
        await read_keyed(r.reader, r.live, kind, r.named.keys, r.concurrency, r.progress)


async def _read_parent_scoped(reading: _Reading, kinds: list[Kind]) -> None:
    await read_parent_scoped(reading.reader, reading.live, [kind.name for kind in kinds])


async def _read_records(reading: _Reading, kinds: list[Kind]) -> None:
    wanted = {kind.name: reading.named.keys.get(kind.name, []) for kind in kinds}
    await _read_sub_records(
        reading.reader, reading.live, wanted, reading.concurrency, reading.progress
    )


async def _read_per_endpoint(reading: _Reading, kinds: list[Kind]) -> None:
    await read_app_scoped(reading.reader, reading.live, reading.named.scoped)


async def _read_with_parent(reading: _Reading, kinds: list[Kind]) -> None:
    """Nested kinds: their parents' lists hold them (`read_whole`)."""


#: Each read strategy, in the order they run: a parent's list before what is scoped by its
#: objects (a link by its domain), a DID before its records.
READS: dict[ReadStrategy, Callable[[_Reading, list[Kind]], Awaitable[None]]] = {
    "whole": _read_whole,
    "nested": _read_with_parent,
    "journals": _read_journaled,
    "by_key": _read_keyed,
    "parent_scoped": _read_parent_scoped,
    "per_parent": _read_records,
    "per_endpoint": _read_per_endpoint,
}


async def read_live_state(
    reader: ApiReader,
    plan: Plan,
    *,
    sent_before: SentBefore | None = None,
    concurrency: int = CONCURRENCY,
    progress: ReadProgress | None = None,
) -> LiveState:
    """Live state for everything the plan names, plus every object its references may name.
    `sent_before` answers for the sends the API keeps no trace of (the run journals); without
    it, none is known to have been sent.

    At most `concurrency` requests at once; each under `reader`'s own retry policy (a run
    reads through `bulkx.engine.read_policy.policed`: apply's limiter, retries and outage
    breaker). `progress(what, done, total)` hears how the long parts go: ("DIDs", ...), then
    ("DIDs (E911)", ...)."""
    named = plan_keys(plan.steps)
    reading = _Reading(reader, LiveState(), named, sent_before, concurrency, progress)
    kinds = kinds_to_read(plan.steps, named)
    for strategy, read in READS.items():
        await read(reading, kinds.get(strategy, []))
    await read_counts(reader, reading.live, plan.steps)
    return reading.live


async def read_whole(reader: ApiReader, live: LiveState, kind: Kind) -> None:
    """`kind`'s whole list, and the objects listed inside each of its objects (a trunk group's
    trunks, scoped by their group's key)."""
    nested = nested_kinds(kind.name)
    params = {
        k: v for child in nested if child.nested_in for k, v in child.nested_in.params.items()
    }
    objects = await reader.list_all(kind.api, kind.path, params=params or None)
    add_all(live, kind, objects)
    for child in nested:
        field = child.nested_in.api_field if child.nested_in else ""
        for parent in objects:
            add_all(live, child, parent.get(field) or [], scope=str(parent.get(kind.key_field)))


async def read_referenced(reader: ApiReader, live: LiveState, referenced: set[str]) -> None:
    """Small kinds that references point at (trunk groups with their trunks, endpoints, DID
    groups...): read whole, for the sids live references hold (`LiveState.key_of_sid`). The
    others are read their own ways: DIDs and their records by key, app objects per endpoint."""
    for name in sorted(referenced):
        if KINDS[name].reads == "whole":
            await read_whole(reader, live, KINDS[name])


def add_sent_before(
    live: LiveState, keys: Mapping[str, list[str]], sent_before: SentBefore | None
) -> None:
    """Sends the API keeps no trace of: what the run journals say went out."""
    untraceable = {name: keys[name] for name in keys if KINDS[name].reads == "journals"}
    if not untraceable or sent_before is None:
        return
    for (name, key), send in sent_before(untraceable).items():
        if send.certain:
            live.add(KINDS[name], key, LiveObject(send.sid, {KINDS[name].key: key}))
        else:
            live.maybe_sent[(name, key)] = send.run_id


async def read_listed(
    reader: ApiReader,
    live: LiveState,
    names: Iterable[str],
    keys: Mapping[str, list[str]],
    concurrency: int = CONCURRENCY,
) -> None:
    """`listed_kinds`: a sending kind by the keys asked (messages sent are many), any other
    whole (these lists are an account's own small collections; a DID is read by key)."""
    for name in names:
        kind = KINDS[name]
        if kind.reads == "by_key":
            await read_keyed(reader, live, kind, keys, concurrency)
        else:
            await read_whole(reader, live, kind)


async def read_parent_scoped(reader: ApiReader, live: LiveState, names: Iterable[str]) -> None:
    """`parent_scoped_kinds`, whole (their parents were read whole with the referenced kinds):
    the scope in their natural key is their parent's."""
    for name in names:
        kind = KINDS[name]
        parents = live.sid_index(kind.parent or "")
        parent_sid_field = kind.by_name[kind.parent_field or ""].api_name or ""
        for obj in await reader.list_all(kind.api, kind.path):
            sid = str(obj.get(parent_sid_field))
            add_all(live, kind, [obj], scope=parents.get(sid, f"<{sid}>"))


async def read_keyed(
    reader: ApiReader,
    live: LiveState,
    kind: Kind,
    keys: Mapping[str, list[str]],
    concurrency: int = CONCURRENCY,
    progress: ReadProgress | None = None,
) -> None:
    """A kind read by key (`Kind.reads` "by_key"): the objects its steps name and those its
    records' steps name (a DID's E911), and the inventory's price of the ones missing if it is
    rented (a DID)."""
    own = keys.get(kind.name, [])
    wanted = sorted(
        set(own) | {k for record in records_of(kind.name) for k in keys.get(record.name, [])}
    )
    if not wanted:
        return
    said = None
    if progress is not None and kind.progress_label:
        said = partial(progress, kind.progress_label)
    found = await read_by_keys(reader, kind, wanted, concurrency=concurrency, progress=said)
    add_all(live, kind, found)
    if kind.rentable:
        missing = [k for k in own if live.get(kind.name, k) is None]
        await _read_prices(reader, live, kind, missing, concurrency)


async def read_dids(
    reader: ApiReader,
    live: LiveState,
    keys: Mapping[str, list[str]],
    concurrency: int = CONCURRENCY,
    progress: ReadProgress | None = None,
) -> None:
    """The kinds listed by key (`Kind.listed_by_key`: the DIDs, of the did steps and of their
    records' steps) by key, the inventory's price of the ones missing, and the records of the
    ones that exist."""
    for kind in KINDS.values():
        if kind.listed_by_key:
            await read_keyed(reader, live, kind, keys, concurrency, progress)
            wanted = {record.name: keys.get(record.name, []) for record in records_of(kind.name)}
            await _read_sub_records(reader, live, wanted, concurrency, progress)


async def read_counts(reader: ApiReader, live: LiveState, steps: Iterable[Step]) -> None:
    """Rent-by-criteria steps: how many numbers each rented already (by their tag: the whole
    tagged list, there is no count), and what the inventory has for the shortfall."""
    for step in steps:
        if step.count is not None:
            kind = KINDS[step.kind]
            tagged = await reader.list_all(
                kind.api, kind.path, filter=f"attributes.{STEP_TAG} eq {quote(step.name)}"
            )
            live.rented_by_step[step.name] = len(tagged)
            shortfall = max(0, step.count - len(tagged))
            live.criteria[step.name] = await _count_available(
                reader, kind, step.criteria, shortfall
            )


async def read_app_scoped(
    reader: ApiReader, live: LiveState, scoped: Iterable[tuple[str, str]]
) -> None:
    """App API objects, per endpoint (each endpoint is its own account), with the objects of
    the same API they name (a room's DID group, an account's call flow): whole, as the app
    APIs offer no key filter bulkx relies on."""
    read: set[tuple[str, str]] = set()
    for name, endpoint in sorted(scoped):
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
            add_all(live, each, objects, scope=endpoint)


async def _read_sub_records(
    reader: ApiReader,
    live: LiveState,
    wanted: Mapping[str, list[str]],
    concurrency: int,
    progress: ReadProgress | None,
) -> None:
    """The per-parent records the plan names (kind -> keys of their parents: DID numbers), of
    the parents that exist (one that does not has none to compare)."""
    by_parent: dict[str, dict[str, list[str]]] = {}
    for name, keys in wanted.items():
        by_parent.setdefault(str(KINDS[name].parent), {})[name] = keys
    for parent, records in sorted(by_parent.items()):
        await _read_records_of(reader, live, KINDS[parent], records, concurrency, progress)


async def _read_records_of(
    reader: ApiReader,
    live: LiveState,
    parent_kind: Kind,
    wanted: Mapping[str, list[str]],
    concurrency: int,
    progress: ReadProgress | None,
) -> None:
    """`_read_sub_records` of one parent kind: each parent's read once, its records one after
    the other."""
    kinds_of: dict[str, list[Kind]] = {}
    for name, keys in wanted.items():
        for key in sorted(set(keys)):
            parent = live.get(parent_kind.name, key)
            if parent is not None and parent.sid:
                kinds_of.setdefault(key, []).append(KINDS[name])
    if not kinds_of:
        return
    needed = {kind.name for kinds in kinds_of.values() for kind in kinds}
    labels = [k.progress_label for k in records_of(parent_kind.name) if k.name in needed]
    what = f"{parent_kind.progress_label} ({' and '.join(labels)})"
    total = len(kinds_of)
    done = 0
    if progress is not None:
        progress(what, 0, total)

    async def one(key: str, kinds: list[Kind]) -> None:
        nonlocal done
        parent = live.get(parent_kind.name, key)
        assert parent is not None
        sid = str(parent.sid)
        for kind in kinds:
            try:
                record = await reader.get(kind.api, kind.path.format(parent_sid=sid))
            except NotFound:
                continue  # none to compare (a voice-only DID has no messaging record)
            values = kind.from_api(record)
            values[kind.key] = key
            live.add(kind, key, LiveObject(sid, values))
        done += 1
        if progress is not None:
            progress(what, done, total)

    await _gather_bounded(
        (partial(one, key, kinds) for key, kinds in kinds_of.items()), concurrency
    )


async def _read_prices(
    reader: ApiReader, live: LiveState, kind: Kind, keys: list[str], concurrency: int
) -> None:
    """The inventory's monthly price of each of `keys` it offers (numbers not rented yet)."""
    inventory = kind.creation.inventory
    if not keys or inventory is None:
        return
    pages = await _gather_bounded(
        (
            partial(reader.list_all, kind.api, inventory, filter=in_filter(kind.key_field, chunk))
            for chunk in _chunks(sorted(set(keys)), IN_CHUNK)
        ),
        concurrency,
    )
    for page in pages:
        for obj in page:
            live.available[str(obj[kind.key_field])] = str(obj.get("price"))


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
    reader: ApiReader, kind: Kind, criteria: Mapping[str, Any], wanted: int
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
        page = await reader.get(kind.api, str(kind.creation.inventory), params=params)
        items = page.get("items") or []
        if price is None and items:
            price = str(items[0].get("price"))
        found += len(items)
        if not page.get("has_more") or not items:
            break
    return found, price
