"""The sandbox's legacy Conference API (`/conference/v1`), over real HTTP.

camelCase objects, integer ids, PUT as a partial update, meeting keys inside their room.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox
from tests.sandbox.test_conference_v2 import client_for, create, error_fields, make_endpoint

pytestmark = pytest.mark.timeout(30)

PREFIX = "/conference/v1"


@pytest.fixture
def endpoint(core: httpx.Client) -> dict[str, Any]:
    return make_endpoint(core, "Legacy bridge", "conference")


@pytest.fixture
def conf(sandbox: Sandbox, endpoint: dict[str, Any]) -> Iterator[httpx.Client]:
    with client_for(sandbox, endpoint, PREFIX) as client:
        yield client


@pytest.fixture
def group(conf: httpx.Client) -> dict[str, Any]:
    return create(conf, "/didGroups", {"name": "Main", "callFlowId": 1})


def test_authentication(sandbox: Sandbox, endpoint: dict[str, Any], core: httpx.Client) -> None:
    url = f"{sandbox.url}{PREFIX}/subscribers/whoami"
    login = endpoint["properties"]["login"]
    for r in (
        httpx.get(url),
        httpx.get(url, auth=(login, "wrong")),
        httpx.get(url, headers={"Authorization": f"Bearer {sandbox.token}"}),
    ):
        assert r.status_code == 401
        assert r.json()["message"] == "Bad credentials"
    v2 = make_endpoint(core, "New style")
    with client_for(sandbox, v2, PREFIX) as wrong_api:
        assert wrong_api.get("/subscribers/whoami").status_code == 401
    with client_for(sandbox, endpoint, PREFIX) as right:
        assert right.get("/subscribers/whoami").status_code == 200


def test_subscribers(conf: httpx.Client) -> None:
    r = conf.get("/subscribers/whoami")
    assert r.status_code == 200
    me = r.json()
    # Null fields are left out of v1 answers (assumptions.CONFERENCE_V1_OMITS_NULLS).
    assert set(me) == set(assumptions.CONFERENCE_V1_SUBSCRIBER_FIELDS) - {"email", "phoneNumber"}
    assert me["name"] == "Legacy bridge"
    assert isinstance(me["created"], int)
    assert conf.get("/subscribers/whoami").json() == me
    assert conf.get(f"/subscribers/{me['sid']}").json() == me

    alice = create(conf, "/subscribers", {"name": "Alice", "email": "alice@example.com"})
    assert alice["name"] == "Alice"
    assert alice["email"] == "alice@example.com"
    assert "phoneNumber" not in alice  # null: left out
    assert alice["sid"] != me["sid"]
    listed = conf.get("/subscribers").json()
    assert [s["sid"] for s in listed["items"]] == [me["sid"], alice["sid"]]
    r = conf.get("/subscribers", params={"filter": 'email like "%@example.com"'})
    assert r.json()["items"] == [alice]

    # PUT is a partial update in v1; there is no PATCH.
    url = f"/subscribers/{alice['sid']}"
    r = conf.put(url, json={"phoneNumber": "15165550100"})
    assert r.status_code == 200
    assert r.json() == {**alice, "phoneNumber": "15165550100"}
    assert conf.patch(url, json={"name": "x"}).status_code == 405
    r = conf.put(url, json={"created": 1})
    assert r.status_code == 422
    assert error_fields(r) == {"created"}
    r = conf.put(url, json={"nickname": "Al"})
    assert r.status_code == 422
    assert error_fields(r) == {"nickname"}

    assert conf.delete(url).status_code == 204
    assert conf.get(url).status_code == 404
    assert conf.get("/subscribers/not-a-subscriber").status_code == 404


def test_did_groups_are_validated_created_and_updated(conf: httpx.Client) -> None:
    r = conf.post("/didGroups", json={"description": "no name"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "callFlowId", "message": "field is required", "reference_sid": None},
        {"field": "name", "message": "field is required", "reference_sid": None},
    ]
    group = create(conf, "/didGroups", {"name": "Main", "callFlowId": 7})
    me = conf.get("/subscribers/whoami").json()
    gid = group["id"]
    assert isinstance(gid, int)
    assert group == {
        "attributes": [],
        "callFlowId": 7,
        "description": "",
        "id": gid,  # no `dids` while it has none: CONFERENCE_V1_DID_GROUP_DIDS_WHEN_ANY
        "name": "Main",
        "state": assumptions.CONFERENCE_V1_DID_GROUP_STATE,
        "subscriberSid": me["sid"],
    }
    r = conf.put(f"/didGroups/{gid}", json={"description": "front desk"})
    assert r.json() == {**group, "description": "front desk"}
    assert conf.put(f"/didGroups/{gid}", json={"id": gid + 1}).status_code == 422
    assert conf.put(f"/didGroups/{gid}", json={"callFlowId": "seven"}).status_code == 422
    for missing in (f"/didGroups/{gid + 100}", "/didGroups/main", "/dids/1"):
        r = conf.get(missing)
        assert r.status_code == 404, missing
        assert r.json()["message"] == assumptions.MESSAGE_BY_STATUS[404]


def test_dids_are_validated_unique_and_keep_their_group_in_use(
    conf: httpx.Client, group: dict[str, Any]
) -> None:
    gid = group["id"]
    r = conf.post("/dids", json={"countryCode": "US"})
    assert r.status_code == 422
    assert error_fields(r) == {"phoneNumber"}
    did = create(conf, "/dids", {"phoneNumber": "15165550100", "didGroupId": gid})
    assert did == {
        "attributes": [],
        "countryCode": assumptions.CONFERENCE_V1_DEFAULT_COUNTRY_CODE,
        "didGroupId": gid,
        "id": did["id"],
        "phoneNumber": "15165550100",
        "state": assumptions.CONFERENCE_V1_DID_STATE,
    }
    r = conf.post("/dids", json={"phoneNumber": "15165550100"})
    assert r.status_code == assumptions.CONFERENCE_V1_DUPLICATE_DID_STATUS
    assert r.json()["errors"][0]["reference_sid"] == str(did["id"])
    assert (
        conf.post("/dids", json={"phoneNumber": "15165550101", "countryCode": "USA"}).status_code
        == 422
    )
    r = conf.post("/dids", json={"phoneNumber": "15165550101", "didGroupId": 999})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "didGroupId"

    # The group lists its DIDs.
    assert conf.get(f"/didGroups/{gid}").json()["dids"] == [did]
    r = conf.put(f"/dids/{did['id']}", json={"description": "reception"})
    assert r.json() == {**did, "description": "reception"}
    assert conf.put(f"/dids/{did['id']}", json={"phoneNumber": "15165550199"}).status_code == 422

    # A group in use cannot go.
    r = conf.delete(f"/didGroups/{gid}")
    assert r.status_code == assumptions.CONFERENCE_V1_DID_GROUP_IN_USE_STATUS
    assert r.json()["errors"][0]["reference_sid"] == str(did["id"])
    assert conf.put(f"/dids/{did['id']}", json={"didGroupId": None}).status_code == 200
    # A group without DIDs has no `dids` (assumptions.CONFERENCE_V1_DID_GROUP_DIDS_WHEN_ANY: the
    # create and update samples, https://docs.carrierx.com/conference/conf-v1-api/did-groups/).
    assert "dids" not in conf.get(f"/didGroups/{gid}").json()
    assert conf.delete(f"/didGroups/{gid}").status_code == 204
    assert conf.get(f"/didGroups/{gid}").status_code == 404


def _bobs_room(conf: httpx.Client, group: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A subscriber's room in `group`, with a host key (code 1001) and a participant key: its
    URL and the room as created."""
    bob = create(conf, "/subscribers", {"name": "Bob"})
    rooms = f"/subscribers/{bob['sid']}/meetingRooms"
    keychain = [{"role": 1, "accessCode": "1001"}, {"role": 2}]
    room = create(conf, rooms, {"primaryDidGroupId": group["id"], "keychain": keychain})
    return f"{rooms}/{room['meetingNumber']}", room


def _assert_a_room_needs_a_known_group_and_keys_with_roles(
    conf: httpx.Client, group: dict[str, Any]
) -> None:
    rooms = f"/subscribers/{create(conf, '/subscribers', {'name': 'Carol'})['sid']}/meetingRooms"
    r = conf.post(rooms, json={"description": "no group"})
    assert r.status_code == 422
    assert error_fields(r) == {"primaryDidGroupId"}
    r = conf.post(rooms, json={"primaryDidGroupId": group["id"] + 50})
    assert r.status_code == 422
    assert r.json()["errors"][0]["reference_sid"] == str(group["id"] + 50)
    r = conf.post(rooms, json={"primaryDidGroupId": group["id"], "keychain": [{"role": 4}, {}]})
    assert r.status_code == 422
    assert error_fields(r) == {"keychain[0].role", "keychain[1].role"}


def test_meeting_rooms_are_validated_created_in_their_subscriber_and_read(
    conf: httpx.Client, group: dict[str, Any]
) -> None:
    _assert_a_room_needs_a_known_group_and_keys_with_roles(conf, group)
    me = conf.get("/subscribers/whoami").json()
    url, room = _bobs_room(conf, group)
    rooms, number = url.rsplit("/", 1)
    assert isinstance(room["meetingNumber"], int)
    assert rooms == f"/subscribers/{room['subscriberSid']}/meetingRooms"
    # The primary group is referenced, as the create sample answers (https://docs.carrierx.com/
    # conference/conf-v1-api/subscribers/meeting-room/create).
    assert room["didGroupReferences"] == [{"didGroupId": group["id"], "state": 0}]
    assert isinstance(room["created"], int)
    host, participant = room["keychain"]
    assert host == {"accessCode": "1001", "id": host["id"], "role": 1}
    assert participant["role"] == 2
    digits = assumptions.CONFERENCE_V1_RANDOM_ACCESS_CODE_DIGITS
    assert re.fullmatch(rf"\d{{{digits}}}", participant["accessCode"])

    assert conf.get(url).json() == room
    assert conf.get(f"/meetingRooms/{number}").json() == room
    assert conf.get(f"/subscribers/{me['sid']}/meetingRooms/{number}").status_code == 404
    assert conf.get(f"/subscribers/{me['sid']}/meetingRooms").json()["items"] == []
    assert conf.get(rooms).json()["items"] == [room]
    assert conf.get(f"{rooms}/abc").status_code == 404
    assert conf.get("/subscribers/nobody/meetingRooms").status_code == 404


def _assert_keychain_routes(conf: httpx.Client, url: str, key_ids: list[int]) -> None:
    """The room at `url` has keys `key_ids`; a key is added, read, updated and deleted."""
    keys = f"{url}/keychain"
    listed = conf.get(keys).json()
    assert [k["id"] for k in listed["items"]] == key_ids
    assert listed["total"] == 2
    r = conf.post(keys, json={"role": 2, "accessCode": "3003"})
    assert r.status_code == 200
    added = r.json()
    number = int(url.rsplit("/", 1)[1])
    assert added == {"accessCode": "3003", "id": added["id"], "meetingRoomId": number, "role": 2}
    key_url = f"{keys}/{added['id']}"
    assert conf.get(key_url).json() == {"accessCode": "3003", "id": added["id"], "role": 2}
    r = conf.put(key_url, json={"accessCode": "3004"})
    assert r.json() == {**added, "accessCode": "3004"}
    assert conf.put(key_url, json={"role": 0}).status_code == 422
    assert conf.post(keys, json={"accessCode": "5"}).status_code == 422  # role is required
    assert conf.delete(key_url).status_code == 204
    assert conf.get(key_url).status_code == 404
    assert conf.get(f"{keys}/notanid").status_code == 404
    assert len(conf.get(url).json()["keychain"]) == 2


def test_a_meeting_room_put_is_partial_and_its_keychain_has_routes(
    conf: httpx.Client, group: dict[str, Any]
) -> None:
    url, room = _bobs_room(conf, group)
    host, participant = room["keychain"]
    # PUT is partial: the keychain stays unless it is sent.
    r = conf.put(url, json={"description": "weekly"})
    assert r.status_code == 200
    assert r.json() == {**room, "description": "weekly"}
    assert conf.patch(url, json={"description": "x"}).status_code == 405
    # Sent keychain: keys with an id are updated, keys without are new, missing keys are removed.
    r = conf.put(url, json={"keychain": [{"id": host["id"], "accessCode": "1002"}, {"role": 3}]})
    assert r.status_code == 200
    new_host, listener = r.json()["keychain"]
    assert new_host == {**host, "accessCode": "1002"}
    assert listener["role"] == 3
    assert listener["id"] not in (host["id"], participant["id"])
    r = conf.put(url, json={"keychain": [{"id": 99999, "role": 1}]})
    assert r.status_code == 422
    assert error_fields(r) == {"keychain[0].id"}
    _assert_keychain_routes(conf, url, [host["id"], listener["id"]])


def test_access_codes_are_unique_across_rooms(conf: httpx.Client, group: dict[str, Any]) -> None:
    body = {"primaryDidGroupId": group["id"], "keychain": [{"role": 1, "accessCode": "4242"}]}
    first = create(conf, "/meetingRooms", body)
    me = conf.get("/subscribers/whoami").json()
    assert first["subscriberSid"] == me["sid"]  # top-level rooms belong to whoami

    r = conf.post("/meetingRooms", json=body)
    assert r.status_code == assumptions.ACCESS_CODE_COLLISION_STATUS
    assert r.json()["errors"] == [
        {
            "field": "keychain",
            "message": "access code 4242 is used by another meeting room",
            "reference_sid": str(first["meetingNumber"]),
        }
    ]
    r = conf.post(
        "/meetingRooms",
        json={"primaryDidGroupId": group["id"], "keychain": [{"role": 1, "accessCode": "7"}] * 2},
    )
    assert r.status_code == assumptions.CONFERENCE_DUPLICATE_ACCESS_CODE_STATUS
    second = create(conf, "/meetingRooms", {"primaryDidGroupId": group["id"]})
    second_keys = f"/subscribers/{me['sid']}/meetingRooms/{second['meetingNumber']}/keychain"
    r = conf.post(second_keys, json={"role": 2, "accessCode": "4242"})
    assert r.status_code == 409
    assert r.json()["errors"][0]["reference_sid"] == str(first["meetingNumber"])

    # Deleting the room (or its subscriber) frees its codes.
    assert conf.delete(f"/meetingRooms/{first['meetingNumber']}").status_code == 204
    assert conf.get(f"/meetingRooms/{first['meetingNumber']}").status_code == 404
    assert conf.post(second_keys, json={"role": 2, "accessCode": "4242"}).status_code == 200

    carol = create(conf, "/subscribers", {"name": "Carol"})
    body["keychain"] = [{"role": 1, "accessCode": "5150"}]
    room = create(conf, f"/subscribers/{carol['sid']}/meetingRooms", body)
    assert conf.get("/meetingRooms").json()["total"] == 2
    assert conf.delete(f"/subscribers/{carol['sid']}").status_code == 204
    assert conf.get(f"/meetingRooms/{room['meetingNumber']}").status_code == 404
    assert conf.post("/meetingRooms", json=body).status_code == 200

    # A group used as a room's primary DID group cannot be deleted.
    r = conf.delete(f"/didGroups/{group['id']}")
    assert r.status_code == assumptions.CONFERENCE_V1_DID_GROUP_IN_USE_STATUS
    assert error_fields(r) == {"primaryDidGroupId"}


def test_a_deleted_id_is_never_handed_out_again(conf: httpx.Client) -> None:
    first = create(conf, "/didGroups", {"name": "One", "callFlowId": 1})
    second = create(conf, "/didGroups", {"name": "Two", "callFlowId": 1})
    assert conf.delete(f"/didGroups/{second['id']}").status_code == 204
    third = create(conf, "/didGroups", {"name": "Three", "callFlowId": 1})
    assert third["id"] not in (first["id"], second["id"])
    assert conf.get(f"/didGroups/{second['id']}").status_code == 404
