"""A changeset as operations: one API call each, with a deterministic key and dependencies.

The key is derived from the plan and the change, never random, so a resumed run sends each
operation under the same key, and a rent can be found again by the tag it carried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bulkx.diff.changes import (
    Blocked,
    Change,
    Create,
    NoOp,
    Release,
    RentByCriteria,
    UnreadableChange,
    Update,
    change_as_dict,
    change_from_dict,
)
from bulkx.errors import JournalError
from bulkx.journal.states import Operation
from bulkx.kinds import KINDS

__all__ = [
    "BuiltOperations",
    "Operation",
    "OperationsBuilder",
    "ReleaseWait",
    "StagedRelease",
    "change_of",
    "op_key",
    "operations",
    "referenced",
    "release_last",
]


def op_key(plan_digest: str, step: str, kind: str, key: str, action: str) -> str:
    text = "|".join((plan_digest, step, kind, key, action))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _references(change: Change) -> list[tuple[str, str]]:
    """(kind, natural key) of every object the change names, its parent included."""
    kind = KINDS[change.kind]
    values: Mapping[str, Any] = {}
    if isinstance(change, Create | Update | Release):
        values = change.values
    elif isinstance(change, RentByCriteria):
        values = change.template
    found = []
    for spec in kind.fields:
        if spec.reference and values.get(spec.name) not in (None, ""):
            ref = KINDS[spec.reference]
            found.append((ref.name, ref.reference_key(values[spec.name], values)))
    if kind.parent and kind.parent_field and values.get(kind.parent_field) is not None:
        found.append((kind.parent, str(values[kind.parent_field])))
    viewed = kind.creation.same_sid_as
    if viewed and values.get(kind.key) is not None:
        found.append((viewed, str(values[kind.key])))
    return found


def change_of(op: Operation) -> Change:
    """The change an operation carries, as the typed record the request builders take. One
    that cannot be read (a damaged journal) is a JournalError: the run stops, nothing is sent."""
    try:
        return change_from_dict(op.change)
    except UnreadableChange as error:
        raise JournalError(
            f"operation {op.op_key} ({op.position}) holds a change bulkx cannot read"
            f" ({error}); the journal may be damaged"
        ) from None


def referenced(changes: Iterable[Change]) -> dict[str, set[str]]:
    """kind -> natural keys of every object the changes name (parents included): what a run
    must be able to resolve to sids."""
    wanted: dict[str, set[str]] = {}
    for change in changes:
        for kind, key in _references(change):
            wanted.setdefault(kind, set()).add(key)
    return wanted


def _vacated(change: Update) -> list[tuple[str, str]]:
    """(kind, natural key) of every object an update moves a reference away from."""
    kind = KINDS[change.kind]
    found = []
    for field_change in change.changes:
        spec = kind.by_name.get(field_change.field)
        old = field_change.old
        # An old value the plan does not know is shown as "<sid>": no release can name it.
        if spec is None or not spec.reference or old in (None, "") or str(old).startswith("<"):
            continue
        ref = KINDS[spec.reference]
        found.append((ref.name, ref.reference_key(old, change.values)))
    return found


def operations(changes: Iterable[Change], plan_digest: str) -> list[Operation]:
    """Operations in dependency order; each depends on the creates and updates of this run it
    names (a mediator binding waits for its redirect_did to be routed to the endpoint).

    Releases come last, dependants first: a release waits for the releases of the objects that
    name the released one (a v1 DID group goes after the rooms and DIDs in it), and for the
    updates that move an object off it (a trunk group goes after its DIDs are re-pointed)."""
    built = OperationsBuilder(plan_digest).add(changes)
    waits: dict[tuple[str, str], list[str]] = {}
    for wait in sorted(built.waits, key=lambda w: w.after_updates):  # stable: as they came
        waits.setdefault(wait.released, []).append(wait.op_key)
    last = [release_last(r, waits.get(r.released, ())) for r in reversed(built.releases)]
    return [*built.ops, *last]


@dataclass(frozen=True)
class StagedRelease:
    """A release, held back until every other operation is written: releases go last, in
    reverse order (dependants first), each waiting for what names the object it releases."""

    operation: Operation
    #: (kind, natural key) of the object it releases.
    released: tuple[str, str]


@dataclass(frozen=True)
class ReleaseWait:
    """`op_key` must finish before a release of `released` (kind, natural key) may start: a
    release of an object that names it, or (`after_updates`) an update that moves off it."""

    released: tuple[str, str]
    op_key: str
    after_updates: bool


@dataclass
class BuiltOperations:
    """What `OperationsBuilder.add` made of some changes."""

    #: Every operation but the releases, in order.
    ops: list[Operation] = field(default_factory=list)
    releases: list[StagedRelease] = field(default_factory=list)
    waits: list[ReleaseWait] = field(default_factory=list)


def release_last(release: StagedRelease, waits: Iterable[str]) -> Operation:
    """The release's operation with what it waits for: what its object names it first, then
    the updates moving off it (never itself)."""
    operation = release.operation
    extra = tuple(key for key in waits if key != operation.op_key)
    return replace(operation, depends_on=tuple(dict.fromkeys(operation.depends_on + extra)))


class OperationsBuilder:
    """`operations()` over changes given a chunk at a time. `made_kinds`: the kinds whose
    creates and updates later changes may wait for (None: every kind); `vacated_kinds`: the
    kinds an update moving off one is worth recording for (some of the plan may release)."""

    def __init__(
        self,
        plan_digest: str,
        *,
        made_kinds: Collection[str] | None = None,
        vacated_kinds: Collection[str] | None = None,
        made: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        self.plan_digest = plan_digest
        self._made_kinds = made_kinds
        self._vacated_kinds = vacated_kinds
        #: Grows with the plan: (kind, natural key) -> op_key of each create or update of a kind
        #: in `made_kinds` (keys only). `made`: those an earlier process journaled.
        self.made: dict[tuple[str, str], str] = {
            (kind, key): op for kind, key, op in made if self._keeps_made(kind)
        }

    def _keeps_made(self, kind: str) -> bool:
        return self._made_kinds is None or kind in self._made_kinds

    def add(self, changes: Iterable[Change]) -> BuiltOperations:
        built = BuiltOperations()
        for change in changes:
            if isinstance(change, NoOp | Blocked):
                continue
            refs = _references(change)
            deps = tuple(dict.fromkeys(self.made[ref] for ref in refs if ref in self.made))
            if isinstance(change, RentByCriteria):
                built.ops.extend(self._rents(change, deps))
                continue
            operation = self._operation(change, deps)
            natural = (change.kind, KINDS[change.kind].natural_key(change.values))
            if isinstance(change, Create | Update) and self._keeps_made(change.kind):
                self.made[natural] = operation.op_key
            if isinstance(change, Update):
                built.waits += [
                    ReleaseWait(ref, operation.op_key, after_updates=True)
                    for ref in _vacated(change)
                    if self._vacated_kinds is None or ref[0] in self._vacated_kinds
                ]
            if isinstance(change, Release):
                built.releases.append(StagedRelease(operation, natural))
                built.waits += [ReleaseWait(ref, operation.op_key, False) for ref in refs]
                continue
            built.ops.append(operation)
        return built

    def _operation(self, change: Create | Update | Release, deps: tuple[str, ...]) -> Operation:
        return Operation(
            op_key(self.plan_digest, change.step, change.kind, change.key, change.action),
            change.step,
            change.kind,
            change.key,
            change.action,
            f"{change.position.file}:{change.position.line}",
            deps,
            change_as_dict(change),
        )

    def _rents(self, change: RentByCriteria, deps: tuple[str, ...]) -> list[Operation]:
        base = change_as_dict(change)
        where = f"{change.position.file}:{change.position.line}"
        return [
            Operation(
                op_key(self.plan_digest, change.step, change.kind, key, "rent"),
                change.step,
                change.kind,
                key,
                "rent",
                where,
                deps,
                base,
            )
            for key in (f"{change.key}#{index + 1}" for index in range(change.count))
        ]
