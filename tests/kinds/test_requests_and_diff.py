"""What the new kinds' definitions make the diff, the operations and the requests do (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bulkx.diff.changes import Blocked, Create, NoOp, Release, Update, change_from_dict
from bulkx.diff.changes import change_as_dict as as_dict
from bulkx.diff.engine import diff, kind_order
from bulkx.diff.state import LiveObject, LiveState
from bulkx.engine.operations import operations
from bulkx.engine.requests import (
    Request,
    Resolver,
    object_request,
    request_for,
    sid_from_lookup,
    sid_lookup_request,
)
from bulkx.kinds import KINDS
from bulkx.plan.model import Position, ValidPlan
from bulkx.plan.validate import load_valid

AT = Position("plan.yaml", 3)


def create(kind: str, **values: Any) -> Create:
    return Create(kind, KINDS[kind].natural_key(values), "s", AT, values)


def update(kind: str, sid: str | None, **values: Any) -> Update:
    return Update(kind, KINDS[kind].natural_key(values), "s", AT, sid, (), values)


def release(kind: str, sid: str, **values: Any) -> Release:
    return Release(kind, KINDS[kind].natural_key(values), "s", AT, sid, values)


def resolver(**sids: str) -> Resolver:
    """The test endpoints, plus `kind__key="sid"` pairs (`.` in kinds is `_DOT_`, `/` in keys
    `__`)."""
    found = Resolver()
    for endpoint in ("conf1", "conf2", "ivr", "relay"):
        found.remember("endpoint", endpoint, f"e-{endpoint}")
    for name, sid in sids.items():
        kind, key = name.split("__", 1)
        found.remember(kind.replace("_DOT_", "."), key.replace("__", "/"), sid)
    return found


def test_v1_room_is_created_under_its_subscriber_with_numeric_references() -> None:
    change = create(
        "conference.meeting_room",
        endpoint="conf1",
        description="weekly",
        subscriber="ana@example.com",
        did_group="main",
        host_code="1111",
    )
    sids = resolver(
        **{
            "conference_DOT_subscriber__conf1__ana@example.com": "s-9",
            "conference_DOT_did_group__conf1__main": "7",
        }
    )
    assert request_for(change, sids) == Request(
        "conference",
        "POST",
        "/subscribers/s-9/meetingRooms",
        {
            "description": "weekly",
            "primaryDidGroupId": 7,
            "keychain": [{"accessCode": "1111", "role": 1}],
        },
        "conf1",
    )


def test_v1_updates_are_partial_puts_and_deletes_name_the_endpoint() -> None:
    change = update("conference.did_group", "7", endpoint="conf1", name="main", call_flow_id=2)
    assert request_for(change, resolver()) == Request(
        "conference", "PUT", "/didGroups/7", {"callFlowId": 2}, "conf1"
    )
    gone = release("conference.meeting_room", "12", endpoint="conf1", description="weekly")
    assert request_for(gone, resolver()) == Request(
        "conference", "DELETE", "/meetingRooms/12", None, "conf1"
    )
    assert object_request(gone, resolver()) == Request(
        "conference", "GET", "/meetingRooms/12", None, "conf1"
    )


def test_a_release_keeps_its_values_through_a_journal() -> None:
    gone = release("mediator.binding", "b-1", endpoint="relay", name="support")
    assert change_from_dict(as_dict(gone)) == gone


def test_a_binding_sends_its_redirect_did_as_the_number() -> None:
    change = create(
        "mediator.binding",
        endpoint="relay",
        name="support",
        destination_did="16465550199",
        redirect_did="12025550100",
    )
    request = request_for(change, resolver())
    assert request is not None and request.body == {
        "name": "support",
        "destination_did": "16465550199",
        "redirect_did": "12025550100",
    }
    # ... yet it waits for that DID's routing in the same run.
    routed = update("did", "d-1", phonenumber="12025550100", trunk_group="relay-route")
    ops = operations([routed, change], "digest")
    assert ops[1].depends_on == (ops[0].op_key,)


def test_an_account_is_patched_by_its_sid_with_the_endpoint_credentials() -> None:
    change = update("flexml.account", "a-1", endpoint="ivr", url="https://x.example.com/")
    assert request_for(change, resolver()) == Request(
        "flexml", "PATCH", "/accounts/a-1", {"url": "https://x.example.com/"}, "ivr"
    )
    assert sid_lookup_request(change, resolver()) is None


def test_the_account_of_an_endpoint_made_in_the_same_run_is_found_by_listing() -> None:
    change = update("conference_v2.account", None, endpoint="conf2", name="Sales")
    lookup = sid_lookup_request(change, resolver())
    assert lookup == Request("conference_v2", "GET", "/accounts", None, "conf2")
    assert sid_from_lookup(change, {"items": [{"account_sid": "a-7"}]}) == "a-7"
    assert sid_from_lookup(change, {"items": []}) is None
    known = resolver(**{"conference_v2_DOT_account__conf2": "a-7"})
    assert sid_lookup_request(change, known) is None
    assert request_for(change, known) == Request(
        "conference_v2", "PATCH", "/accounts/a-7", {"name": "Sales"}, "conf2"
    )


def test_releases_go_last_dependants_first() -> None:
    group = release("conference.did_group", "7", endpoint="conf1", name="main")
    room = release(
        "conference.meeting_room", "12", endpoint="conf1", description="weekly", did_group="main"
    )
    made = create("conference.subscriber", endpoint="conf1", email="bo@example.com")
    ops = operations([group, made, room], "digest")
    assert [(op.kind, op.action) for op in ops] == [
        ("conference.subscriber", "create"),
        ("conference.meeting_room", "release"),
        ("conference.did_group", "release"),
    ]
    assert ops[2].depends_on == (ops[1].op_key,)


def _plan(tmp_path: Path, text: str) -> ValidPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    plan, diagnostics = load_valid(path)
    assert plan is not None, diagnostics
    return plan


def test_read_only_view_missing_is_blocked_unless_the_plan_routes_its_number(
    tmp_path: Path,
) -> None:
    plan = _plan(
        tmp_path,
        """
steps:
  - kind: did
    items: [{phonenumber: "12025550100", trunk_group: relay-route}]
  - kind: mediator.did
    items: [{endpoint: relay, phonenumber: "12025550100"},
            {endpoint: relay, phonenumber: "12025550101"}]
""",
    )
    live = LiveState()
    live.add(KINDS["did"], "12025550100", LiveObject("d-1", {"phonenumber": "12025550100"}))
    routing, routed, stray = diff(plan, live)
    assert isinstance(routing, Update) and isinstance(routed, NoOp)
    assert isinstance(stray, Blocked) and "cannot create" in stray.reason
    assert stray.hint == KINDS["mediator.did"].creation.missing_hint


def test_an_account_needs_its_endpoint(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        """
steps:
  - kind: flexml.account
    items: [{endpoint: ivr, url: "https://ivr.example.com/"}]
""",
    )
    (change,) = diff(plan, LiveState())
    assert isinstance(change, Blocked) and "endpoint ivr is not on the account" in change.reason


def test_deleting_needs_allow_release_and_only_the_key(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        """
steps:
  - kind: accesscontrol_rule
    items: [{name: no-premium, ensure: absent}]
""",
    )
    live = LiveState()
    live.add(KINDS["accesscontrol_rule"], "no-premium", LiveObject("r-1", {"name": "no-premium"}))
    (blocked,) = diff(plan, live)
    assert isinstance(blocked, Blocked)
    assert blocked.reason == "ensure: absent would delete this accesscontrol_rule"
    (gone,) = diff(plan, live, allow_release=True)
    assert isinstance(gone, Release) and gone.sid == "r-1"


def test_views_follow_the_objects_they_show() -> None:
    order = kind_order(["mediator.did", "flexml.did", "mediator.binding", "did", "endpoint"])
    assert order.index("did") < order.index("flexml.did")
    assert order.index("did") < order.index("mediator.binding")
    assert order.index("endpoint") < order.index("mediator.did")
