"""Kind definitions: their invariants, and how each maps plan values to API bodies and back."""

from __future__ import annotations

from typing import Any

import pytest

from bulkx.kinds import KINDS, Kind, PlanField
from bulkx.kinds.model import ALL_OPERATIONS, Creation, ensure_field

SAMPLE: dict[str, Any] = {
    "str": "text",
    "int": 30,
    "bool": True,
    "e164": "12125550100",
    "url": "https://hooks.example.com/x",
    "state": "NY",
    "zip": "11550",
    "alpha3": "USA",
    "digits": "1234",
    "object": {"site": "hq"},
    "list": ["1900", "1976"],
    "file": "samples/hello.txt",
}


def sample(spec: PlanField) -> Any:
    return spec.choices[0] if spec.choices else SAMPLE[spec.type]


PLAIN = sorted(name for name, kind in KINDS.items() if kind.to_api_hook is None)


@pytest.mark.parametrize("name", PLAIN)
def test_plain_kinds_map_every_api_field_both_ways(name: str) -> None:
    kind = KINDS[name]
    values = {f.name: sample(f) for f in kind.fields if f.api_name is not None}
    body = kind.to_api(values)
    assert set(body) == {f.api_name for f in kind.fields if f.api_name is not None}
    assert kind.from_api(body) == values


def test_plan_only_fields_never_reach_the_api() -> None:
    binding = KINDS["mediator.binding"]
    body = binding.to_api({"endpoint": "relay", "name": "support", "ensure": "absent"})
    assert body == {"name": "support"}


def test_camel_case_api_fields_have_snake_case_plan_names() -> None:
    did = KINDS["conference.did"]
    body = did.to_api({"phonenumber": "12125550101", "did_group": 7, "country_code": "US"})
    assert body == {"phoneNumber": "12125550101", "didGroupId": 7, "countryCode": "US"}
    assert did.key_field == "phoneNumber"


def test_v1_room_keychain_uses_role_numbers() -> None:
    room = KINDS["conference.meeting_room"]
    values = {"description": "weekly", "did_group": 3, "host_code": "1111", "listener_code": "3"}
    assert room.to_api(values) == {
        "description": "weekly",
        "primaryDidGroupId": 3,
        "keychain": [{"accessCode": "1111", "role": 1}, {"accessCode": "3", "role": 3}],
    }
    live = {
        "description": "weekly",
        "subscriberSid": "s-1",
        "primaryDidGroupId": 3,
        "meetingNumber": 12,
        # A room may hold several codes per role: the plan shows the first.
        "keychain": [
            {"accessCode": "1111", "id": 1, "role": 1},
            {"accessCode": "2222", "id": 2, "role": 2},
            {"accessCode": "2299", "id": 3, "role": 2},
        ],
    }
    assert room.from_api(live) == {
        "description": "weekly",
        "subscriber": "s-1",
        "did_group": 3,
        "host_code": "1111",
        "participant_code": "2222",
        "listener_code": None,
    }


def test_room_codes_are_sent_only_when_the_plan_names_a_code_column() -> None:
    for name, codes in (
        ("conference.meeting_room", "keychain"),
        ("conference_v2.meeting_room", "access_codes"),
    ):
        room = KINDS[name]
        assert codes not in room.to_api({"did_group": 3})
        # Naming the columns empty clears the room's codes: the plan states them whole.
        assert room.to_api({"host_code": None, "participant_code": ""})[codes] == []


def test_v2_room_access_codes() -> None:
    room = KINDS["conference_v2.meeting_room"]
    body = room.to_api({"name": "standup", "did_group": "g-1", "participant_code": "4422"})
    assert body == {
        "name": "standup",
        "did_group_sid": "g-1",
        "access_codes": [{"access_code": "4422", "role": "participant"}],
    }
    assert room.from_api(body) == {
        "name": "standup",
        "did_group": "g-1",
        "host_code": None,
        "participant_code": "4422",
        "listener_code": None,
    }


@pytest.mark.parametrize(
    ("name", "scope", "per_endpoint"),
    [
        ("trunk", "trunk_group", False),
        ("did_emergency", None, False),
        ("conference.meeting_room", "endpoint", False),
        ("mediator.binding", "endpoint", False),
        ("conference_v2.account", None, True),
        ("flexml.account", None, True),
        ("lrn_prefix", None, False),
    ],
)
def test_what_scopes_a_key(name: str, scope: str | None, per_endpoint: bool) -> None:
    assert (KINDS[name].scope_field, KINDS[name].per_endpoint) == (scope, per_endpoint)


def test_deletable_kinds_and_only_they_have_ensure() -> None:
    deletable = {n for n, k in KINDS.items() if "delete" in k.operations}
    assert deletable == {n for n, k in KINDS.items() if "ensure" in k.by_name}
    assert deletable >= {
        "did",
        "lrn_prefix",
        "accesscontrol_rule",
        "conference.subscriber",
        "conference.did_group",
        "conference.meeting_room",
        "conference.did",
        "mediator.binding",
        "mediator.dialout",
    }
    assert KINDS["did"].by_name["ensure"].choices == ("present", "adopted", "absent")
    assert KINDS["mediator.binding"].by_name["ensure"].choices == ("present", "absent")


def test_update_only_and_read_only_kinds() -> None:
    update_only = {n for n, k in KINDS.items() if k.operations == {"update"}}
    assert update_only >= {"conference_v2.account", "flexml.account", "flexml.did"}
    assert KINDS["mediator.did"].operations == frozenset()
    assert KINDS["mediator.did"].creation.missing_hint
    assert {KINDS[n].update_method for n in KINDS if n.startswith("conference.")} == {"PUT"}


def _kind(**changes: Any) -> Kind:
    base: dict[str, Any] = {
        "name": "thing",
        "api": "core",
        "path": "/things",
        "sid_field": "sid",
        "key": "name",
        "fields": (PlanField("name"),),
        "doc": "test",
    }
    return Kind(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"operations": ALL_OPERATIONS}, "ensure"),
        ({"fields": (PlanField("name"), ensure_field())}, "ensure"),
        ({"key": "title"}, "key"),
        ({"fields": (PlanField("name"), PlanField("name"))}, "twice"),
        ({"creation": Creation(path="/owners/{owner}/things")}, "owner"),
    ],
)
def test_inconsistent_definitions_are_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _kind(**changes)


def test_create_path_fields() -> None:
    assert KINDS["conference.meeting_room"].path_fields == ("subscriber",)
    assert KINDS["did"].path_fields == ()


@pytest.mark.parametrize("name", sorted(KINDS))
def test_fields_by_name_are_built_once_and_shared_read_only(name: str) -> None:
    kind = KINDS[name]
    assert kind.by_name is kind.by_name  # once per kind, not per lookup
    assert list(kind.by_name) == [f.name for f in kind.fields]
    assert all(kind.by_name[f.name] is f for f in kind.fields)
    with pytest.raises(TypeError):
        kind.by_name["extra"] = kind.fields[0]  # type: ignore[index]
