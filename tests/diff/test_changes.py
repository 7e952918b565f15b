"""A change's `action` belongs to its type: saved changesets and journals hold it, so it is
written as before and no instance can say otherwise."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bulkx.diff.changes import (
    ACTIONS,
    Blocked,
    Change,
    Create,
    FieldChange,
    NoOp,
    Release,
    RentByCriteria,
    UnreadableChange,
    Update,
    change_as_dict,
    change_from_dict,
)
from bulkx.plan.model import Position

AT = Position("plan.yaml", 7)
HEAD = {"kind": "did", "key": "15165550100", "step": "numbers", "file": "plan.yaml", "line": 7}

#: Each change type, and what a saved changeset or a journal holds for it.
SAVED: list[tuple[Change, dict[str, Any]]] = [
    (
        Create("did", "15165550100", "numbers", AT, {"name": "a"}, monthly_price="1.00"),
        {"action": "create", **HEAD, "values": {"name": "a"}, "monthly_price": "1.00"},
    ),
    (
        Update(
            "did",
            "15165550100",
            "numbers",
            AT,
            "sid-1",
            (FieldChange("name", "a", "b"),),
            {"name": "b"},
        ),
        {
            "action": "update",
            **HEAD,
            "sid": "sid-1",
            "changes": [{"field": "name", "old": "a", "new": "b"}],
            "values": {"name": "b"},
        },
    ),
    (
        NoOp("did", "15165550100", "numbers", AT, "sid-1"),
        {"action": "noop", **HEAD, "sid": "sid-1"},
    ),
    (
        Release("did", "15165550100", "numbers", AT, "sid-1", {"name": "a"}),
        {"action": "release", **HEAD, "sid": "sid-1", "values": {"name": "a"}},
    ),
    (
        RentByCriteria("did", "15165550100", "numbers", AT, 2, {"npa": "516"}, {"name": "a"}, 9),
        {
            "action": "rent",
            **HEAD,
            "count": 2,
            "criteria": {"npa": "516"},
            "template": {"name": "a"},
            "available": 9,
            "monthly_price": None,
        },
    ),
    (
        Blocked("did", "15165550100", "numbers", AT, "not on the account", "adopt it first"),
        {"action": "blocked", **HEAD, "reason": "not on the account", "hint": "adopt it first"},
    ),
]


@pytest.mark.parametrize(("change", "saved"), SAVED, ids=[s["action"] for _, s in SAVED])
def test_a_change_is_saved_as_before_and_read_back_the_same(
    change: Change, saved: dict[str, Any]
) -> None:
    assert change_as_dict(change) == saved
    assert next(iter(change_as_dict(change))) == "action"
    assert change_from_dict(saved) == change


def test_every_action_is_one_change_type() -> None:
    assert sorted(type(c).action for c, _ in SAVED) == sorted(ACTIONS)


@pytest.mark.parametrize(("change", "saved"), SAVED, ids=[s["action"] for _, s in SAVED])
def test_no_instance_can_carry_another_action(change: Change, saved: dict[str, Any]) -> None:
    assert "action" not in {f.name for f in dataclasses.fields(change)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.action = "release"  # type: ignore[misc]
    with pytest.raises(TypeError, match="action"):
        dataclasses.replace(change, action="release")  # type: ignore[call-arg]
    assert change.action == saved["action"]


def test_a_blocked_change_saves_the_permission_it_needs_and_older_ones_read_without() -> None:
    needs = Blocked("sms.message", "hi-1", "texts", AT, "the plan would send it", "ask", "send")
    saved = change_as_dict(needs)
    assert saved["needs"] == "send"
    assert change_from_dict(saved) == needs
    # Saved before changes named it, or by a version that knows more: its hint still says.
    for older in ({k: v for k, v in saved.items() if k != "needs"}, {**saved, "needs": "fly"}):
        assert change_from_dict(older) == dataclasses.replace(needs, needs=None)


def test_an_unknown_action_is_an_error_not_a_quiet_no_op() -> None:
    saved = {"action": "frobnicate", "kind": "did", "key": "1", "step": "s", "file": "p", "line": 1}
    with pytest.raises(UnreadableChange, match="unknown change action 'frobnicate'"):
        change_from_dict(saved)
    with pytest.raises(UnreadableChange, match="KeyError: 'reason'"):
        change_from_dict({**saved, "action": "blocked"})
