"""A changeset as operations: one API call each, with a deterministic key and dependencies.

The key is derived from the plan and the change, never random, so a resumed run sends each
operation under the same key, and a rent can be found again by the tag it carried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from bulkx.diff.changes import (
    Blocked,
    Change,
    Create,
    NoOp,
    Release,
    RentByCriteria,
    Update,
    change_as_dict,
    change_from_dict,
)
from bulkx.diff.state import natural_key, reference_key
from bulkx.journal.states import Operation
from bulkx.resources import KINDS

__all__ = ["Operation", "change_of", "op_key", "operations", "referenced"]


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
            found.append((ref.name, reference_key(ref, values[spec.name], values)))
    if kind.parent and kind.parent_field and values.get(kind.parent_field) is not None:
        found.append((kind.parent, str(values[kind.parent_field])))
    if kind.same_sid_as and values.get(kind.key) is not None:
        found.append((kind.same_sid_as, str(values[kind.key])))
    return found


def change_of(op: Operation) -> Change:
    """The change an operation carries, as the typed record the request builders take."""
    return change_from_dict(op.change)


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
        found.append((ref.name, reference_key(ref, old, change.values)))
    return found


def operations(changes: Iterable[Change], plan_digest: str) -> list[Operation]:
    """Operations in dependency order; each depends on the creates and updates of this run it
    names (a mediator binding waits for its redirect_did to be routed to the endpoint).

    Releases come last, dependants first: a release waits for the releases of the objects that
    name the released one (a v1 DID group goes after the rooms and DIDs in it), and for the
    updates that move an object off it (a trunk group goes after its DIDs are re-pointed)."""
    made: dict[tuple[str, str], str] = {}
    vacated: dict[tuple[str, str], list[str]] = {}
    out: list[Operation] = []
    releases: list[tuple[Release, Operation]] = []
    for change in changes:
        if isinstance(change, NoOp | Blocked):
            continue
        deps = tuple(dict.fromkeys(made[ref] for ref in _references(change) if ref in made))
        base = change_as_dict(change)
        where = f"{change.position.file}:{change.position.line}"
        if isinstance(change, RentByCriteria):
            for index in range(change.count):
                key = f"{change.key}#{index + 1}"
                out.append(Operation(
                    op_key(plan_digest, change.step, change.kind, key, "rent"),
                    change.step, change.kind, key, "rent", where, deps, base,
                ))  # fmt: skip
            continue
        operation = Operation(
            op_key(plan_digest, change.step, change.kind, change.key, change.action),
            change.step, change.kind, change.key, change.action, where, deps, base,
        )  # fmt: skip
        if isinstance(change, Create | Update):
            made[(change.kind, natural_key(KINDS[change.kind], change.values))] = operation.op_key
        if isinstance(change, Update):
            for ref in _vacated(change):
                vacated.setdefault(ref, []).append(operation.op_key)
        if isinstance(change, Release):
            releases.append((change, operation))
            continue
        out.append(operation)
    released = {(c.kind, natural_key(KINDS[c.kind], c.values)): op for c, op in releases}
    waits: dict[str, list[str]] = {}
    for change, operation in releases:
        for ref in _references(change):
            if ref in released and released[ref] is not operation:
                waits.setdefault(released[ref].op_key, []).append(operation.op_key)
    for change, operation in releases:
        released_key = (change.kind, natural_key(KINDS[change.kind], change.values))
        waits.setdefault(operation.op_key, []).extend(vacated.get(released_key, []))
    for _, operation in reversed(releases):
        extra = tuple(waits.get(operation.op_key, ()))
        out.append(
            replace(operation, depends_on=tuple(dict.fromkeys(operation.depends_on + extra)))
        )
    return out
