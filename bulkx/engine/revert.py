"""`bulkx revert RUN_ID`: from a run's journal alone, the plan that undoes what it did.

Each operation the run carried out (state `succeeded`) is turned around:

- an update sets back the values live state held before the run: the `old` of each field it
  changed, as the diff read it (a reference by the natural key of what it named);
- a create or a rent becomes `ensure: absent` (which applies only when releasing is allowed);
- a release, a delete or a send cannot be undone: it is listed, never planned.

What the run set (`RevertItem.after`) is kept beside each item, so that live state can be
compared with it before the plan is written (`bulkx.engine.revert_drift`). Plain data only;
the YAML text is JSON flow mappings inside a block plan, which every YAML 1.2 parser reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkx.journal.states import Operation
from bulkx.journal.view import JournalView
from bulkx.kinds import KINDS, Kind
from bulkx.kinds.model import Allowance

#: Operations read from the journal per page.
_PAGE = 500
#: What a step of the revert plan is called: the step of the run it undoes, prefixed.
UNDO_PREFIX = "undo-"


@dataclass
class RevertItem:
    """One object to put back: `values` is its revert plan item, `after` what the run set
    (the item live state must still match for the revert to be safe)."""

    kind: str
    step: str
    key: str
    values: dict[str, Any]
    after: dict[str, Any]
    #: The run's operation(s), as file:line of its plan: where the change came from.
    position: str
    #: A rented number whose phone number the journal does not hold (only its sid).
    rented_sid: str | None = None

    @property
    def releases(self) -> bool:
        return self.values.get("ensure") == "absent"


@dataclass(frozen=True)
class Irreversible:
    """What the run did that no plan can undo, and why."""

    kind: str
    key: str
    step: str
    action: str
    reason: str
    position: str


@dataclass
class Revert:
    """The revert of one run, as plain data."""

    run_id: str
    plan_path: str
    target: str
    items: list[RevertItem] = field(default_factory=list)
    irreversible: list[Irreversible] = field(default_factory=list)
    #: Items live state no longer matches (changed by someone since): left out of the plan.
    drifted: list[RevertItem] = field(default_factory=list)
    #: Fields that cannot be set back: (kind, key, field, why).
    kept: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: Operations not settled (pending, in flight, outcome unknown): not reverted.
    unsettled: int = 0
    #: Drifted items are in the plan all the same (`--force`).
    forced: bool = False

    @property
    def needs_release(self) -> bool:
        return any(item.releases for item in self.items)

    def allowances(self) -> list[Allowance]:
        """What the revert plan's apply must be allowed to do ('release', then the kinds'
        permissions, in the order its items first need them); the CLI names their flags."""
        needed: list[Allowance] = ["release"] if self.needs_release else []
        for item in self.items:
            confirmation = KINDS[item.kind].confirmation
            if confirmation is None or not (item.releases or confirmation.updates):
                continue
            if confirmation.permission not in needed:
                needed.append(confirmation.permission)
        return needed


def key_fields(kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that name the object (its key, scope, parent and endpoint) from a change."""
    names = [kind.key, kind.scope_field, kind.parent_field]
    if kind.api != "core":
        names.append("endpoint")
    return {n: values[n] for n in dict.fromkeys(names) if n and values.get(n) is not None}


def journal_ops(view: JournalView, state: str = "succeeded") -> Iterator[Operation]:
    """The run's operations in `state`, in op_id order, a page at a time (`JournalView`)."""
    after = 0
    while page := view.ops(state, limit=_PAGE, after_op_id=after):
        yield from page
        after = page[-1].op_id or after


class RevertBuilder:
    """Operations in journal order in, revert items out: the first `old` of a field is what
    live state held before the run, the last `new` what the run left."""

    def __init__(self, revert: Revert) -> None:
        self.revert = revert
        self._items: dict[tuple[str, str], RevertItem] = {}

    def add(self, ops: Iterable[Operation]) -> Revert:
        for op in ops:
            self._add(op)
        deleted = {(i.kind, i.key) for i in self.revert.irreversible if i.action == "release"}
        for item in list(self._items.values()):
            if (item.kind, item.key) in deleted:  # changed, then deleted: nothing to set back
                del self._items[(item.kind, item.key)]
                continue
            for name, gone in _names_deleted(item, deleted):
                # What it named before the run is no more: that field cannot be set back.
                del item.values[name]
                item.after.pop(name, None)
                why = f"it named {gone[0]} {gone[1]}, which the run deleted"
                self.revert.kept.append((item.kind, item.key, name, why))
            named = {*key_fields(KINDS[item.kind], item.values), "ensure"}
            if not item.releases and not set(item.values) - named:  # nothing left to set back
                del self._items[(item.kind, item.key)]
        self.revert.items = list(self._items.values())
        return self.revert

    def _add(self, op: Operation) -> None:
        kind = KINDS.get(op.kind)
        change = op.change
        if kind is None:
            self._cannot(op, f"kind {op.kind} is unknown to this bulkx")
        elif op.action == "release":
            self._cannot(op, f"{kind.delete_verb.past}: the API cannot bring it back")
        elif kind.sends:
            self._cannot(op, "sent: what was sent cannot be called back")
        elif op.action in ("create", "rent"):
            self._created(op, kind, change)
        elif op.action == "update":
            self._updated(op, kind, change)

    def _cannot(self, op: Operation, reason: str) -> None:
        self.revert.irreversible.append(
            Irreversible(op.kind, op.key, op.step, op.action, reason, op.position)
        )

    def _created(self, op: Operation, kind: Kind, change: Mapping[str, Any]) -> None:
        if "delete" not in kind.operations:
            self._cannot(op, f"created: the API cannot delete a {kind.name}")
            return
        if op.action == "rent":  # by criteria: the journal has the number's sid only
            after = {**dict(change.get("template") or {}), "ensure": kind.existing_ensure}
            self._items[(op.kind, op.key)] = RevertItem(
                op.kind,
                op.step,
                op.key,
                {"ensure": "absent"},
                after,
                op.position,
                rented_sid=op.remote_sid,
            )
            return
        values = dict(change.get("values") or {})
        after = {**values, "ensure": kind.existing_ensure or "present"}
        undo = {**key_fields(kind, values), "ensure": "absent"}
        # A create replaces whatever the run did to the object before: it is simply removed.
        self._items[(op.kind, op.key)] = RevertItem(
            op.kind, op.step, op.key, undo, after, op.position
        )

    def _updated(self, op: Operation, kind: Kind, change: Mapping[str, Any]) -> None:
        if self._owner_made(kind, change):
            return  # a sub-record of an object this run made goes with it
        changes = list(change.get("changes") or [])
        if any(
            kind.by_name.get(c["field"]) and kind.by_name[c["field"]].type == "file"
            for c in changes
        ):
            self._cannot(op, "a stored file's earlier bytes are not kept")
            return
        unknown = [c["field"] for c in changes if _unknown_reference(kind, c)]
        if unknown:
            self._cannot(op, f"{unknown[0]} named an object the run's plan did not know")
            return
        item = self._items.get((op.kind, op.key))
        if item is None:
            values = dict(change.get("values") or {})
            named = key_fields(kind, values)
            ensure = {"ensure": kind.existing_ensure} if kind.existing_ensure else {}
            item = RevertItem(
                op.kind, op.step, op.key, {**named, **ensure}, {**named, **ensure}, op.position
            )
            self._items[(op.kind, op.key)] = item
        if item.releases:
            return
        empty_before = [
            c["field"]
            for c in changes
            if _required(kind, c["field"])
            and c["old"] in (None, "")
            and c["field"] not in item.values
        ]
        if empty_before:
            del self._items[(op.kind, op.key)]
            self._cannot(
                op,
                f"{empty_before[0]} was empty before the run, and a plan cannot"
                " empty a required field",
            )
            return
        for each in changes:
            self._set_back(item, kind, each["field"], each["old"], each["new"])
        _fill_required(item, kind, change.get("values") or {})

    def _set_back(self, item: RevertItem, kind: Kind, name: str, old: Any, new: Any) -> None:
        if new not in (None, "") or kind.can_clear(name):
            item.after[name] = new
        if name in item.values:
            return  # an earlier operation of the run changed it first: its old is the one
        if old in (None, "") and not kind.can_clear(name):
            # The API has no empty value for it (a number, a choice): left as the run set it.
            why = "the API has no empty value for it"
            self.revert.kept.append((item.kind, item.key, name, why))
            return
        item.values[name] = None if old == "" else old

    def _owner_made(self, kind: Kind, change: Mapping[str, Any]) -> bool:
        if not kind.singleton or not kind.parent:
            return False
        owner = str((change.get("values") or {}).get(kind.parent_field or kind.key, ""))
        found = self._items.get((kind.parent, owner))
        return found is not None and found.releases


def _names_deleted(
    item: RevertItem, deleted: set[tuple[str, str]]
) -> list[tuple[str, tuple[str, str]]]:
    """(field, (kind, key)) of each object the run deleted that the item would point back at."""
    if item.releases or not deleted:
        return []
    found = []
    for spec in KINDS[item.kind].fields:
        value = item.values.get(spec.name)
        if spec.reference and value not in (None, ""):
            ref = KINDS[spec.reference]
            named = (ref.name, ref.reference_key(value, item.values))
            if named in deleted:
                found.append((spec.name, named))
    return found


def _required(kind: Kind, name: str) -> bool:
    spec = kind.by_name.get(name)
    return spec is not None and spec.required


def _fill_required(item: RevertItem, kind: Kind, sent: Mapping[str, Any]) -> None:
    """Required fields the run did not change, as it sent them (the same as live): a plan
    item names every required field of its kind."""
    for spec in kind.fields:
        if spec.required and spec.name not in item.values and sent.get(spec.name) is not None:
            item.values[spec.name] = sent[spec.name]
            item.after.setdefault(spec.name, sent[spec.name])


def _unknown_reference(kind: Kind, change: Mapping[str, Any]) -> bool:
    """The diff shows a reference to an object the plan did not know as "<sid>"."""
    spec = kind.by_name.get(change["field"])
    old = change.get("old")
    return bool(spec and spec.reference and isinstance(old, str) and old.startswith("<"))


def build_revert(view: JournalView, *, target: str) -> Revert:
    """The revert of the run a `JournalView` shows, from its journal alone."""
    info = view.run()
    counts = view.counts()
    revert = Revert(run_id=info.run_id, plan_path=info.plan_path, target=target)
    revert.unsettled = sum(counts.get(s, 0) for s in ("pending", "in_flight", "unknown"))
    return RevertBuilder(revert).add(journal_ops(view))
