"""The closed set of changes a diff can produce, and the changeset that holds them.

Changes are frozen plain data. Each type's `action` is a class constant (what saved changesets
and journals call it), never a field an instance could set otherwise. A consumer that must
handle every type `match`es over `Change` and ends with `assert_never` (as `change_as_dict`
does), so a new change type is a type error until it is handled there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, assert_never

from bulkx.kinds.model import ALLOWANCES, Allowance
from bulkx.plan.model import Position

CHANGESET_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Create:
    """Create (for a DID: rent) an object that does not exist live."""

    kind: str
    key: str
    step: str
    position: Position
    values: Mapping[str, Any]
    #: What it will cost per month, where the inventory says (DIDs).
    monthly_price: str | None = None
    action: ClassVar[Literal["create"]] = "create"


@dataclass(frozen=True)
class Update:
    """Change the managed fields that differ; `changes` lists them old -> new."""

    kind: str
    key: str
    step: str
    position: Position
    sid: str | None
    changes: tuple[FieldChange, ...]
    #: Every managed field's desired value: an update sends them all, so a nested API value
    #: (an E911 location, a room's access codes) is written whole, never half.
    values: Mapping[str, Any] = field(default_factory=dict)
    action: ClassVar[Literal["update"]] = "update"


@dataclass(frozen=True)
class NoOp:
    """Considered, and live state already matches."""

    kind: str
    key: str
    step: str
    position: Position
    sid: str | None
    action: ClassVar[Literal["noop"]] = "noop"


@dataclass(frozen=True)
class Release:
    """Release a number (delete any other object) the plan says must be absent (never
    implicit: `ensure: absent`)."""

    kind: str
    key: str
    step: str
    position: Position
    sid: str
    #: The item's plan values: they name the endpoint (app APIs) and parent the request needs.
    values: Mapping[str, Any] = field(default_factory=dict)
    action: ClassVar[Literal["release"]] = "release"


@dataclass(frozen=True)
class RentByCriteria:
    """Rent `count` numbers matching `criteria`; each gets `template`'s values."""

    kind: str
    key: str
    step: str
    position: Position
    count: int
    criteria: Mapping[str, Any]
    template: Mapping[str, Any]
    available: int | None = None
    monthly_price: str | None = None
    action: ClassVar[Literal["rent"]] = "rent"


@dataclass(frozen=True)
class Blocked:
    """What the plan asks cannot be done as asked (e.g. adopt a number not on the account)."""

    kind: str
    key: str
    step: str
    position: Position
    reason: str
    hint: str | None = None
    #: What the apply must be allowed to do for the change to go ahead (a send, a sub-partner
    #: made); None when no option unblocks it. The CLI names the flag that gives it.
    needs: Allowance | None = None
    action: ClassVar[Literal["blocked"]] = "blocked"


Change = Create | Update | NoOp | Release | RentByCriteria | Blocked
ACTIONS = ("create", "rent", "update", "release", "noop", "blocked")


def change_as_dict(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": change.action,
        "kind": change.kind,
        "key": change.key,
        "step": change.step,
        "file": change.position.file,
        "line": change.position.line,
    }
    match change:
        case Create():
            out["values"] = dict(change.values)
            out["monthly_price"] = change.monthly_price
        case Update():
            out["sid"] = change.sid
            out["changes"] = [
                {"field": c.field, "old": c.old, "new": c.new} for c in change.changes
            ]
            out["values"] = dict(change.values)
        case NoOp():
            out["sid"] = change.sid
        case Release():
            out["sid"] = change.sid
            out["values"] = dict(change.values)
        case RentByCriteria():
            out.update(
                count=change.count,
                criteria=dict(change.criteria),
                template=dict(change.template),
                available=change.available,
                monthly_price=change.monthly_price,
            )
        case Blocked():
            out.update(reason=change.reason, hint=change.hint)
            if change.needs is not None:  # written only when set: other changes as before
                out["needs"] = change.needs
        case _:
            assert_never(change)
    return out


@dataclass(frozen=True, repr=False)
class Changeset:
    """Everything a plan would do, in dependency order, and what it was planned against."""

    plan_path: str
    plan_digest: str
    target: str
    changes: tuple[Change, ...]
    created_at: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short: a repr of every change (100,000 of them) cost ~1 s each time something asked
        # for one, and `asyncio.run` returning a changeset did so twice.
        return f"<Changeset {self.plan_path} on {self.target}: {len(self.changes)} change(s)>"

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def has_changes(self) -> bool:
        return any(c.action not in ("noop",) for c in self.changes)

    @property
    def blocked(self) -> list[Blocked]:
        return [c for c in self.changes if isinstance(c, Blocked)]

    def counts(self) -> dict[str, dict[str, int]]:
        """{step: {action: number of items}}; a rent-by-criteria counts its `count`."""
        table: dict[str, Counter[str]] = {}
        for change in self.changes:
            weight = change.count if isinstance(change, RentByCriteria) else 1
            table.setdefault(change.step, Counter())[change.action] += weight
        return {step: dict(counter) for step, counter in table.items()}

    def monthly_cost(self) -> float:
        total = 0.0
        for change in self.changes:
            if isinstance(change, Create) and change.monthly_price:
                total += float(change.monthly_price)
            if isinstance(change, RentByCriteria) and change.monthly_price:
                total += float(change.monthly_price) * change.count
        return round(total, 2)

    def header(self) -> dict[str, Any]:
        """Everything but the changes themselves: plan, target, counts per step, cost."""
        return {
            "schema_version": CHANGESET_SCHEMA_VERSION,
            "plan": self.plan_path,
            "plan_digest": self.plan_digest,
            "target": self.target,
            "created_at": self.created_at,
            "summary": self.counts(),
            "monthly_cost": self.monthly_cost(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.header(), "changes": [change_as_dict(c) for c in self.changes]}


class UnreadableChange(ValueError):
    """A saved or journaled change this bulkx cannot rebuild (damaged, or of an unknown
    action): never a change to skip quietly. Its callers say where it was."""


def change_from_dict(data: Mapping[str, Any]) -> Change:
    """The inverse of `change_as_dict`: a saved or journaled change, rebuilt; one that cannot
    be is an `UnreadableChange`."""
    try:
        return _rebuilt(data)
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableChange(f"{type(error).__name__}: {error}") from None


def _rebuilt(data: Mapping[str, Any]) -> Change:
    common = {
        "kind": data["kind"],
        "key": data["key"],
        "step": data["step"],
        "position": Position(data["file"], int(data["line"])),
    }
    action = data["action"]
    if action == "create":
        return Create(values=data["values"], monthly_price=data.get("monthly_price"), **common)
    if action == "update":
        changes = tuple(FieldChange(c["field"], c["old"], c["new"]) for c in data["changes"])
        return Update(
            sid=data.get("sid"), changes=changes, values=data.get("values") or {}, **common
        )
    if action == "release":
        return Release(sid=data["sid"], values=data.get("values") or {}, **common)
    if action == "rent":
        return RentByCriteria(
            count=int(data["count"]),
            criteria=data["criteria"],
            template=data["template"],
            available=data.get("available"),
            monthly_price=data.get("monthly_price"),
            **common,
        )
    if action == "blocked":
        needs = _allowance(data.get("needs"))
        return Blocked(reason=data["reason"], hint=data.get("hint"), needs=needs, **common)
    if action == "noop":
        return NoOp(sid=data.get("sid"), **common)
    raise ValueError(f"unknown change action {action!r}")


def _allowance(saved: Any) -> Allowance | None:
    """A saved blocked change's `needs`: None when it holds none (saved before changes named
    it) or one this version does not know (its hint still says what it needs, in words)."""
    for allowance in ALLOWANCES:
        if saved == allowance:
            return allowance
    return None
