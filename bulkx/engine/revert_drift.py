"""Before a revert plan is written: live state compared with what the run set.

The comparison is `bulkx plan` itself: what the run set is written as a plan (`after_plan_text`),
live state is read for it by key in bulk (`read_live_state`, as plan and apply read), and the
diff says which items differ. An item that is not "nothing to do" was changed since the run by
someone else: it has drifted, and the revert leaves it alone unless forced.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from bulkx.diff.changes import NoOp
from bulkx.diff.engine import diff
from bulkx.diff.read import ApiReader, in_filter, read_live_state
from bulkx.engine.revert import Revert, RevertItem, build_revert
from bulkx.engine.revert_text import after_plan_text, revert_plan_text
from bulkx.errors import BulkxError
from bulkx.journal.view import JournalView
from bulkx.kinds import KINDS
from bulkx.kinds.model import granted_permissions
from bulkx.plan.model import ValidPlan

#: Sids per `in (...)` filter when rented numbers are looked up.
_IN_CHUNK = 200


class RevertPlanInvalid(BulkxError):
    """A plan the revert wrote does not load: a bug in bulkx, never the user's input."""


def load_plan_text(text: str, name: str) -> ValidPlan:
    """`text` loaded and validated as a plan file named `name` (in a private directory)."""
    from bulkx.plan.validate import load_valid

    with tempfile.TemporaryDirectory(prefix="bulkx-revert-") as folder:
        path = Path(folder) / name
        path.write_text(text)
        plan, problems = load_valid(path)
    errors = [p for p in problems if p.severity == "error"]
    if plan is None:
        shown = "; ".join(str(p) for p in errors[:5])
        raise RevertPlanInvalid(f"the {name} plan the revert made does not validate: {shown}")
    return plan


async def resolve_rents(reader: ApiReader, revert: Revert) -> list[RevertItem]:
    """Number each rent by criteria by its sid (the journal keeps only the sid); the rents
    whose number is no longer on the account, which have drifted."""
    rented = [item for item in revert.items if item.rented_sid]
    if not rented:
        return []
    did = KINDS["did"]
    sids = sorted({str(item.rented_sid) for item in rented})
    numbers: dict[str, str] = {}
    for start in range(0, len(sids), _IN_CHUNK):
        part = sids[start : start + _IN_CHUNK]
        found = await reader.list_all("core", did.path, filter=in_filter(did.sid_field, part))
        numbers.update((str(o[did.sid_field]), str(o[did.key_field])) for o in found)
    gone = []
    for item in rented:
        number = numbers.get(str(item.rented_sid))
        if number is None:
            gone.append(item)
            continue
        item.key = number
        item.values = {"phonenumber": number, "ensure": "absent"}
        item.after = {"phonenumber": number, **item.after}
    return gone


async def find_drift(reader: ApiReader, items: Sequence[RevertItem]) -> list[RevertItem]:
    """The items live state no longer holds as the run left them."""
    if not items:
        return []
    plan = load_plan_text(after_plan_text(items), "after-run.yaml")
    live = await read_live_state(reader, plan)
    every_permission = granted_permissions(allow_partners=True, allow_send=True, allow_calls=True)
    changes = diff(plan, live, allow_release=False, confirmed=every_permission)
    moved = {(c.step, c.kind, c.key) for c in changes if not isinstance(c, NoOp)}
    return [item for item in items if (item.step, item.kind, item.key) in moved]


async def make_revert(
    view: JournalView, reader: ApiReader, *, target: str, force: bool = False
) -> Revert:
    """The revert of a run: from its journal, checked against live state (`reader`). Drifted
    items are left out unless `force`; either way they are listed in `Revert.drifted`."""
    revert = build_revert(view, target=target)
    gone = {id(item) for item in await resolve_rents(reader, revert)}
    drifted = [item for item in revert.items if id(item) in gone]
    drifted += await find_drift(reader, [i for i in revert.items if id(i) not in gone])
    revert.drifted = drifted
    revert.forced = force
    left_out = {id(item) for item in drifted} if not force else gone
    revert.items = [item for item in revert.items if id(item) not in left_out]
    return revert


def checked_text(revert: Revert, *, made_at: str, apply_hint: str) -> str:
    """The revert plan's text, once it has loaded and validated as any plan would."""
    text = revert_plan_text(revert, made_at=made_at, apply_hint=apply_hint)
    load_plan_text(text, "undo.yaml")
    return text
