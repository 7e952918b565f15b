"""Live state a chunk of the plan at a time (`bulkx.diff.chunks`), for a diff in bounded memory.

Read by key, per chunk: the chunk's DIDs (`in (...)` filters), the inventory's prices of the
ones missing, the E911 and line information records of the ones that exist, the sends it names
(and what the journals say was sent of the untraceable ones), and a `count:` step's tally.

Read whole, where a keyed read cannot serve:
- up front, once, before anything is sent: the small kinds that references point at (trunk
  groups with their trunks, endpoints, DID groups...: a live reference is a sid, and the diff
  maps it back to a key), the Core kinds scoped by their parent (links, files), and the app
  API objects per endpoint (the app APIs offer no key filter bulkx relies on);
- at its kind's turn, dropped after it: a Core kind with a list of its own (prefixes, rules,
  partners...: an account's small collections), as `read_live_state` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bulkx.diff.chunks import PlanChunk
from bulkx.diff.read import (
    CONCURRENCY,
    SUB_RECORDS,
    ApiReader,
    ReadProgress,
    SentBefore,
    add_all,
    add_sent_before,
    listed_kinds,
    parent_scoped_kinds,
    plan_keys,
    read_app_scoped,
    read_by_keys,
    read_counts,
    read_dids,
    read_listed,
    read_parent_scoped,
    read_referenced,
    referenced_kinds,
)
from bulkx.diff.state import LiveState
from bulkx.kinds import KINDS
from bulkx.plan.model import Plan, Step

#: The kinds whose keys are DIDs read by key: DIDs, and their E911 and line information.
DID_KINDS = ("did", *SUB_RECORDS)


def _keyed_kinds(steps: Iterable[Step]) -> set[str]:
    """The kinds `plan_keys` lists keys of (not the app kinds it scopes by endpoint)."""
    return {
        step.kind
        for step in steps
        if step.rows.height
        and KINDS[step.kind].key in step.rows.columns
        and _scope_column(step) is None
    }


def _scope_column(step: Step) -> str | None:
    """The column an app kind's rows are scoped by (their endpoint), as `plan_keys` sees it."""
    kind = KINDS[step.kind]
    field = "endpoint" if kind.per_endpoint else kind.scope_field
    if field and field in step.rows.columns and kind.api != "core":
        return field
    return None


def _scopes(steps: Iterable[Step]) -> set[tuple[str, str]]:
    """(app kind, endpoint) of every app API step's rows: each endpoint is read whole."""
    found: set[tuple[str, str]] = set()
    for step in steps:
        field = _scope_column(step)
        if field is None or not step.rows.height or KINDS[step.kind].key not in step.rows.columns:
            continue
        endpoints = step.rows[field].cast(str).drop_nulls().unique().to_list()
        found.update((step.kind, str(endpoint)) for endpoint in endpoints)
    return found


class ChunkReads:
    """What the diff of each chunk reads against, under `reader`'s policy (a run's limiter,
    retries and outage breaker)."""

    def __init__(
        self,
        reader: ApiReader,
        plan: Plan,
        *,
        sent_before: SentBefore | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._reader = reader
        self._plan = plan
        self._sent_before = sent_before
        self._concurrency = concurrency
        self._referenced = referenced_kinds(step.kind for step in plan.steps)
        #: Read up front and kept to the end: the small referenced kinds, parent-scoped kinds
        #: and app API objects (sized by the account, not by this plan's number of rows).
        self._shared = LiveState()
        #: The whole list of the kind being prepared (`listed_kinds`), while it is.
        self._kind: str | None = None
        self._kind_live = LiveState()
        self._kind_listed = False
        #: The DIDs the last chunk looked up (found or not): never looked up twice for it.
        self.dids_looked_up: set[str] = set()

    async def up_front(self) -> None:
        """Read what every chunk may look up, once, before any chunk (and so before any
        operation is sent)."""
        shared = self._shared
        await read_referenced(self._reader, shared, self._referenced)
        keyed = _keyed_kinds(self._plan.steps)
        await read_parent_scoped(self._reader, shared, parent_scoped_kinds(keyed))
        await read_app_scoped(self._reader, shared, _scopes(self._plan.steps))

    async def chunk(self, chunk: PlanChunk, progress: ReadProgress | None = None) -> LiveState:
        """Live state for the chunk's diff: what it names, over what was read up front.
        `progress` hears how its DIDs and their sub-records are read."""
        named = plan_keys([chunk.part]).keys
        listed = listed_kinds(named, self._referenced)
        await self._whole_list_of(chunk.step.kind, [n for n in listed if not KINDS[n].sends])
        live = LiveState()
        add_sent_before(live, named, self._sent_before)
        sends = [name for name in listed if KINDS[name].sends]
        await read_listed(self._reader, live, sends, named, self._concurrency)
        await read_dids(self._reader, live, named, self._concurrency, progress)
        self.dids_looked_up = {key for name in DID_KINDS for key in named.get(name, ())}
        if chunk.first and chunk.step.count is not None:
            await read_counts(self._reader, live, [chunk.step])
        return LiveState.layered(self._shared, self._kind_live, live)

    async def dids(self, keys: Iterable[str]) -> LiveState:
        """DIDs a chunk's operations name without the chunk having read them (a mediator
        binding's redirect number, a view's DID): their sids, for the run's references."""
        found = LiveState()
        dids = await read_by_keys(
            self._reader, KINDS["did"], list(keys), concurrency=self._concurrency
        )
        add_all(found, KINDS["did"], dids)
        return found

    async def _whole_list_of(self, kind: str, names: list[str]) -> None:
        if kind != self._kind:
            self._kind = kind
            self._kind_live = LiveState()  # the previous kind's list is let go
            self._kind_listed = False
        if names and not self._kind_listed:
            await read_listed(self._reader, self._kind_live, names, {}, self._concurrency)
            self._kind_listed = True
