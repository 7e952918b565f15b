"""From a plan (or a saved changeset) to operations ready to run: the apply pipeline's front."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bulkx.api import CarrierX
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS
from bulkx.diff.changes import Change, Changeset, change_as_dict, change_from_dict
from bulkx.diff.engine import diff
from bulkx.diff.read import ReadProgress, SentBefore, read_live_state
from bulkx.diff.state import LiveState
from bulkx.engine.journal_ledger import journal_root
from bulkx.engine.operations import Operation, operations, referenced
from bulkx.engine.read_policy import for_run
from bulkx.errors import PlanError
from bulkx.journal.sent import earlier_sends
from bulkx.plan.model import Plan


@dataclass(frozen=True)
class Prepared:
    changeset: Changeset
    ops: list[Operation]
    #: Saved changes whose live state moved since they were planned: reported, not applied.
    drifted: list[Change]
    #: (kind, natural key) -> sid of every live object the operations name: all the live state
    #: the run needs to build its requests (its journal keeps them, so a resume reads none).
    refs: dict[tuple[str, str], str]


def is_saved_changeset(path: str) -> bool:
    return path.endswith(".json")


def read_saved(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PlanError(f"{path}: not a saved changeset ({error})") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise PlanError(f"{path}: not a saved changeset (bulkx plan --save writes them)")
    return document


def journal_sends(reader: CarrierX) -> SentBefore:
    """What the runs in this workspace sent to `reader`'s target, for the untraceable kinds."""
    return partial(earlier_sends, journal_root(), reader.target.label)


async def prepare(
    reader: CarrierX,
    plan: Plan,
    *,
    target: str,
    allow_release: bool,
    saved: Mapping[str, Any] | None = None,
    confirmed: frozenset[str] = frozenset(),
    rate: float | None = None,
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
    progress: ReadProgress | None = None,
) -> Prepared:
    """Read live state (under `rate`, stopping after `outage_after` seconds of nothing but
    errors), diff, and (for a saved changeset) keep only what still holds."""
    policed = for_run(reader, rate=rate, outage_after=outage_after)
    live = await read_live_state(
        policed, plan, sent_before=journal_sends(reader), progress=progress
    )
    changes = diff(plan, live, allow_release=allow_release, confirmed=confirmed)
    drifted: list[Change] = []
    if saved is not None:
        if saved.get("plan_digest") != plan.digest:
            raise PlanError(
                f"the plan changed since the changeset was saved ({saved.get('plan')});"
                " run `bulkx plan --save` again"
            )
        now = {(c.step, c.kind, c.key): change_as_dict(c) for c in changes}
        kept: list[Change] = []
        for item in saved.get("changes", []):
            planned = change_from_dict(item)
            current = now.get((planned.step, planned.kind, planned.key))
            comparable = {k: v for k, v in item.items() if k != "available"}
            if (
                current is not None
                and {k: v for k, v in current.items() if k != "available"} == comparable
            ):
                kept.append(planned)
            elif planned.action not in ("noop", "blocked"):
                drifted.append(planned)
        changes = kept
    changeset = Changeset(
        plan.path, plan.digest, target, tuple(changes),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    ops = operations(changes, plan.digest)
    return Prepared(changeset, ops, drifted, live_refs(live, referenced(changes)))


def live_refs(live: LiveState, wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], str]:
    """The sids live state holds for the (kind -> natural keys) wanted."""
    found: dict[tuple[str, str], str] = {}
    for kind, keys in wanted.items():
        for key in keys:
            obj = live.get(kind, key)
            if obj is not None and obj.sid:
                found[(kind, key)] = obj.sid
    return found
