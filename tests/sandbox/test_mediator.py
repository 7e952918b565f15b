"""The sandbox's Mediator API (`/mediator/v1`), over real HTTP.

Every Mediator success is wrapped as `{"body": ..., "status": <http status>}`; `body_of` checks the
wrapper on every answer these tests read, lists included. Errors are not wrapped: they come in the
Core error shape (assumptions.MEDIATOR_WRAPS_ERRORS), which `error_of` checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox
from tests.sandbox.test_conference_v2 import client_for, make_endpoint, rent
from tests.sandbox.test_flexml import auto_trunk_group, route

pytestmark = pytest.mark.timeout(30)

PREFIX = "/mediator/v1"


def body_of(r: httpx.Response, status: int = 200) -> Any:
    """The payload of a wrapped response, after checking the wrapper and the status."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    wrapped = r.json()
    assert set(wrapped) == {"body", "status"}
    assert wrapped["status"] == status
    return wrapped["body"]


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """An error, unwrapped as CarrierX's SDK reads it: `errors` at the top level."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert set(body) == {"message", "errors"}
    return body


@pytest.fixture
def endpoint(core: httpx.Client) -> dict[str, Any]:
    return make_endpoint(core, "Masking", "mediator")


@pytest.fixture
def med(sandbox: Sandbox, endpoint: dict[str, Any]) -> Iterator[httpx.Client]:
    with client_for(sandbox, endpoint, PREFIX) as client:
        yield client


def routed_dids(core: httpx.Client, endpoint: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Rent `count` numbers and route them to the endpoint."""
    dids = rent(core, count)
    tg = auto_trunk_group(core, endpoint)
    for did in dids:
        route(core, did, tg)
    return dids


# --- the wrapper and authentication ---------------------------------------------------------------


def test_successes_are_wrapped_errors_are_not(
    sandbox: Sandbox, core: httpx.Client, endpoint: dict[str, Any], med: httpx.Client
) -> None:
    url = f"{sandbox.url}{PREFIX}/bindings"
    login = endpoint["properties"]["login"]
    assert not assumptions.MEDIATOR_WRAPS_ERRORS
    for r in (
        httpx.get(url),
        httpx.get(url, auth=(login, "not-the-password")),
        httpx.get(url, headers={"Authorization": f"Bearer {sandbox.token}"}),
    ):
        error = error_of(r, 401)
        assert error["message"] == "Bad credentials"
        assert error["errors"][0]["field"] is None
    for kind in ("flexml", "conference_v2"):
        with client_for(sandbox, make_endpoint(core, kind, kind), PREFIX) as wrong_type:
            assert error_of(wrong_type.get("/bindings"), 401)["message"] == "Bad credentials"

    assert error_of(med.get("/bindings/no-such-sid"), 404)["errors"][0]["reference_sid"] == (
        "no-such-sid"
    )
    assert error_of(med.get("/no/such/path"), 404)["message"] == "Not Found"
    assert error_of(med.put("/bindings", json={}), 405)["message"] == "Method Not Allowed"
    assert error_of(med.post("/accounts", json={}), 405)["errors"][0]["message"] == (
        "POST is not allowed here"
    )
    r = med.post("/bindings", content=b"{not json", headers={"content-type": "application/json"})
    assert error_of(r, 400)["message"] == assumptions.INVALID_JSON_MESSAGE
    assert error_of(med.get("/bindings", params={"limit": "x"}), 400)["errors"][0]["field"] == (
        "limit"
    )
    error = error_of(med.post("/bindings", json={"name": "no destination"}), 422)
    assert error["errors"] == [
        {"field": "destination_did", "message": "field is required", "reference_sid": None}
    ]


def test_account_is_the_endpoints(med: httpx.Client, endpoint: dict[str, Any]) -> None:
    listed = body_of(med.get("/accounts"))
    assert (listed["count"], listed["total"], listed["has_more"]) == (1, 1, False)
    me = listed["items"][0]
    assert set(me) == set(assumptions.MEDIATOR_ACCOUNT_FIELDS)
    assert me["login"] == endpoint["properties"]["login"]
    assert me["name"] == "Masking"
    assert me["partner_sid"] == endpoint["partner_sid"]
    assert body_of(med.get(f"/accounts/{me['account_sid']}")) == me
    error_of(med.patch(f"/accounts/{me['account_sid']}", json={"name": "x"}), 405)


def test_dids_are_a_read_only_view_of_core_routing(
    med: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    assert body_of(med.get("/dids"))["items"] == []
    (did,) = routed_dids(core, endpoint, 1)
    account_sid = body_of(med.get("/accounts"))["items"][0]["account_sid"]
    shown = {
        "account_sid": account_sid,
        "country_code": did["country_code"],
        "did_sid": did["did_sid"],
        "in_country_format": did["in_country_format"],
        "international_format": did["international_format"],
        "phonenumber": did["phonenumber"],
    }
    assert body_of(med.get("/dids"))["items"] == [shown]
    assert body_of(med.get(f"/dids/{did['did_sid']}")) == shown
    error_of(med.patch(f"/dids/{did['did_sid']}", json={}), 405)
    error_of(med.post("/dids", json={}), 405)
    route(core, did, None)
    assert body_of(med.get("/dids"))["total"] == 0
    error_of(med.get(f"/dids/{did['did_sid']}"), 404)


# --- bindings -------------------------------------------------------------------------------------


def _assert_binding_for_alice_through(
    med: httpx.Client, binding: dict[str, Any], did: dict[str, Any]
) -> None:
    """`binding` is Alice's (to 15551230001), with defaults, redirected through `did`."""
    number = did["phonenumber"]
    assert binding == {
        "account_sid": body_of(med.get("/accounts"))["items"][0]["account_sid"],
        "attributes": {},
        "binding_sid": binding["binding_sid"],
        "date_created": binding["date_created"],
        "destination_did": "15551230001",
        "dtmf": None,
        "maximum_ttl": assumptions.MEDIATOR_BINDING_DEFAULT_MAXIMUM_TTL,
        "name": "Alice",
        "origination_did": None,
        "redirect_did": number,
        "redirect_did_info": {
            "country_code": did["country_code"],
            "e164_format": "+" + number,
            "in_country_format": did["in_country_format"],
            "international_format": did["international_format"],
            "phonenumber": number,
        },
        "wait_origination_did_ttl": assumptions.MEDIATOR_BINDING_DEFAULT_WAIT_ORIGINATION_DID_TTL,
    }


def test_binding_redirect_did_is_assigned_until_none_is_free(
    med: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    # No DID routed to the endpoint yet: nothing to assign (the documented 409).
    error = error_of(med.post("/bindings", json={"destination_did": "15551230001"}), 409)
    assert error["errors"][0]["field"] == "redirect_did"

    first_did, second_did = routed_dids(core, endpoint, 2)
    r = med.post("/bindings", json={"destination_did": "15551230001", "name": "Alice"})
    first = body_of(r)
    sid = first["binding_sid"]
    number = first_did["phonenumber"]
    _assert_binding_for_alice_through(med, first, first_did)
    assert body_of(med.get(f"/bindings/{sid}")) == first

    # reuse=true answers the identical binding instead of taking another DID.
    alice = {"destination_did": "15551230001", "name": "Alice"}
    assert body_of(med.post("/bindings", params={"reuse": "true"}, json=alice)) == first
    assert body_of(med.post("/bindings", json={**alice, "reuse": True})) == first  # the SDK's way
    assert body_of(med.get("/bindings"))["total"] == 1

    # A UK destination: no DID in its country, unless fallback_country allows the US ones.
    uk = {"destination_did": "+442071234567"}
    error = error_of(med.post("/bindings", json=uk), 409)
    assert error["errors"][0]["field"] == "redirect_did"
    r = med.post("/bindings", params={"fallback_country": first_did["country_code"]}, json=uk)
    assert body_of(r)["redirect_did"] == second_did["phonenumber"]

    # Both DIDs are bound for every caller now.
    error = error_of(med.post("/bindings", json={"destination_did": "15551230002"}), 409)
    assert error["message"].startswith("no DID of the endpoint is free")
    assert body_of(med.get("/bindings"))["total"] == 2
    # An explicit redirect_did: one of ours (422 otherwise) and not bound for the same callers.
    r = med.post(
        "/bindings", json={"destination_did": "15551230002", "redirect_did": "15550000000"}
    )
    assert error_of(r, 422)["errors"][0]["field"] == "redirect_did"
    r = med.post("/bindings", json={"destination_did": "15551230002", "redirect_did": number})
    assert error_of(r, 409)["errors"][0]["reference_sid"] == sid

    # Deleting frees the DID (204, no body to wrap).
    r = med.delete(f"/bindings/{sid}")
    assert (r.status_code, r.content) == (204, b"")
    error_of(med.get(f"/bindings/{sid}"), 404)
    r = med.post("/bindings", json={"destination_did": "15551230002"})
    assert body_of(r)["redirect_did"] == number


def test_binding_updates_and_origination_dids(
    med: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    (did,) = routed_dids(core, endpoint, 1)
    number = did["phonenumber"]
    # One DID serves several bindings with different callers.
    a, b = (
        body_of(med.post("/bindings", json={"destination_did": to, "origination_did": caller}))
        for to, caller in (("1555000001", "1555999001"), ("1555000002", "1555999002"))
    )
    assert a["redirect_did"] == b["redirect_did"] == number
    # ... but a binding for any caller would clash with both.
    error_of(med.post("/bindings", json={"destination_did": "1555000003"}), 409)

    url = f"/bindings/{b['binding_sid']}"
    r = med.patch(url, json={"origination_did": "1555999001"})
    assert error_of(r, 409)["errors"][0]["reference_sid"] == a["binding_sid"]
    r = med.patch(url, json={"dtmf": "12,,#", "maximum_ttl": -1, "attributes": {"ringback": "x"}})
    assert body_of(r) == {**b, "dtmf": "12,,#", "maximum_ttl": -1, "attributes": {"ringback": "x"}}
    for bad in ({"maximum_ttl": 0}, {"dtmf": "12a"}, {"destination_did": None}):
        error_of(med.patch(url, json=bad), 422)
    error_of(med.patch(url, json={"redirect_did_info": {}}), 422)
    error_of(med.put(url, json={"destination_did": "1555000002"}), 422)


def test_binding_list_envelope_is_inside_the_wrapper(
    med: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    routed_dids(core, endpoint, 1)
    bodies = [
        {"destination_did": f"155500000{i}", "origination_did": f"155599900{i}"} for i in range(5)
    ]
    made = [body_of(med.post("/bindings", json=body)) for body in bodies]
    page = body_of(med.get("/bindings", params={"limit": 2}))
    counts = (page["count"], page["has_more"], page["limit"], page["offset"], page["total"])
    assert counts == (2, True, 2, 0, 5)
    sids: list[str] = []
    while True:
        sids += [b["binding_sid"] for b in page["items"]]
        next_url = page["pagination"].get("next")
        if not next_url:
            break
        assert next_url.startswith(f"{med.base_url}".rstrip("/") + "/bindings?")
        page = body_of(med.get(next_url))
    assert sids == [b["binding_sid"] for b in made]
    assert page["pagination"] == {"previous": page["pagination"]["previous"]}

    r = med.get("/bindings", params={"filter": 'destination_did eq "1555000003"'})
    assert [b["binding_sid"] for b in body_of(r)["items"]] == [made[3]["binding_sid"]]
    r = med.get("/bindings", params={"include_fields": "binding_sid", "limit": 1})
    assert body_of(r)["items"] == [{"binding_sid": made[0]["binding_sid"]}]
    assert error_of(med.get("/bindings", params={"filter": 'nope eq "1"'}), 400)


# --- dialouts -------------------------------------------------------------------------------------


def test_dialout_numbers_are_unique_across_dialouts(
    med: httpx.Client, core: httpx.Client, endpoint: dict[str, Any]
) -> None:
    first_did, second_did = routed_dids(core, endpoint, 2)
    stages = {"stage_one_destination_did": "1555100001", "stage_two_destination_did": "1555100002"}
    one = body_of(med.post("/dialouts", json=stages))
    assert one == {
        "account_sid": one["account_sid"],
        "attributes": dict(assumptions.MEDIATOR_DIALOUT_DEFAULT_ATTRIBUTES),
        "date_created": one["date_created"],
        "delay": 0,
        "dialout_sid": one["dialout_sid"],
        "redirect_did": first_did["phonenumber"],
        **stages,
    }
    assert body_of(med.get(f"/dialouts/{one['dialout_sid']}")) == one

    # The same number in any slot of another dialout is a 409 naming that dialout.
    clash = {"stage_one_destination_did": "1555100009", "stage_two_destination_did": "1555100001"}
    error = error_of(med.post("/dialouts", json=clash), 409)
    assert error["errors"] == [
        {
            "field": "stage_two_destination_did",
            "message": "1555100001 is in another dialout",
            "reference_sid": one["dialout_sid"],
        }
    ]
    other = {"stage_one_destination_did": "1555200001", "stage_two_destination_did": "1555200002"}
    r = med.post("/dialouts", json={**other, "redirect_did": first_did["phonenumber"]})
    assert error_of(r, 409)["errors"][0]["field"] == "redirect_did"
    r = med.post("/dialouts", json={**other, "stage_two_destination_did": "1555200001"})
    assert error_of(r, 422)["message"] == assumptions.MESSAGE_BY_STATUS[422]
    error_of(med.post("/dialouts", json={"stage_one_destination_did": "1555200001"}), 422)

    two = body_of(med.post("/dialouts", json={**other, "delay": 5}))
    assert two["redirect_did"] == second_did["phonenumber"]
    # No DID left for a third one.
    third = {"stage_one_destination_did": "1555300001", "stage_two_destination_did": "1555300002"}
    assert error_of(med.post("/dialouts", json=third), 409)["errors"][0]["field"] == "redirect_did"
    listed = body_of(med.get("/dialouts"))
    assert [d["dialout_sid"] for d in listed["items"]] == [one["dialout_sid"], two["dialout_sid"]]

    # Updates keep the rule; a dialout may keep its own numbers.
    url = f"/dialouts/{two['dialout_sid']}"
    error_of(med.patch(url, json={"stage_one_destination_did": "1555100002"}), 409)
    r = med.patch(url, json={"stage_one_destination_did": "1555200003", "delay": 1})
    assert body_of(r) == {**two, "stage_one_destination_did": "1555200003", "delay": 1}

    r = med.delete(f"/dialouts/{one['dialout_sid']}")
    assert (r.status_code, r.content) == (204, b"")
    assert body_of(med.post("/dialouts", json=clash))["redirect_did"] == first_did["phonenumber"]
