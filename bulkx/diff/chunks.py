"""`diff()` a chunk of rows at a time, in the order it walks a plan: how apply reads, diffs and
journals a plan of any size in bounded memory.

Chunks come kind by kind (`kind_order`: what a kind references or lives under comes first), a
kind's steps in plan order, a step's rows in slices of CHUNK_ROWS. A cursor (step index in that
order, row offset) names where a chunk starts, so an interrupted preparation goes on from it.

What crosses chunks is only what a later chunk's rules ask about, and keys only: the plan's keys
of the objects sub-records live on (`KeyIndex`, a sorted column), and the creates and updates of
the kinds that views follow (`ChunkDiffer.made`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bulkx.diff.changes import Change, Create, Update
from bulkx.diff.engine import diff_item, kind_order, owner_of, rent_by_criteria
from bulkx.diff.state import LiveState
from bulkx.kinds import KINDS
from bulkx.kinds.model import Permission
from bulkx.plan.model import Item, Plan, Step, ValidPlan

if TYPE_CHECKING:  # a resume sends from its journal: polars is imported where frames are
    import polars as pl

#: Rows per chunk: a chunk's live state is read by key (`in (...)` filters of 200) and its
#: operations written in one transaction; 2,000 keeps both short and memory flat.
CHUNK_ROWS = 2_000

#: (index of a step in `ordered_steps`, row offset in it): where the next chunk starts.
Cursor = tuple[int, int]


def ordered_steps(plan: Plan) -> list[Step]:
    """The plan's steps as `diff()` walks them: kinds in `kind_order`, each kind's in plan order."""
    by_kind: dict[str, list[Step]] = {}
    for step in plan.steps:
        by_kind.setdefault(step.kind, []).append(step)
    return [step for kind in kind_order(by_kind) for step in by_kind[kind]]


@dataclass(frozen=True)
class PlanChunk:
    """Some consecutive rows of one step."""

    index: int
    step: Step
    offset: int
    #: The chunk's rows, as a step of their own (same kind, name and position).
    part: Step

    @property
    def first(self) -> bool:
        """The step's first chunk: a `count:` step's rent goes with it."""
        return self.offset == 0

    @property
    def after(self) -> Cursor:
        """Where the next chunk starts."""
        end = self.offset + self.part.rows.height
        return (self.index, end) if end < self.step.rows.height else (self.index + 1, 0)


def plan_chunks(steps: Sequence[Step], start: Cursor = (0, 0)) -> Iterator[PlanChunk]:
    """The chunks of `steps` from `start` on; a step without rows (`count:` alone) is one."""
    size = CHUNK_ROWS  # read at each call: a test makes chunks small
    index, offset = start
    while index < len(steps):
        step = steps[index]
        while True:
            yield PlanChunk(index, step, offset, replace(step, rows=step.rows.slice(offset, size)))
            offset += size
            if offset >= step.rows.height:
                break
        index, offset = index + 1, 0


def rows_before(steps: Sequence[Step], cursor: Cursor) -> int:
    """How many rows come before `cursor` (progress: rows prepared)."""
    index, offset = cursor
    return sum(step.rows.height for step in steps[:index]) + offset


class KeyIndex:
    """A set of keys kept as one sorted column (Arrow strings: some 15 bytes per phone number
    where a Python set takes some 90), asked about a chunk's keys at a time."""

    def __init__(self, parts: Iterable[pl.Series]) -> None:
        import polars as pl

        columns = [part.cast(pl.String) for part in parts]
        whole = pl.concat(columns) if columns else pl.Series([], dtype=pl.String)
        self._keys = whole.drop_nulls().unique().sort()

    def __len__(self) -> int:
        return self._keys.len()

    def members(self, keys: Collection[str]) -> set[str]:
        """The ones of `keys` in the index."""
        if not keys or not len(self):
            return set()
        import polars as pl

        probe = pl.Series(list(keys), dtype=pl.String)
        at = self._keys.search_sorted(probe).clip(upper_bound=len(self) - 1)
        return set(probe.filter(self._keys.gather(at) == probe).to_list())


def _planned_keys(step: Step) -> pl.Series:
    """The natural keys of `step`'s items not `ensure: absent` (what `diff()` counts as there
    once the plan is applied). Vectorised for an unscoped text key, else item by item."""
    import polars as pl

    kind = KINDS[step.kind]
    rows = step.rows
    if "ensure" in rows.columns:
        rows = rows.filter(pl.col("ensure").is_null() | (pl.col("ensure") != "absent"))
    if kind.scope_field is None and kind.key in rows.columns and rows[kind.key].dtype == pl.String:
        return rows[kind.key].fill_null("")
    kept = replace(step, rows=rows)
    return pl.Series([kind.natural_key(item.values) for item in kept.items()], dtype=pl.String)


def owner_kinds(kinds: Iterable[str]) -> set[str]:
    """The kinds whose objects sub-records of `kinds` live on (a DID's E911 record, an
    endpoint's account): a sub-record of one the plan makes is set after it is made."""
    owners: set[str] = set()
    for name in set(kinds):
        kind = KINDS[name]
        if kind.singleton and "update" in kind.operations:
            if kind.parent:
                owners.add(kind.parent)
            elif kind.per_endpoint:
                owners.add("endpoint")
    return owners


def viewed_kinds(kinds: Iterable[str]) -> set[str]:
    """The kinds that views among `kinds` show (a mediator DID is a view of a Core DID)."""
    views = (KINDS[name].creation.same_sid_as for name in set(kinds))
    return {viewed for viewed in views if viewed}


class ChunkDiffer:
    """`diff()` over `plan_chunks`, chunk by chunk, with the same results."""

    def __init__(
        self,
        plan: ValidPlan,
        *,
        allow_release: bool = False,
        confirmed: frozenset[Permission] = frozenset(),
        made: Iterable[tuple[str, str]] = (),
    ) -> None:
        kinds = {step.kind for step in plan.steps}
        self.allow_release = allow_release
        self.confirmed = confirmed
        #: Grows with the plan: the keys of the owner kinds' items, one sorted column each.
        self._owners = {
            owner: KeyIndex(_planned_keys(step) for step in plan.steps_of(owner))
            for owner in owner_kinds(kinds)
        }
        self._viewed = viewed_kinds(kinds)
        #: Grows with the plan: (kind, key) of each create or update of a viewed kind (views
        #: of it are made with it). `made`: those of the chunks an earlier process prepared.
        self.made: set[tuple[str, str]] = {ref for ref in made if ref[0] in self._viewed}

    def diff(self, chunk: PlanChunk, live: LiveState) -> list[Change]:
        """The chunk's changes: its step's rent first (on its first chunk), then each item's."""
        kind = KINDS[chunk.step.kind]
        changes: list[Change] = []
        if chunk.first and chunk.step.count is not None:
            changes.append(rent_by_criteria(kind, chunk.step, live))
        items = list(chunk.part.items())
        planned = self._planned(items, chunk.step.kind)
        for item in items:
            change = diff_item(
                kind,
                chunk.step,
                item,
                live,
                planned,
                self.made,
                allow_release=self.allow_release,
                confirmed=self.confirmed,
            )
            if isinstance(change, Create | Update) and change.kind in self._viewed:
                self.made.add((change.kind, change.key))
            changes.append(change)
        return changes

    def _planned(self, items: Sequence[Item], kind_name: str) -> Mapping[str, set[str]]:
        """Of the owners the chunk's items name, the ones the plan has (as `diff()` asks)."""
        kind = KINDS[kind_name]
        wanted: dict[str, set[str]] = {}
        for item in items:
            owner = owner_of(kind, item.values)
            if owner is not None and owner[0].name in self._owners:
                wanted.setdefault(owner[0].name, set()).add(owner[1])
        return {name: self._owners[name].members(keys) for name, keys in wanted.items()}
