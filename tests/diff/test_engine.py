"""The diff engine on plain data: no I/O, so every rule is checked exactly."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkx.diff.changes import (
    Blocked,
    Changeset,
    Create,
    FieldChange,
    NoOp,
    Release,
    RentByCriteria,
    Update,
)
from bulkx.diff.engine import diff, kind_order
from bulkx.diff.state import LiveObject, LiveState
from bulkx.kinds import KINDS
from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Position, Step, ValidPlan


def step(kind: str, rows: list[dict[str, Any]], name: str | None = None, **extra: Any) -> Step:
    frame = (
        pl.DataFrame(
            [{**r, SOURCE_FILE: "plan.yaml", SOURCE_LINE: i + 2} for i, r in enumerate(rows)],
            infer_schema_length=None,
        )
        if rows
        else pl.DataFrame({SOURCE_FILE: [], SOURCE_LINE: []})
    )
    return Step(kind, name or f"{kind}#1", Position("plan.yaml", 1), frame, **extra)


def plan(*steps: Step) -> ValidPlan:
    """A plan of steps whose frames the test wrote normalised, as validation would leave them."""
    return ValidPlan("plan.yaml", steps, "digest")


def live_with(*entries: tuple[str, str, dict[str, Any]]) -> LiveState:
    state = LiveState()
    for kind_name, sid, values in entries:
        kind = KINDS[kind_name]
        state.add(kind, kind.natural_key(values), LiveObject(sid, values))
    return state


def test_missing_numbers_are_rented_priced_from_the_inventory() -> None:
    live = LiveState(available={"15162065575": "0.6"})
    changes = diff(plan(step("did", [{"phonenumber": "15162065575", "name": "desk"}])), live)
    assert changes == [
        Create(
            "did",
            "15162065575",
            "did#1",
            Position("plan.yaml", 2),
            {"phonenumber": "15162065575", "name": "desk"},
            monthly_price="0.6",
        )
    ]


def test_adopting_a_number_not_on_the_account_is_blocked_never_rented() -> None:
    changes = diff(
        plan(step("did", [{"phonenumber": "15162065575", "ensure": "adopted"}])), LiveState()
    )
    assert isinstance(changes[0], Blocked)
    assert "never rents" in changes[0].reason


def test_release_only_with_allow_release() -> None:
    desired = plan(step("did", [{"phonenumber": "15162065575", "ensure": "absent"}]))
    live = live_with(("did", "sid-1", {"phonenumber": "15162065575"}))
    blocked = diff(desired, live)[0]
    assert isinstance(blocked, Blocked)
    assert blocked.reason == "ensure: absent would release this number"
    assert blocked.hint == "what is released cannot be put back through the API"
    assert blocked.needs == "release"  # the CLI names the flag (--allow-release)
    released = diff(desired, live, allow_release=True)[0]
    assert isinstance(released, Release)
    assert released.sid == "sid-1"
    assert isinstance(diff(desired, LiveState(), allow_release=True)[0], NoOp)


def test_only_fields_the_plan_names_are_compared() -> None:
    live = live_with(
        ("did", "s1", {"phonenumber": "15162065575", "name": "old", "callback_url": "http://x"})
    )
    changes = diff(plan(step("did", [{"phonenumber": "15162065575", "name": "new"}])), live)
    assert changes == [
        Update(
            "did",
            "15162065575",
            "did#1",
            Position("plan.yaml", 2),
            "s1",
            (FieldChange("name", "old", "new"),),
            values={"phonenumber": "15162065575", "name": "new"},
        )
    ]


def test_references_are_compared_by_natural_key() -> None:
    live = live_with(
        ("trunk_group", "tg-a", {"name": "acme"}),
        ("trunk_group", "tg-b", {"name": "other"}),
        ("did", "d1", {"phonenumber": "15162065575", "trunk_group": "tg-a"}),
    )
    same = diff(plan(step("did", [{"phonenumber": "15162065575", "trunk_group": "acme"}])), live)
    assert isinstance(same[0], NoOp)
    moved = diff(plan(step("did", [{"phonenumber": "15162065575", "trunk_group": "other"}])), live)
    assert isinstance(moved[0], Update)
    assert moved[0].changes == (FieldChange("trunk_group", "acme", "other"),)


def test_blank_and_null_are_the_same_and_numbers_compare_by_meaning() -> None:
    live = live_with(
        ("trunk_group", "tg", {"name": "acme", "hard_failure_threshold": 3, "routing_type": None})
    )
    desired = plan(
        step("trunk_group", [{"name": "acme", "hard_failure_threshold": 3, "routing_type": ""}])
    )
    assert isinstance(diff(desired, live)[0], NoOp)


def test_sub_records_follow_their_parent_or_are_blocked() -> None:
    e911 = {
        "phonenumber": "15162065575",
        "city": "Hempstead",
        "state": "NY",
        "zip": "11550",
        "address_1": "1 Main St",
    }
    orphan = diff(plan(step("did_emergency", [e911])), LiveState())
    assert isinstance(orphan[0], Blocked)
    with_parent = diff(
        plan(step("did", [{"phonenumber": "15162065575"}]), step("did_emergency", [e911])),
        LiveState(),
    )
    assert isinstance(with_parent[0], Create)
    assert isinstance(with_parent[1], Update)
    assert {c.field for c in with_parent[1].changes} == {"city", "state", "zip", "address_1"}


def test_fields_fixed_at_creation_are_blocked_not_replaced() -> None:
    live = live_with(("endpoint", "e1", {"name": "pbx", "type": "third_party"}))
    changes = diff(plan(step("endpoint", [{"name": "pbx", "type": "flexml"}])), live)
    assert isinstance(changes[0], Blocked)
    assert "type" in changes[0].reason


def test_dependencies_come_first_whatever_the_plan_order() -> None:
    order = kind_order(["did_emergency", "did", "trunk", "trunk_group", "endpoint"])
    assert order.index("trunk_group") < order.index("did") < order.index("did_emergency")
    assert order.index("endpoint") < order.index("trunk")
    changes = diff(
        plan(
            step("did", [{"phonenumber": "15162065575", "trunk_group": "acme"}]),
            step("trunk_group", [{"name": "acme"}]),
        ),
        LiveState(),
    )
    assert [c.kind for c in changes] == ["trunk_group", "did"]


def test_rent_by_criteria_and_the_changeset_summary() -> None:
    rent = step(
        "did",
        [],
        name="rent-516",
        count=50,
        criteria={"npa": "516"},
        template={"trunk_group": "acme"},
    )
    live = LiveState(criteria={"rent-516": (900, "0.6")})
    changes = diff(plan(rent), live)
    assert changes == [
        RentByCriteria(
            "did",
            "npa=516",
            "rent-516",
            Position("plan.yaml", 1),
            50,
            {"npa": "516"},
            {"trunk_group": "acme"},
            available=900,
            monthly_price="0.6",
        )
    ]
    changeset = Changeset("plan.yaml", "digest", "sandbox", tuple(changes))
    assert changeset.counts() == {"rent-516": {"rent": 50}}
    assert changeset.monthly_cost() == 30.0
    assert changeset.has_changes
    json.dumps(changeset.as_dict())


numbers = st.integers(min_value=12_012_000_000, max_value=19_899_999_999).map(str)
did_rows = st.lists(
    st.fixed_dictionaries(
        {"phonenumber": numbers},
        optional={
            "name": st.text(max_size=20),
            "callback_url": st.sampled_from(["http://a.example", "https://b.example", None]),
            "string_key_1": st.text(max_size=5),
        },
    ),
    max_size=30,
    unique_by=lambda r: r["phonenumber"],
)


@settings(max_examples=60, deadline=None)
@given(did_rows)
def test_diffing_a_plan_against_itself_is_all_noop(rows: list[dict[str, Any]]) -> None:
    desired = plan(step("did", rows))
    live = LiveState()
    for i, item in enumerate(desired.steps[0].items()):
        live.add(
            KINDS["did"], KINDS["did"].natural_key(item.values), LiveObject(f"s{i}", item.values)
        )
    assert all(isinstance(c, NoOp) for c in diff(desired, live))
