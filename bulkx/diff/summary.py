"""What a changeset amounts to, counted chunk by chunk: the figures apply shows and asks about
(counts per step and action, the cost of new rentals, the first blocked and drifted changes,
the number of operations) without holding the changes themselves.

Counted in the order the changes come, so its counts and cost are exactly `Changeset`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkx.diff.changes import (
    CHANGESET_SCHEMA_VERSION,
    Blocked,
    Change,
    Changeset,
    Create,
    RentByCriteria,
)

#: Blocked and drifted changes named one by one; beyond these they are counted.
SHOWN = 20


@dataclass(frozen=True)
class Named:
    """A change as a summary names it: `kind key`, and why (blocked) or what (drifted)."""

    kind: str
    key: str
    reason: str = ""
    action: str = ""


@dataclass
class ChangeSummary:
    #: step -> action -> items (a rent by criteria counts its numbers), steps as they came.
    steps: dict[str, dict[str, int]] = field(default_factory=dict)
    #: The monthly price of the new rentals, summed as they came (rounded when shown).
    cost: float = 0.0
    blocked: int = 0
    first_blocked: list[Named] = field(default_factory=list)
    #: Saved changes (`bulkx plan --save`) whose live state moved since: not applied.
    drifted: int = 0
    first_drifted: list[Named] = field(default_factory=list)
    #: Operations journaled for the changes (a rent by criteria is one per number).
    ops: int = 0

    def add(self, changes: Iterable[Change]) -> None:
        for change in changes:
            weight = change.count if isinstance(change, RentByCriteria) else 1
            by_action = self.steps.setdefault(change.step, {})
            by_action[change.action] = by_action.get(change.action, 0) + weight
            if isinstance(change, Create) and change.monthly_price:
                self.cost += float(change.monthly_price)
            if isinstance(change, RentByCriteria) and change.monthly_price:
                self.cost += float(change.monthly_price) * change.count
            if isinstance(change, Blocked):
                self.blocked += 1
                if len(self.first_blocked) < SHOWN:
                    self.first_blocked.append(Named(change.kind, change.key, change.reason))

    def add_drifted(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.drifted += 1
            if len(self.first_drifted) < SHOWN:
                self.first_drifted.append(Named(change.kind, change.key, action=change.action))

    def counts(self) -> dict[str, dict[str, int]]:
        """As `Changeset.counts`: {step: {action: number of items}}."""
        return {step: dict(by_action) for step, by_action in self.steps.items()}

    def monthly_cost(self) -> float:
        return round(self.cost, 2)

    def header(
        self, plan_path: str, plan_digest: str, target: str, created_at: str
    ) -> dict[str, Any]:
        """As `Changeset.header()`, with the number of drifted changes: what a journal keeps
        of its changeset (each change is its operation's)."""
        return {
            "schema_version": CHANGESET_SCHEMA_VERSION,
            "plan": plan_path,
            "plan_digest": plan_digest,
            "target": target,
            "created_at": created_at,
            "summary": self.counts(),
            "monthly_cost": self.monthly_cost(),
            "drifted": self.drifted,
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON, journaled with each chunk: a preparation resumed goes on counting."""
        return {
            "steps": self.steps,
            "cost": self.cost,
            "blocked": self.blocked,
            "first_blocked": [vars(n) for n in self.first_blocked],
            "drifted": self.drifted,
            "first_drifted": [vars(n) for n in self.first_drifted],
            "ops": self.ops,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeSummary:
        return cls(
            steps={str(s): dict(a) for s, a in (data.get("steps") or {}).items()},
            cost=float(data.get("cost", 0.0)),
            blocked=int(data.get("blocked", 0)),
            first_blocked=[Named(**n) for n in data.get("first_blocked", [])],
            drifted=int(data.get("drifted", 0)),
            first_drifted=[Named(**n) for n in data.get("first_drifted", [])],
            ops=int(data.get("ops", 0)),
        )

    @classmethod
    def of(cls, changeset: Changeset, drifted: Iterable[Change], ops: int) -> ChangeSummary:
        """The summary of a changeset held whole (a plan prepared in one piece)."""
        summary = cls(ops=ops)
        summary.add(changeset.changes)
        summary.add_drifted(drifted)
        return summary
