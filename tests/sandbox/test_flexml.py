"""The sandbox's FlexML API (`/flexml/v1`), over real HTTP.

Each test makes a flexml endpoint through Core, then talks to the app API with the endpoint's
Basic credentials, as a CarrierX client would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox
from tests.sandbox.test_conference_v2 import client_for, error_fields, make_endpoint, rent

pytestmark = pytest.mark.timeout(30)

PREFIX = "/flexml/v1"


@pytest.fixture
def endpoint(core: httpx.Client) -> dict[str, Any]:
    return make_endpoint(core, "IVR", "flexml")


@pytest.fixture
def fx(sandbox: Sandbox, endpoint: dict[str, Any]) -> Iterator[httpx.Client]:
    with client_for(sandbox, endpoint, PREFIX) as client:
        yield client


def auto_trunk_group(core: httpx.Client, endpoint: dict[str, Any]) -> str:
    """The trunk group Core made for the app endpoint (its one trunk points at it)."""
    r = core.get(
        "/trunk_groups",
        params={"filter": f'trunks.endpoint_sid eq "{endpoint["endpoint_sid"]}"'},
    )
    assert r.status_code == 200
    assert r.json()["count"] == 1
    sid: str = r.json()["items"][0]["trunk_group_sid"]
    return sid


def route(core: httpx.Client, did: dict[str, Any], trunk_group_sid: str | None) -> None:
    r = core.patch(f"/phonenumber/dids/{did['did_sid']}", json={"trunk_group_sid": trunk_group_sid})
    assert r.status_code == 200, r.text


# --- authentication -------------------------------------------------------------------------------


def test_only_a_flexml_endpoints_credentials_open_the_api(
    sandbox: Sandbox, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    url = f"{sandbox.url}{PREFIX}/calls"
    login = endpoint["properties"]["login"]
    nothing = httpx.get(url)
    wrong = httpx.get(url, auth=(login, "not-the-password"))
    unknown = httpx.get(url, auth=("nobody", "secret"))
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {sandbox.token}"})
    for r in (nothing, wrong, unknown, bearer):
        assert r.status_code == 401
        assert r.json()["message"] == "Bad credentials"
        assert r.json()["errors"][0]["field"] is None

    for kind in ("mediator", "conference_v2"):
        other = make_endpoint(core, f"Not flexml: {kind}", kind)
        with client_for(sandbox, other, PREFIX) as wrong_type:
            r = wrong_type.get("/accounts")
        assert r.status_code == 401
        assert r.json()["message"] == "Bad credentials"

    # ... and a flexml login does not open the other app APIs.
    with client_for(sandbox, endpoint, "/mediator/v1") as mediator:
        assert mediator.get("/accounts").status_code == 401

    with client_for(sandbox, endpoint, PREFIX) as right:
        r = right.get("/calls")
    assert r.status_code == 200
    assert (r.json()["items"], r.json()["total"]) == ([], 0)


# --- accounts -------------------------------------------------------------------------------------


def _my_account(fx: httpx.Client) -> dict[str, Any]:
    """The one account the endpoint's credentials see."""
    account: dict[str, Any] = fx.get("/accounts").json()["items"][0]
    return account


def test_account_comes_from_the_endpoint(fx: httpx.Client, endpoint: dict[str, Any]) -> None:
    r = fx.get("/accounts")
    assert r.status_code == 200
    listed = r.json()
    assert (listed["count"], listed["total"], listed["has_more"]) == (1, 1, False)
    me = listed["items"][0]
    sid = me["account_sid"]
    assert me == {
        "account_sid": sid,
        "date_created": me["date_created"],
        "error_handler": "basic",
        "login": endpoint["properties"]["login"],
        "method": "POST",
        "name": "IVR",
        "status_callback_method": "POST",
        "status_callback_url": None,
        "url": None,
    }
    assert me["date_created"].endswith("Z")
    assert sid != endpoint["endpoint_sid"]
    assert fx.get(f"/accounts/{sid}").json() == me
    assert fx.get("/accounts/not-mine").status_code == 404
    assert fx.post("/accounts", json={"name": "x"}).status_code == 405
    assert fx.delete(f"/accounts/{sid}").status_code == 405


def test_account_patch_and_put_change_only_its_writable_fields(fx: httpx.Client) -> None:
    me = _my_account(fx)
    sid = me["account_sid"]
    r = fx.patch(
        f"/accounts/{sid}",
        json={"url": "https://app.example.com/flexml", "method": "GET", "error_handler": "none"},
    )
    assert r.status_code == 200
    changed = {
        **me,
        "url": "https://app.example.com/flexml",
        "method": "GET",
        "error_handler": "none",
    }
    assert r.json() == changed
    assert fx.get(f"/accounts/{sid}").json() == changed

    for bad in ({"method": "PUT"}, {"error_handler": "loud"}, {"url": "ftp://x"}, {"login": "me"}):
        r = fx.patch(f"/accounts/{sid}", json=bad)
        assert r.status_code == 422, bad
        assert error_fields(r) == set(bad)
    # The password is never shown, and not writable here.
    r = fx.patch(f"/accounts/{sid}", json={"password": "n3w"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "password", "message": "field is read only", "reference_sid": None}
    ]
    assert fx.get("/accounts", params={"filter": 'password eq "x"'}).status_code == 400

    # PUT needs every writable field.
    r = fx.put(f"/accounts/{sid}", json={"name": "Menu"})
    assert r.status_code == 422
    assert error_fields(r) == {
        "error_handler",
        "method",
        "status_callback_method",
        "status_callback_url",
        "url",
    }
    # fmt: off
    full = {
        "error_handler": "basic", "method": "POST", "name": "Menu",
        "status_callback_method": "GET", "status_callback_url": "https://cb.example.com/s",
        "url": None,
    }
    # fmt: on
    r = fx.put(f"/accounts/{sid}", json=full)
    assert r.status_code == 200
    assert r.json() == {**me, **full}


# --- DIDs: the Core DIDs routed to the endpoint ---------------------------------------------------


def test_dids_are_a_view_of_core_routing(
    fx: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    routed, other = rent(core, 2)
    tg = auto_trunk_group(core, endpoint)
    assert fx.get("/dids").json()["items"] == []

    route(core, routed, tg)
    account_sid = fx.get("/accounts").json()["items"][0]["account_sid"]
    listed = fx.get("/dids").json()
    assert (listed["count"], listed["total"]) == (1, 1)
    did = listed["items"][0]
    assert did == {
        "account_sid": account_sid,
        "country_code": routed["country_code"],
        "did_sid": routed["did_sid"],
        "in_country_format": routed["in_country_format"],
        "international_format": routed["international_format"],
        "method": assumptions.FLEXML_DID_DEFAULT_METHOD,
        "phonenumber": routed["phonenumber"],
        "status_callback_method": "POST",
        "status_callback_url": None,
        "url": None,
    }
    url = f"/dids/{routed['did_sid']}"
    assert fx.get(url).json() == did
    assert fx.get(f"/dids/{other['did_sid']}").status_code == 404
    assert fx.patch(f"/dids/{other['did_sid']}", json={"url": None}).status_code == 404
    r = fx.get("/dids", params={"filter": f'phonenumber eq "{routed["phonenumber"]}"'})
    assert r.json()["total"] == 1
    assert fx.post("/dids", json={"phonenumber": other["phonenumber"]}).status_code == 405

    r = fx.patch(url, json={"url": "https://app.example.com/answer", "method": "GET"})
    assert r.status_code == 200
    updated = {**did, "url": "https://app.example.com/answer", "method": "GET"}
    assert r.json() == updated
    assert fx.get(url).json() == updated
    r = fx.patch(url, json={"phonenumber": other["phonenumber"]})
    assert r.status_code == 422
    assert error_fields(r) == {"phonenumber"}
    r = fx.put(url, json={"url": None})
    assert r.status_code == 422
    assert error_fields(r) == {"method", "status_callback_method", "status_callback_url"}
    # Core's own record is untouched by the FlexML settings.
    assert "url" not in core.get(f"/phonenumber/dids/{routed['did_sid']}").json()

    # Routed away in Core: it leaves the view (with its settings).
    elsewhere = core.post("/trunk_groups", json={"name": "PBX"}).json()["trunk_group_sid"]
    route(core, routed, elsewhere)
    assert fx.get("/dids").json() == {**listed, "count": 0, "items": [], "total": 0}
    assert fx.get(url).status_code == 404
    route(core, routed, tg)
    assert fx.get(url).json() == did


# --- calls ----------------------------------------------------------------------------------------


#: A call from a DID of the endpoint (its calling_did filled in by `_place_call`).
CALL = {
    "called_did": "15557654321",
    "url": "https://app.example.com/flexml/start",
    "status_callback_url": "https://app.example.com/flexml/status",
    "delay": 2.5,
}


def _place_call(
    fx: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Rent two numbers, route the first to the endpoint and call from it: that number, the
    other (not routed) one, and the call as created."""
    ours, not_routed = rent(core, 2)
    route(core, ours, auto_trunk_group(core, endpoint))
    r = fx.post("/calls", json={**CALL, "calling_did": ours["phonenumber"]})
    assert r.status_code == 200, r.text
    call: dict[str, Any] = r.json()
    return ours, not_routed, call


def test_calls_are_created_from_the_endpoints_dids_and_validated(
    fx: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    ours, not_routed, call = _place_call(fx, core, endpoint)
    account_sid = fx.get("/accounts").json()["items"][0]["account_sid"]
    body = {**CALL, "calling_did": ours["phonenumber"]}
    sid = call["call_sid"]
    assert call == {
        **body,
        "account_sid": account_sid,
        "attributes": {},
        "call_sid": sid,
        "date_created": call["date_created"],
        "method": "POST",
        "status_callback_method": "POST",
    }
    assert fx.get(f"/calls/{sid}").json() == call

    # A leading "+" names the same DID; the smallest body is the two numbers.
    r = fx.post("/calls", json={"calling_did": "+" + ours["phonenumber"], "called_did": "1555"})
    assert r.status_code == 200
    second = r.json()
    assert (second["delay"], second["url"], second["method"]) == (0, None, "POST")

    # calling_did must be a DID of this endpoint.
    r = fx.post("/calls", json={**body, "calling_did": not_routed["phonenumber"]})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "calling_did",
            "message": "is not a DID of this FlexML endpoint",
            "reference_sid": None,
        }
    ]
    r = fx.post("/calls", json={"calling_did": ours["phonenumber"]})
    assert r.status_code == 422
    assert error_fields(r) == {"called_did"}
    r = fx.post("/calls", json={**body, "method": "PUT", "delay": -1, "called_did": "call me"})
    assert r.status_code == 422
    assert error_fields(r) == {"method", "delay", "called_did"}
    listed = fx.get("/calls").json()
    assert [c["call_sid"] for c in listed["items"]] == [sid, second["call_sid"]]


def test_a_calls_status_callback_is_updated_and_delete_cancels_it(
    sandbox: Sandbox, fx: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    ours, _, call = _place_call(fx, core, endpoint)
    sid = call["call_sid"]
    kept = fx.post("/calls", json={"calling_did": ours["phonenumber"], "called_did": "1555"})
    assert kept.status_code == 200
    # Only the status callback can change.
    r = fx.patch(f"/calls/{sid}", json={"status_callback_method": "GET"})
    assert r.status_code == 200
    assert r.json() == {**call, "status_callback_method": "GET"}
    r = fx.patch(f"/calls/{sid}", json={"url": "https://elsewhere.example.com/"})
    assert r.status_code == 422
    assert error_fields(r) == {"url"}
    r = fx.put(f"/calls/{sid}", json={"status_callback_method": "POST"})
    assert r.status_code == 422
    assert error_fields(r) == {"status_callback_url"}

    # Another FlexML endpoint sees none of it.
    with client_for(sandbox, make_endpoint(core, "Other IVR", "flexml"), PREFIX) as other:
        assert other.get(f"/calls/{sid}").status_code == 404
        assert other.get("/calls").json()["total"] == 0
        body = {**CALL, "calling_did": ours["phonenumber"]}
        assert other.post("/calls", json=body).status_code == 422

    # DELETE cancels the call, and only that call.
    r = fx.delete(f"/calls/{sid}")
    assert r.status_code == 204
    assert r.content == b""
    assert assumptions.FLEXML_CALL_DELETE_REMOVES
    assert fx.get(f"/calls/{sid}").status_code == 404
    assert fx.delete(f"/calls/{sid}").status_code == 404
    assert fx.get("/calls").json()["total"] == 1
