"""The sandbox's Conference v2 API (`/conference/v2`), over real HTTP.

Each test makes a conference_v2 endpoint through Core, then talks to the app API with the
endpoint's Basic credentials, as a CarrierX client would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox

pytestmark = pytest.mark.timeout(30)

PREFIX = "/conference/v2"


def make_endpoint(core: httpx.Client, name: str, kind: str = "conference_v2") -> dict[str, Any]:
    r = core.post("/endpoints", json={"name": name, "type": kind})
    assert r.status_code == 200, r.text
    endpoint: dict[str, Any] = r.json()
    assert endpoint["properties"]["login"]
    assert endpoint["properties"]["password"]
    return endpoint


def client_for(sandbox: Sandbox, endpoint: dict[str, Any], prefix: str = PREFIX) -> httpx.Client:
    props = endpoint["properties"]
    return sandbox.app_client(prefix, props["login"], props["password"])


@pytest.fixture
def endpoint(core: httpx.Client) -> dict[str, Any]:
    return make_endpoint(core, "Sales bridge")


@pytest.fixture
def conf(sandbox: Sandbox, endpoint: dict[str, Any]) -> Iterator[httpx.Client]:
    with client_for(sandbox, endpoint) as client:
        yield client


def room_body(name: str, *codes: tuple[str, str], **extra: Any) -> dict[str, Any]:
    access_codes = [{"access_code": code, "role": role} for code, role in codes]
    return {"name": name, "access_codes": access_codes, **extra}


def create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    created: dict[str, Any] = r.json()
    return created


def error_fields(r: httpx.Response) -> set[str | None]:
    return {e["field"] for e in r.json()["errors"]}


# --- authentication -------------------------------------------------------------------------------


def test_credentials_are_the_endpoints_and_only_for_this_api(
    sandbox: Sandbox, endpoint: dict[str, Any], core: httpx.Client
) -> None:
    url = f"{sandbox.url}{PREFIX}/meeting_rooms"
    login = endpoint["properties"]["login"]

    nothing = httpx.get(url)
    wrong = httpx.get(url, auth=(login, "not-the-password"))
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {sandbox.token}"})
    for r in (nothing, wrong, bearer):
        assert r.status_code == 401
        assert r.json()["message"] == "Bad credentials"
        assert r.json()["errors"]
    assert "Basic" in bearer.json()["errors"][0]["message"]

    with client_for(sandbox, endpoint, "/conference/v1") as v1:
        r = v1.get("/subscribers/whoami")
    assert r.status_code == 401

    legacy = make_endpoint(core, "Legacy", "conference")
    with client_for(sandbox, legacy) as wrong_type:
        assert wrong_type.get("/accounts/whoami").status_code == 401

    with client_for(sandbox, endpoint) as right:
        r = right.get("/meeting_rooms")
    assert r.status_code == 200
    assert r.json()["items"] == []


# --- accounts -------------------------------------------------------------------------------------


def test_account_comes_from_the_endpoint(
    sandbox: Sandbox, conf: httpx.Client, endpoint: dict[str, Any]
) -> None:
    r = conf.get("/accounts/whoami")
    assert r.status_code == 200
    me = r.json()
    assert me["login"] == endpoint["properties"]["login"]
    assert me["name"] == "Sales bridge"
    assert "password" not in me
    assert set(me) == {
        "account_sid",
        "call_flow_sid",
        "date_created",
        "login",
        "name",
        "properties",
    }
    assert me["account_sid"] != endpoint["endpoint_sid"]

    listed = conf.get("/accounts").json()
    assert listed["count"] == listed["total"] == 1
    assert listed["items"] == [me]
    assert conf.get(f"/accounts/{me['account_sid']}").json() == me

    flows = {f["name"]: f["call_flow_sid"] for f in conf.get("/call_flows").json()["items"]}
    assert me["call_flow_sid"] == flows[assumptions.CONFERENCE_V2_ACCOUNT_DEFAULT_CALL_FLOW]

    r = conf.get("/accounts/0c1e2b5e-0000-4000-8000-000000000000")
    assert r.status_code == 404
    assert r.json()["message"] == assumptions.MESSAGE_BY_STATUS[404]

    # Another endpoint's account is invisible.
    with sandbox.core() as core, client_for(sandbox, make_endpoint(core, "Other")) as other:
        assert other.get(f"/accounts/{me['account_sid']}").status_code == 404
        assert other.get("/accounts").json()["items"][0]["name"] == "Other"


def test_account_update_and_password(
    sandbox: Sandbox, conf: httpx.Client, endpoint: dict[str, Any]
) -> None:
    me = conf.get("/accounts/whoami").json()
    sid = me["account_sid"]
    flows = {f["name"]: f["call_flow_sid"] for f in conf.get("/call_flows").json()["items"]}

    r = conf.patch(f"/accounts/{sid}", json={"name": "Renamed", "call_flow_sid": flows["open"]})
    assert r.status_code == 200
    assert r.json() == {**me, "name": "Renamed", "call_flow_sid": flows["open"]}

    r = conf.put(f"/accounts/{sid}", json={"name": "Only name"})
    assert r.status_code == 422
    assert error_fields(r) == {"call_flow_sid", "properties"}

    r = conf.put(
        f"/accounts/{sid}",
        json={"name": "Put", "call_flow_sid": flows["secured"], "properties": {"k": "v"}},
    )
    assert r.status_code == 200
    assert r.json()["properties"] == {"k": "v"}

    r = conf.patch(f"/accounts/{sid}", json={"login": "someone-else"})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "login",
        "message": "field is read only",
        "reference_sid": None,
    }

    r = conf.patch(f"/accounts/{sid}", json={"call_flow_sid": "no-such-flow"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "call_flow_sid"

    # The password is write-only, and it is the endpoint's: the old one stops working.
    r = conf.patch(f"/accounts/{sid}", json={"password": "n3w-secret"})
    assert r.status_code == 200
    assert "password" not in r.json()
    assert conf.get("/accounts/whoami").status_code == 401
    login = endpoint["properties"]["login"]
    with sandbox.app_client(PREFIX, login, "n3w-secret") as renewed:
        assert renewed.get("/accounts/whoami").json()["name"] == "Put"
    r = conf.get(
        "/accounts", params={"filter": 'password eq "n3w-secret"'}, auth=(login, "n3w-secret")
    )
    assert r.status_code == assumptions.UNKNOWN_FILTER_FIELD_STATUS


def test_call_flows_are_seeded_with_stable_sids(conf: httpx.Client) -> None:
    r = conf.get("/call_flows")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4
    assert [f["name"] for f in body["items"]] == list(assumptions.CONFERENCE_V2_CALL_FLOWS)
    for flow in body["items"]:
        # The Call Flow object: https://docs.carrierx.com/conference/conf-v2-api/call-flows/call-flow
        assert set(flow) == set(assumptions.CONFERENCE_V2_CALL_FLOW_FIELDS)
        assert flow["properties"] == assumptions.CONFERENCE_V2_CALL_FLOW_PROPERTIES
        assert conf.get(f"/call_flows/{flow['call_flow_sid']}").json() == flow
    assert conf.get("/call_flows").json() == body  # stable across requests
    r = conf.get("/call_flows", params={"filter": 'name eq "direct_host"'})
    assert [f["name"] for f in r.json()["items"]] == ["direct_host"]
    assert conf.post("/call_flows", json={"name": "mine"}).status_code == 405


# --- meeting rooms --------------------------------------------------------------------------------


def test_meeting_room_crud_patch_and_put(conf: httpx.Client) -> None:
    room = create(
        conf, "/meeting_rooms", room_body("Board", ("1001", "host"), ("1002", "listener"))
    )
    sid = room["meeting_room_sid"]
    account_sid = conf.get("/accounts/whoami").json()["account_sid"]
    assert room == {
        "access_codes": [
            {"access_code": "1001", "role": "host"},
            {"access_code": "1002", "role": "listener"},
        ],
        "account_sid": account_sid,
        "did_group_sid": None,
        "meeting_room_sid": sid,
        "name": "Board",
        "properties": {},
    }
    assert conf.get(f"/meeting_rooms/{sid}").json() == room

    # PATCH changes only what it sends.
    r = conf.patch(f"/meeting_rooms/{sid}", json={"name": "Board 2"})
    assert r.status_code == 200
    assert r.json() == {**room, "name": "Board 2"}

    # PUT needs every writable field.
    r = conf.put(f"/meeting_rooms/{sid}", json={"name": "Board 3", "properties": {}})
    assert r.status_code == 422
    assert error_fields(r) == {"access_codes", "did_group_sid"}
    assert conf.get(f"/meeting_rooms/{sid}").json()["name"] == "Board 2"
    full = room_body("Board 3", ("2001", "participant"), did_group_sid=None, properties={"x": 1})
    r = conf.put(f"/meeting_rooms/{sid}", json=full)
    assert r.status_code == 200
    assert r.json()["access_codes"] == [{"access_code": "2001", "role": "participant"}]

    r = conf.delete(f"/meeting_rooms/{sid}")
    assert r.status_code == 204
    assert r.content == b""
    r = conf.get(f"/meeting_rooms/{sid}")
    assert r.status_code == 404
    assert r.json()["errors"][0]["reference_sid"] == sid
    assert conf.delete(f"/meeting_rooms/{sid}").status_code == 404


def test_meeting_room_writes_of_read_only_unknown_or_bad_fields_are_refused(
    conf: httpx.Client,
) -> None:
    room = create(conf, "/meeting_rooms", room_body("Board", ("1001", "host")))
    sid = room["meeting_room_sid"]
    account_sid = room["account_sid"]
    # Read-only fields: an equal value is fine, a different one is a 422.
    assert conf.patch(f"/meeting_rooms/{sid}", json={"account_sid": account_sid}).status_code == 200
    r = conf.patch(f"/meeting_rooms/{sid}", json={"meeting_room_sid": "other", "name": "x"})
    assert r.status_code == 422
    assert error_fields(r) == {"meeting_room_sid"}
    r = conf.post("/meeting_rooms", json={"name": "x", "account_sid": account_sid})
    assert r.status_code == 422

    r = conf.patch(f"/meeting_rooms/{sid}", json={"colour": "blue"})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "colour",
        "message": "unknown field",
        "reference_sid": None,
    }

    for bad in (
        [{"access_code": "12a4", "role": "host"}],
        [{"access_code": "1234", "role": "chair"}],
        [{"access_code": "1234"}],
        [{"role": "host"}],
        ["1234"],
    ):
        r = conf.post("/meeting_rooms", json={"access_codes": bad})
        assert r.status_code == 422, bad
        assert error_fields(r) == {"access_codes"}


def test_access_codes_are_unique_across_the_accounts_rooms(
    sandbox: Sandbox, conf: httpx.Client, core: httpx.Client
) -> None:
    a = create(conf, "/meeting_rooms", room_body("A", ("1111", "host"), ("2222", "participant")))
    r = conf.post("/meeting_rooms", json=room_body("B", ("3333", "host"), ("2222", "host")))
    assert r.status_code == assumptions.ACCESS_CODE_COLLISION_STATUS == 409
    assert r.json()["errors"] == [
        {
            "field": "access_codes",
            "message": "access code 2222 is used by another meeting room",
            "reference_sid": a["meeting_room_sid"],
        }
    ]
    assert conf.get("/meeting_rooms").json()["total"] == 1  # nothing was created

    # The same code twice in one room.
    r = conf.post("/meeting_rooms", json=room_body("C", ("4444", "host"), ("4444", "listener")))
    assert r.status_code == assumptions.CONFERENCE_DUPLICATE_ACCESS_CODE_STATUS
    assert "4444" in r.json()["errors"][0]["message"]

    # A room may keep (and re-send) its own codes; moving a code frees it for others.
    b = create(conf, "/meeting_rooms", room_body("B", ("3333", "host")))
    a_sid, b_sid = a["meeting_room_sid"], b["meeting_room_sid"]
    r = conf.patch(
        f"/meeting_rooms/{a_sid}", json=room_body("A", ("1111", "host"), ("2222", "host"))
    )
    assert r.status_code == 200
    r = conf.patch(
        f"/meeting_rooms/{b_sid}", json={"access_codes": [{"access_code": "1111", "role": "host"}]}
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["reference_sid"] == a_sid
    assert conf.patch(f"/meeting_rooms/{a_sid}", json={"access_codes": []}).status_code == 200
    r = conf.patch(
        f"/meeting_rooms/{b_sid}", json=room_body("B", ("1111", "host"), ("2222", "host"))
    )
    assert r.status_code == 200
    # Deleting a room frees its codes.
    assert conf.delete(f"/meeting_rooms/{b_sid}").status_code == 204
    assert conf.post("/meeting_rooms", json=room_body("D", ("2222", "host"))).status_code == 200

    # Codes are per account: another endpoint may use the same ones.
    with client_for(sandbox, make_endpoint(core, "Other")) as other:
        r = other.post("/meeting_rooms", json=room_body("Theirs", ("2222", "host")))
        assert r.status_code == 200
        assert other.get(f"/meeting_rooms/{a_sid}").status_code == 404
        assert other.get("/meeting_rooms").json()["total"] == 1


def test_meeting_room_pagination_filter_and_field_selection(conf: httpx.Client) -> None:
    made = [
        create(conf, "/meeting_rooms", room_body(f"Room {i}", (f"90{i}", "host")))
        for i in range(1, 6)
    ]
    r = conf.get("/meeting_rooms", params={"limit": 2})
    page = r.json()
    assert (page["count"], page["has_more"], page["limit"], page["total"]) == (2, True, 2, 5)
    names: list[str] = []
    pages = 0
    while True:
        names += [item["name"] for item in page["items"]]
        pages += 1
        next_url = page["pagination"].get("next")
        if not next_url:
            break
        assert next_url.startswith(str(conf.base_url).rstrip("/") + "/meeting_rooms?")
        page = conf.get(next_url).json()
    assert pages == 3
    assert names == [f"Room {i}" for i in range(1, 6)]
    assert page["has_more"] is False
    assert "next" not in page["pagination"]
    assert page["offset"] == 4

    r = conf.get("/meeting_rooms", params={"filter": 'name eq "Room 3"'})
    assert [i["meeting_room_sid"] for i in r.json()["items"]] == [made[2]["meeting_room_sid"]]
    r = conf.get("/meeting_rooms", params={"filter": 'name like "Room%"', "order": "name desc"})
    assert [i["name"] for i in r.json()["items"]] == [f"Room {i}" for i in range(5, 0, -1)]
    assert conf.get("/meeting_rooms", params={"filter": 'name like "Lobby%"'}).json()["total"] == 0
    r = conf.get("/meeting_rooms", params={"filter": 'nickname eq "x"'})
    assert r.status_code == assumptions.UNKNOWN_FILTER_FIELD_STATUS

    r = conf.get("/meeting_rooms", params={"include_fields": "name,meeting_room_sid", "limit": 1})
    assert r.json()["items"] == [
        {"meeting_room_sid": made[0]["meeting_room_sid"], "name": "Room 1"}
    ]
    sid = made[1]["meeting_room_sid"]
    r = conf.get(f"/meeting_rooms/{sid}", params={"include_fields": "access_codes"})
    assert r.json() == {"access_codes": [{"access_code": "902", "role": "host"}]}


# --- DID groups -----------------------------------------------------------------------------------


def test_did_groups_crud_and_references(conf: httpx.Client) -> None:
    flows = {f["name"]: f["call_flow_sid"] for f in conf.get("/call_flows").json()["items"]}
    group = create(conf, "/did_groups", {"name": "Main", "call_flow_sid": flows["open"]})
    sid = group["did_group_sid"]
    assert group == {
        "account_sid": conf.get("/accounts/whoami").json()["account_sid"],
        "call_flow_sid": flows["open"],
        "did_group_sid": sid,
        "name": "Main",
        "properties": {},
    }
    assert conf.get(f"/did_groups/{sid}").json() == group
    r = conf.patch(f"/did_groups/{sid}", json={"properties": {"lang": "en"}})
    assert r.json() == {**group, "properties": {"lang": "en"}}
    r = conf.put(f"/did_groups/{sid}", json={"name": "Main 2"})
    assert r.status_code == 422
    assert error_fields(r) == {"call_flow_sid", "properties"}
    r = conf.post("/did_groups", json={"name": "Bad", "call_flow_sid": "nope"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "call_flow_sid"
    assert conf.get("/did_groups").json()["total"] == 1

    # A room must name an existing DID group of the account.
    r = conf.post("/meeting_rooms", json={"name": "R", "did_group_sid": "nope"})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "did_group_sid",
        "message": "no DID group with this id on the account",
        "reference_sid": "nope",
    }
    room = create(conf, "/meeting_rooms", {"name": "R", "did_group_sid": sid})
    r = conf.get("/meeting_rooms", params={"filter": f'did_group_sid eq "{sid}"'})
    assert r.json()["total"] == 1

    # Deleting the group detaches its rooms.
    assert conf.delete(f"/did_groups/{sid}").status_code == 204
    assert conf.get(f"/did_groups/{sid}").status_code == 404
    assert conf.get(f"/meeting_rooms/{room['meeting_room_sid']}").json()["did_group_sid"] is None


# --- DIDs: the Core DIDs routed to the endpoint ---------------------------------------------------


def rent(core: httpx.Client, count: int) -> list[dict[str, Any]]:
    available = core.get("/phonenumber/available_dids", params={"limit": count}).json()["items"]
    rented = []
    for item in available:
        r = core.post("/phonenumber/dids", json={"phonenumber": item["phonenumber"]})
        assert r.status_code == 200, r.text
        rented.append(r.json())
    return rented


def _endpoints_trunk_group(core: httpx.Client, endpoint: dict[str, Any]) -> str:
    """The trunk group routing to the endpoint (the sandbox makes one with it)."""
    r = core.get(
        "/trunk_groups",
        params={
            "with_trunks": "true",
            "filter": f'trunks.endpoint_sid eq "{endpoint["endpoint_sid"]}"',
        },
    )
    assert r.json()["count"] == 1
    return str(r.json()["items"][0]["trunk_group_sid"])


def _route(core: httpx.Client, did: dict[str, Any], trunk_group_sid: str) -> None:
    r = core.patch(f"/phonenumber/dids/{did['did_sid']}", json={"trunk_group_sid": trunk_group_sid})
    assert r.status_code == 200


def test_dids_are_a_view_of_core_routing(
    conf: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    routed, other = rent(core, 2)
    tg = _endpoints_trunk_group(core, endpoint)
    assert conf.get("/dids").json()["items"] == []

    _route(core, routed, tg)
    account_sid = conf.get("/accounts/whoami").json()["account_sid"]
    listed = conf.get("/dids").json()
    assert listed["total"] == 1
    did = listed["items"][0]
    assert did == {
        "account_sid": account_sid,
        "call_flow_sid": None,
        "country_code": routed["country_code"],
        "did_group_sid": None,
        "did_sid": routed["did_sid"],
        "in_country_format": routed["in_country_format"],
        "international_format": routed["international_format"],
        "phonenumber": routed["phonenumber"],
        "properties": {},
    }
    assert conf.get(f"/dids/{other['did_sid']}").status_code == 404
    assert conf.patch(f"/dids/{other['did_sid']}", json={"properties": {}}).status_code == 404
    r = conf.get("/dids", params={"filter": f'phonenumber eq "{routed["phonenumber"]}"'})
    assert r.json()["total"] == 1
    assert conf.post("/dids", json={"phonenumber": other["phonenumber"]}).status_code == 405

    # Re-routed away in Core: it leaves the view.
    url = f"/dids/{routed['did_sid']}"
    elsewhere = core.post("/trunk_groups", json={"name": "PBX"}).json()["trunk_group_sid"]
    core.patch(f"/phonenumber/dids/{routed['did_sid']}", json={"trunk_group_sid": elsewhere})
    assert conf.get("/dids").json() == {**listed, "count": 0, "items": [], "total": 0}
    assert conf.get(url).status_code == 404
    # Routed back: it returns as it was.
    core.patch(f"/phonenumber/dids/{routed['did_sid']}", json={"trunk_group_sid": tg})
    assert conf.get(url).json() == did


def test_a_dids_v2_settings_are_its_own_and_come_back_fresh(
    conf: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    routed, other = rent(core, 2)
    tg = _endpoints_trunk_group(core, endpoint)
    _route(core, routed, tg)
    url = f"/dids/{routed['did_sid']}"
    did = conf.get(url).json()
    group = create(conf, "/did_groups", {"name": "Lines"})
    r = conf.patch(url, json={"did_group_sid": group["did_group_sid"]})
    assert r.status_code == 200
    assert r.json() == {**did, "did_group_sid": group["did_group_sid"]}
    assert conf.get(url).json()["did_group_sid"] == group["did_group_sid"]
    r = conf.patch(url, json={"did_group_sid": "nope"})
    assert r.status_code == 422
    r = conf.patch(url, json={"phonenumber": other["phonenumber"]})
    assert r.status_code == 422
    assert error_fields(r) == {"phonenumber"}
    r = conf.put(url, json={"properties": {"a": 1}})
    assert r.status_code == 422
    assert error_fields(r) == {"call_flow_sid", "did_group_sid"}
    flow = conf.get("/call_flows", params={"filter": 'name eq "open"'}).json()["items"][0]
    r = conf.put(
        url,
        json={
            "properties": {"a": 1},
            "call_flow_sid": flow["call_flow_sid"],
            "did_group_sid": None,
        },
    )
    assert r.status_code == 200
    assert (r.json()["properties"], r.json()["did_group_sid"]) == ({"a": 1}, None)
    # Core's own record is untouched by the v2 settings.
    assert core.get(url.replace("/dids", "/phonenumber/dids")).json()["did_group_sid"] is None

    # Re-routed away in Core and back: it returns with fresh v2 settings.
    elsewhere = core.post("/trunk_groups", json={"name": "PBX"}).json()["trunk_group_sid"]
    _route(core, routed, elsewhere)
    assert conf.get(url).status_code == 404
    _route(core, routed, tg)
    assert conf.get(url).json() == did
