"""The Endpoint object as CarrierX documents it (issue 16 item 3), over real HTTP.

- Every field of https://docs.carrierx.com/voice/core-api/endpoints/endpoint: `out_sip_password`,
  addresses with their documented defaults (the create and list samples, .../endpoint/create and
  .../endpoint/get), `voip_token` on third-party endpoints, and `account_sid`, `api_url` and
  `container_sid` among an app endpoint's properties (the conference create sample).
- "Each partner account is provided with a system_gateway endpoint ... [it] cannot be modified"
  (https://docs.carrierx.com/voice/core-api/endpoints); seeded CDRs name it.
- Secrets stay out of the admin `/_sandbox/state`.
- A plan with endpoints is clean after it is applied: bulkx compares only what a plan names, so
  the defaults the server fills in are not changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.resources.records import seed_records
from bulkx.sandbox.resources.routing import system_gateway_sid
from tests.conftest import Sandbox, module_sandbox
from tests.kinds.cli import Bulkx, write
from tests.sandbox.support import error_fields, error_of, ok, stored

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "endpoint_object", seed=5)


@pytest.fixture
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def _gateway(core: httpx.Client) -> dict[str, Any]:
    items = ok(core.get("/endpoints", params={"filter": 'type eq "system_gateway"'}))["items"]
    assert len(items) == 1, items
    gateway: dict[str, Any] = items[0]
    return gateway


# --- the system gateway ----------------------------------------------------------------------


def test_every_partner_has_its_system_gateway_and_cannot_change_it(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    gateway = _gateway(core)
    assert gateway["name"] == assumptions.SYSTEM_GATEWAY_NAME
    assert gateway["partner_sid"] == sandbox.world.partner_sid
    assert gateway["endpoint_sid"] == system_gateway_sid(sandbox.world.partner_sid)
    assert gateway["addresses"] == [
        {**assumptions.ENDPOINT_ADDRESS_DEFAULTS, "ip": assumptions.SYSTEM_GATEWAY_IP}
    ]
    assert gateway["properties"] == {} and gateway["voip_token"] is None
    url = f"/endpoints/{gateway['endpoint_sid']}"
    status = assumptions.SYSTEM_GATEWAY_CHANGE_STATUS
    error_of(core.patch(url, json={"name": "mine now"}), status)
    error_of(core.put(url, json={**gateway}), status)
    error_of(core.delete(url), status)
    assert ok(core.get(url)) == gateway
    assert error_fields(core.post("/endpoints", json={"type": "system_gateway"}), 422) == {"type"}


def test_a_new_sub_partner_gets_its_own_gateway_and_goes_with_it(core: httpx.Client) -> None:
    login = f"gw_{uuid.uuid4().hex[:8]}"
    partner = ok(core.post("/partners", json={"login": login, "password": "pw-gw-sub"}))
    sid = partner["partner_sid"]
    token = ok(core.post(f"/oauth/token/{sid}", data={}))["access_token"]
    with httpx.Client(
        base_url=str(core.base_url), headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as sub:
        gateway = _gateway(sub)
    assert gateway["partner_sid"] == sid
    assert gateway["endpoint_sid"] == system_gateway_sid(sid)
    # The gateway is CarrierX's: it does not keep the partner from being deleted, and goes too.
    assert core.delete(f"/partners/{sid}").status_code == 204
    assert not [e for e in ok(core.get("/endpoints"))["items"] if e["partner_sid"] == sid]


def test_seeded_calls_name_the_gateway_as_their_outside_leg(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    seed_records(sandbox.world, calls=10)
    gateway = _gateway(core)["endpoint_sid"]
    records = ok(core.get("/calls/call_drs", params={"limit": 10}))["items"]
    for record in records:
        outside = "endpoint_sid_src" if record["direction"] == "inbound" else "endpoint_sid_dst"
        assert record[outside] == gateway
    assert ok(core.get(f"/endpoints/{gateway}"))["type"] == "system_gateway"


# --- the documented fields ---------------------------------------------------------------------


def test_addresses_answer_every_documented_default(core: httpx.Client) -> None:
    # fmt: off
    body = {
        "name": "pbx", "type": "third_party",
        "addresses": [{"ip": "1.1.2.13", "port": "5060"}, {"ip": "pbx.example.com", "srtp": True,
                                                            "transport": "tls", "port": 5061}],
    }
    # fmt: on
    endpoint = ok(core.post("/endpoints", json=body))
    defaults = assumptions.ENDPOINT_ADDRESS_DEFAULTS
    assert endpoint["addresses"] == [
        {**defaults, "ip": "1.1.2.13"},
        {**defaults, "ip": "pbx.example.com", "port": 5061, "srtp": True, "transport": "tls"},
    ]
    # A third-party endpoint has a voip_token (a UUID, as the sample's); the fields are there.
    assert uuid.UUID(endpoint["voip_token"])
    assert endpoint["out_sip_password"] is None and endpoint["out_sip_username"] is None
    moved = {"addresses": [{"ip": "2.2.2.2", "dst_port": "5080"}]}
    patched = ok(core.patch(f"/endpoints/{endpoint['endpoint_sid']}", json=moved))
    assert patched["addresses"] == [{**defaults, "ip": "2.2.2.2", "dst_port": 5080}]
    assert patched["voip_token"] == endpoint["voip_token"]
    for bad in (
        [{"port": 5060}],
        [{"ip": "1.1.1.1", "port": "x"}],
        [{"ip": "1.1.1.1", "tls": 1}],
        ["1.1.1.1"],
    ):
        r = core.post("/endpoints", json={"name": "bad", "addresses": bad})
        assert error_fields(r, 422) == {"addresses"}, bad


def test_app_endpoints_carry_their_account_api_url_and_container(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    endpoint = ok(core.post("/endpoints", json={"name": "bridge", "type": "conference_v2"}))
    props = endpoint["properties"]
    assert set(props) == {"account_sid", "api_url", "container_sid", "login", "password"}
    assert endpoint["voip_token"] is None
    assert props["container_sid"] is assumptions.APP_ENDPOINT_CONTAINER_SID_DEFAULT
    # api_url is this sandbox's own Conference v2 mount, and the account is the API's account.
    assert props["api_url"] == f"{sandbox.url}/conference/v2"
    with httpx.Client(auth=(props["login"], props["password"]), timeout=10) as app:
        me = ok(app.get(f"{props['api_url']}/accounts/whoami"))
    assert me["account_sid"] == props["account_sid"]
    # container_sid is the partner's to set; the server's properties stay.
    url = f"/endpoints/{endpoint['endpoint_sid']}"
    container = ok(core.post("/storage/containers", json={}))["container_sid"]
    sent = {"container_sid": container, "account_sid": "x", "api_url": "y"}
    patched = ok(core.patch(url, json={"properties": sent}))
    assert patched["properties"] == {**props, "container_sid": container}
    listed = ok(core.get("/endpoints", params={"filter": 'name eq "bridge"'}))["items"]
    assert listed == [patched]
    flexml = ok(core.post("/endpoints", json={"name": "fx", "type": "flexml"}))
    assert flexml["properties"]["api_url"] == f"{sandbox.url}/flexml/v1"


def test_the_admin_state_never_shows_an_endpoint_secret(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    # fmt: off
    body = {
        "name": "secretive", "type": "third_party", "out_sip_username": "u",
        "out_sip_password": "out-pw-4411",
        "addresses": [{"ip": "3.3.3.3", "sip_username": "a", "sip_password": "addr-pw-4412"}],
    }
    # fmt: on
    shown = ok(core.post("/endpoints", json=body))
    assert shown["out_sip_password"] == "out-pw-4411"  # the API answers it, as documented
    app = ok(core.post("/endpoints", json={"name": "secretive-app", "type": "mediator"}))
    rows = {row["name"]: row for row in stored(sandbox, "endpoints")}
    third, hosted = rows["secretive"], rows["secretive-app"]
    assert third["out_sip_password"] == "REDACTED"
    assert third["addresses"][0]["sip_password"] == "REDACTED"
    assert third["addresses"][0]["sip_username"] == "a"
    assert third["voip_token"] == "REDACTED"
    assert hosted["properties"]["password"] == "REDACTED"
    assert hosted["properties"]["login"] == app["properties"]["login"]
    text = str(rows)
    for secret in (
        "out-pw-4411",
        "addr-pw-4412",
        shown["voip_token"],
        app["properties"]["password"],
    ):
        assert secret not in text


# --- shapes around the endpoint ----------------------------------------------------------------


def test_the_partner_views_are_the_documented_partner_object(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    """/oauth/whoami and the `partner` of with_related=true are GET /partners/{sid}'s object
    (https://docs.carrierx.com/voice/core-api/partners/partner/get-by-sid), nothing internal."""
    partner = ok(core.get(f"/partners/{sandbox.world.partner_sid}"))
    assert len(partner) == 31 and "prepay" not in partner and "password" not in partner
    assert ok(core.get("/oauth/whoami")) == partner
    related = ok(core.get("/endpoints", params={"with_related": "true"}))["items"]
    assert related and all(e["partner"] == partner for e in related)


def test_a_missing_endpoint_is_the_documented_no_item_error(core: httpx.Client) -> None:
    sid = str(uuid.uuid4())
    body = error_of(core.get(f"/endpoints/{sid}"), 404)
    # https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable
    assert body["message"] == "no item error"
    assert body["errors"] == [
        {"field": None, "message": "cannot find item by sid", "reference_sid": sid}
    ]  # reference_sid names the sid: assumptions.NOT_FOUND_NAMES_SID


def test_a_path_the_api_lacks_is_not_a_missing_item(sandbox: Sandbox, core: httpx.Client) -> None:
    # The docs show only the missing item's 404; a wrong URL reads otherwise, in Core and in
    # Mediator's API alike (assumptions.UNKNOWN_PATH_MESSAGE).
    body = error_of(core.get("/endpointz"), 404)
    assert body["message"] == assumptions.UNKNOWN_PATH_MESSAGE
    assert body["message"] != "no item error"
    assert body["errors"][0]["message"] == "no such path: /core/v2/endpointz"
    endpoint = ok(core.post("/endpoints", json={"name": "paths", "type": "mediator"}))
    props = endpoint["properties"]
    with sandbox.app_client("/mediator/v1", props["login"], props["password"]) as mediator:
        answer = mediator.get("/bindingz")
    assert answer.status_code == 404
    assert answer.json()["message"] == assumptions.UNKNOWN_PATH_MESSAGE  # unwrapped, as every error


# --- bulkx ---------------------------------------------------------------------------------------

PLAN = """
version: 1
steps:
  - kind: endpoint
    name: endpoints
    items:
      - {name: office-pbx, type: third_party, capacity: 20}
      - {name: desk-conference, type: conference_v2}
      - {name: relay, type: mediator, attributes: {team: ops}}
"""


def test_a_plan_with_endpoints_is_clean_after_apply(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server fills in addresses, properties, voip_token and the gateway: bulkx manages none
    of them, so `bulkx plan` has nothing left to do once the plan is applied."""
    monkeypatch.chdir(tmp_path)
    bulkx = Bulkx(sandbox)
    plan = write(tmp_path / "endpoints.yaml", PLAN)
    assert len(bulkx.changes(plan)) == 3
    bulkx.apply(plan)  # asserts `bulkx plan` is then empty
    names = {e["name"] for e in bulkx.get("/endpoints")}
    assert {"office-pbx", "desk-conference", "relay", assumptions.SYSTEM_GATEWAY_NAME} <= names
