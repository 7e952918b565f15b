"""A Jepsen-style checker: what the plan asked for, what the journal says, what the sandbox holds.

Every item the plan asks for ends in exactly one class:

- ok: the journal has it succeeded and the sandbox holds its effect exactly once;
- recovered: the same, for an item whose outcome was unknown at some point (a lost answer, a
  crash while in flight) and that reconciliation settled;
- lost: the plan asked for it and the journal has no operation for it, or the journal has it
  succeeded but the sandbox does not hold its effect;
- duplicated: the sandbox holds its effect more than once (two numbers rented for one
  operation, two rooms of one name);
- unexpected: the sandbox holds an effect nobody asked for: an object of the workload's
  that matches no item, or the effect of an item the journal has as failed;
- unresolved: the journal never settled it (pending, in flight, unknown) or failed it
  honestly (a failure with no effect; under transient faults that is a bug too).

All but ok and recovered must be zero. Updates (E911) have no "duplicated": sending the
desired state twice is how they are reconciled, and the sandbox keeps one record either way.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.chaos.workload import Workload

CLASSES = ("ok", "recovered", "lost", "duplicated", "unexpected", "unresolved")
BAD = frozenset(CLASSES) - {"ok", "recovered"}
#: The attributes bulkx tags a rented number with (bulkx.engine.requests / bulkx.diff.state).
OP_TAG, STEP_TAG = "bulkx_op", "bulkx_step"


class Rows(Protocol):
    """The sandbox's store (or anything answering SQL the same way)."""

    def rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class JournalOp:
    op_key: str
    step: str
    kind: str
    key: str
    action: str
    state: str
    remote_sid: str | None
    #: It was unknown at some point: a lost answer or a crash while it was in flight.
    was_unknown: bool
    #: How many times it was sent.
    attempts: int


@dataclass
class Verdict:
    counts: Counter[str] = field(default_factory=Counter)
    #: class -> a few of the items in it, for the failure message
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, cls: str, item: str) -> None:
        self.counts[cls] += 1
        if cls in BAD:
            self.examples.setdefault(cls, [])
            if len(self.examples[cls]) < 5:
                self.examples[cls].append(item)

    @property
    def valid(self) -> bool:
        return not any(self.counts[c] for c in BAD)

    def row(self) -> dict[str, int]:
        return {c: self.counts[c] for c in CLASSES}

    def __str__(self) -> str:
        text = ", ".join(f"{c} {self.counts[c]}" for c in CLASSES)
        return text + "".join(f"\n  {c}: {', '.join(e)}" for c, e in self.examples.items())


def read_journal(db: Path) -> list[JournalOp]:
    """Every operation of a run, read-only, with whether it was ever unknown."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        unknown = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT op_id FROM transitions WHERE to_state = 'unknown'"
            )
        }
        return [
            JournalOp(key_, step, kind, key, action, state, sid, op_id in unknown, attempts)
            for op_id, key_, step, kind, key, action, state, sid, attempts in conn.execute(
                "SELECT op_id, op_key, step, kind, key, action, state, remote_sid, attempts"
                " FROM ops"
            )
        ]
    finally:
        conn.close()


def _objects(store: Rows, collection: str) -> list[dict[str, Any]]:
    return [
        {"_sid": sid, **json.loads(data)}
        for sid, data in store.rows(f"SELECT sid, data FROM t_{collection}")
    ]


def _settled(verdict: Verdict, item: str, op: JournalOp | None, present: int) -> None:
    """Classify one create-like item from its journal op and how often the sandbox holds it."""
    if op is None:
        verdict.add("unexpected" if present else "lost", item)
    elif op.state == "succeeded":
        if present == 0:
            verdict.add("lost", item)
        elif present > 1:
            verdict.add("duplicated", item)
        else:
            verdict.add("recovered" if op.was_unknown else "ok", item)
    elif op.state in ("failed", "skipped", "cancelled") and present:
        verdict.add("unexpected", f"{item} ({op.state} in the journal, present live)")
    else:
        verdict.add("unresolved", f"{item} ({op.state})")


def check(workload: Workload, ops: Iterable[JournalOp], store: Rows) -> Verdict:
    """Hold the journal and the sandbox to what `workload`'s plan asks for."""
    verdict = Verdict()
    mine = [op for op in ops if op.step.startswith(workload.prefix)]
    by_item = {(op.kind, op.key): op for op in mine}
    dids = _objects(store, "dids")
    _check_rents(verdict, workload, mine, dids)
    _check_creates(verdict, workload, by_item, store)
    _check_e911_updates(verdict, workload, by_item, dids, store)
    return verdict


def _check_rents(
    verdict: Verdict, workload: Workload, mine: list[JournalOp], dids: list[dict[str, Any]]
) -> None:
    """Rents: one number per operation, found by the operation tag it was rented with."""
    tagged = Counter(
        (d.get("attributes") or {}).get(OP_TAG)
        for d in dids
        if (d.get("attributes") or {}).get(STEP_TAG) == workload.rent_step
    )
    rent_ops = [op for op in mine if op.step == workload.rent_step]
    for op in rent_ops:
        _settled(verdict, f"rent {op.key}", op, tagged.pop(op.op_key, 0))
    for _ in range(workload.rents - len(rent_ops)):
        verdict.add("lost", f"rent #{len(rent_ops) + 1}.. (no journal operation)")
    for op_key, count in tagged.items():  # rented for the step by no operation of the journal
        for _ in range(count):
            verdict.add("unexpected", f"number tagged {op_key}")


def _check_creates(
    verdict: Verdict,
    workload: Workload,
    by_item: dict[tuple[str, str], JournalOp],
    store: Rows,
) -> None:
    """Creates, by natural key."""
    groups = Counter(g["name"] for g in _objects(store, "trunk_groups"))
    _settled(
        verdict,
        f"trunk_group {workload.trunk_group}",
        by_item.get(("trunk_group", workload.trunk_group)),
        groups[workload.trunk_group],
    )
    endpoints = [e for e in _objects(store, "endpoints") if e["name"] == workload.endpoint]
    _settled(
        verdict,
        f"endpoint {workload.endpoint}",
        by_item.get(("endpoint", workload.endpoint)),
        len(endpoints),
    )
    accounts = {e["_account_sid"] for e in endpoints if e.get("_account_sid")}
    rooms = Counter(
        r["name"]
        for r in _objects(store, "conf2_meeting_rooms")
        if r.get("account_sid") in accounts
    )
    for name in workload.rooms:
        room_op = by_item.get(("conference_v2.meeting_room", f"{workload.endpoint}/{name}"))
        _settled(verdict, f"room {name}", room_op, rooms.pop(name, 0))
    for name, count in rooms.items():
        for _ in range(count):
            verdict.add("unexpected", f"room {name}")


def _check_e911_updates(
    verdict: Verdict,
    workload: Workload,
    by_item: dict[tuple[str, str], JournalOp],
    dids: list[dict[str, Any]],
    store: Rows,
) -> None:
    """Updates: the sandbox's record equals what the plan asks for."""
    sid_of = {d["phonenumber"]: d["_sid"] for d in dids}
    records = {r["_sid"]: r for r in _objects(store, "did_emergency")}
    for number, address in workload.e911.items():
        update = by_item.get(("did_emergency", number))
        record = records.get(sid_of.get(number, ""), {})
        location = (record.get("locations") or [{}])[0]
        applied = (
            record.get("caller_name") == address.caller_name
            and record.get("enabled") is True
            and all(
                location.get(f) == getattr(address, f)
                for f in ("address_1", "city", "state", "zip")
            )
        )
        if update is None:
            verdict.add("lost", f"e911 {number} (no journal operation)")
        elif update.state == "succeeded":
            if applied:
                verdict.add("recovered" if update.was_unknown else "ok", f"e911 {number}")
            else:
                verdict.add("lost", f"e911 {number}")
        else:
            verdict.add("unresolved", f"e911 {number} ({update.state})")
