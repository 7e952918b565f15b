"""`bulkx plan PLAN -o html`: the audit page of a changeset, for a change ticket.

It shows the plan, target, time and options; items per step and action; the changes field by
field (old → new); the monthly cost of rentals; and the releases and sends, flagged. A large
step is collapsed and lists its first `PER_STEP` changes with the count of the rest, and the
listed changes take at most `LISTED_BYTES` of HTML (values cut at `MAX_VALUE`): 100,000 changes
stay a page of less than 2 MB, whatever their values hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from bulkx.audit.render import allowance_words, render_page, shown
from bulkx.diff.changes import (
    ACTIONS,
    Blocked,
    Change,
    Create,
    NoOp,
    Release,
    RentByCriteria,
    Update,
)
from bulkx.diff.spool import ChangesetLike
from bulkx.kinds import KINDS
from bulkx.kinds.model import Allowance

#: Changes listed per step; a step with more is collapsed, with the count of the rest.
PER_STEP = 50
#: What the listed changes may take of the page, in bytes of HTML (estimated as each is
#: chosen; past it, steps show their counts only).
LISTED_BYTES = 1_000_000
#: Steps shown one by one (a plan has a handful; past this, one line sums up the rest).
STEPS = 200
#: Releases and sends listed in the flagged section (all are counted).
FLAGGED = 500
#: A step with more changes than it lists starts collapsed.
OPEN_UP_TO = PER_STEP


@dataclass
class Row:
    """One change as the page lists it: `fields` are (name, old, new), None old for a new
    object; `note` says what the fields do not (a rent's count, why it is blocked)."""

    action: str
    kind: str
    key: str
    position: str
    fields: list[tuple[str, Any, Any]]
    note: str = ""
    flag: str = ""


@dataclass
class Step:
    name: str
    changes: int = 0
    unchanged: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def hidden(self) -> int:
        return self.changes - len(self.rows)

    @property
    def collapsed(self) -> bool:
        return self.changes > OPEN_UP_TO


def plan_page(
    changeset: ChangesetLike,
    options: Mapping[str, Any],
    allowances: Mapping[Allowance, str] | None = None,
) -> str:
    """The page; `allowances`: how it names what a blocked change needs to be allowed (the
    CLI gives its flags; `allowance_words`)."""
    return render_page("plan.html.j2", plan_context(changeset, options, allowances))


def plan_context(
    changeset: ChangesetLike,
    options: Mapping[str, Any],
    allowances: Mapping[Allowance, str] | None = None,
) -> dict[str, Any]:
    counts = changeset.counts()
    actions = [a for a in ACTIONS if any(a in by_action for by_action in counts.values())]
    totals = {a: sum(by_action.get(a, 0) for by_action in counts.values()) for a in actions}
    steps, flagged, flagged_total = _steps(changeset, allowance_words(allowances))
    more_steps = steps[STEPS:]
    rentals = sum(
        c.count if isinstance(c, RentByCriteria) else 1
        for c in changeset.changes
        if isinstance(c, Create | RentByCriteria) and (c.monthly_price or c.kind == "did")
    )
    return {
        "title": f"bulkx plan: {changeset.plan_path}",
        "plan": changeset.plan_path,
        "digest": changeset.plan_digest,
        "target": changeset.target,
        "created_at": changeset.created_at,
        "options": [(name, value) for name, value in options.items() if value not in (None, "")],
        "actions": actions,
        "counts": list(counts.items())[:STEPS],
        "totals": totals,
        "steps": steps[:STEPS],
        "more_steps": len(more_steps),
        "more_steps_changes": sum(s.changes + s.unchanged for s in more_steps),
        "listed": sum(len(s.rows) for s in steps),
        "changes": sum(s.changes for s in steps),
        "monthly_cost": changeset.monthly_cost(),
        "rentals": rentals,
        "flagged": flagged,
        "flagged_total": flagged_total,
    }


def _steps(
    changeset: ChangesetLike, words: Mapping[Allowance, str]
) -> tuple[list[Step], list[Row], int]:
    """The steps in plan order with the rows they list; the flagged rows and their count."""
    steps: dict[str, Step] = {}
    flagged: list[Row] = []
    flagged_total = 0
    budget = _Budget(LISTED_BYTES)
    for change in changeset.changes:
        step = steps.setdefault(change.step, Step(change.step))
        if isinstance(change, NoOp):
            step.unchanged += 1
            continue
        step.changes += 1
        flag = _flag(change)
        row = _row(change, flag, words) if flag or len(step.rows) < PER_STEP else None
        if flag:
            flagged_total += 1
            if len(flagged) < FLAGGED and row is not None and budget.take(row):
                flagged.append(row)
        listable = len(step.rows) < PER_STEP and len(steps) <= STEPS and budget.left
        if listable and row is not None and budget.take(row):
            step.rows.append(row)
    return list(steps.values()), flagged, flagged_total


class _Budget:
    """Bytes of HTML the listed rows may still take; once one does not fit, none more is
    listed (what is listed stays the first changes of each step)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def take(self, row: Row) -> bool:
        cost = _html_size(row)
        if cost > self.left:
            self.left = 0
            return False
        self.left -= cost
        return True


def _html_size(row: Row) -> int:
    """About what a row takes in the page: its escaped text and the markup around it."""
    texts = [row.kind, row.key, row.position, row.note]
    for name, old, new in row.fields:
        texts += [name, shown(old), shown(new)]
    return 400 + 160 * len(row.fields) + sum(len(escape(shown(text))) for text in texts)


def _flag(change: Change) -> str:
    """Why a change deserves a second look: it cannot be undone."""
    if isinstance(change, Release):
        return "release" if change.kind == "did" else "delete"
    kind = KINDS.get(change.kind)
    if kind is not None and kind.sends and isinstance(change, Create):
        return "send"
    return ""


def _row(change: Change, flag: str, words: Mapping[Allowance, str]) -> Row:
    where = f"{change.position.file}:{change.position.line}"
    row = Row(change.action, change.kind, change.key, where, [], flag=flag)
    match change:
        case Update():
            row.fields = [(c.field, c.old, c.new) for c in change.changes]
        case Create():
            row.fields = [(name, None, value) for name, value in change.values.items()]
            if change.monthly_price:
                row.note = f"${change.monthly_price}/month"
        case RentByCriteria():
            row.fields = [(name, None, value) for name, value in change.template.items()]
            available = "" if change.available is None else f", {change.available} available"
            price = f", ${change.monthly_price}/month each" if change.monthly_price else ""
            row.note = f"rent {change.count} number(s) matching {change.key}{available}{price}"
        case Release():
            row.note = f"sid {change.sid}: not reversible"
        case Blocked():
            row.note = change.reason + (f" (hint: {change.hint})" if change.hint else "")
            row.note += f" (needs: {words[change.needs]})" if change.needs else ""
        case NoOp():
            pass
    return row
