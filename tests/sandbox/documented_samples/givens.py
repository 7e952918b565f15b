"""What a documented sample's request needs to exist first, made through the API.

Each set-up (a `given`) starts from a new sub-partner of the sandbox's own partner, with a token of
its own, so a sample sees a world of its own: its lists hold what the docs' do. It returns the
client the sample's request goes through and the values its `{placeholders}` name.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from bulkx.sandbox.resources.records import seed_records
from tests.conftest import Sandbox

_SERIAL = itertools.count(1)
#: The client_id of the OAuth token samples.
SAMPLE_CLIENT_ID = "5c7965f285344165b003ce1a3202e589"
PREFIXES = {
    "conference_v1": "/conference/v1",
    "conference_v2": "/conference/v2",
    "flexml": "/flexml/v1",
    "mediator": "/mediator/v1",
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


@dataclass
class Setup:
    """The sample's partner (a client for Core) and the values its request names."""

    sandbox: Sandbox
    stack: contextlib.ExitStack
    core: httpx.Client
    partner: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    #: The client the sample's request goes through (Core unless an app API's).
    client: httpx.Client | None = None

    def app(self, kind: str, api: str, name: str = "app") -> dict[str, Any]:
        """An app endpoint of this partner, and the sample's client for its API."""
        endpoint = ok(self.core.post("/endpoints", json={"name": name, "type": kind}))
        props = endpoint["properties"]
        client = self.sandbox.app_client(PREFIXES[api], props["login"], props["password"])
        self.client = self.stack.enter_context(client)
        return dict(endpoint)

    def available(self, capabilities: int, count: int = 1) -> list[dict[str, Any]]:
        query: dict[str, str | int] = {
            "filter": f"capabilities eq {capabilities}",
            "limit": count,
            "order": "shuffle",
        }
        items: list[dict[str, Any]] = ok(
            self.core.get("/phonenumber/available_dids", params=query)
        )["items"]
        assert len(items) == count
        return items

    def rent(self, capabilities: int = 31, **fields: Any) -> dict[str, Any]:
        number = self.available(capabilities)[0]["phonenumber"]
        did: dict[str, Any] = ok(
            self.core.post("/phonenumber/dids", json={"phonenumber": number, **fields})
        )
        return did

    def app_trunk_group(self, endpoint: dict[str, Any]) -> str:
        query = {"filter": f'trunks.endpoint_sid eq "{endpoint["endpoint_sid"]}"'}
        sid: str = ok(self.core.get("/trunk_groups", params=query))["items"][0]["trunk_group_sid"]
        return sid


def new_partner(sandbox: Sandbox, stack: contextlib.ExitStack) -> Setup:
    """A sub-partner of the sandbox's partner, as the Partner samples describe one, with a
    password-grant token of its own, requested as the Generate OAuth Bearer Token sample does
    (https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate: with its client_id and
    client_secret, which the token samples then show)."""
    serial = next(_SERIAL)
    login, password = f"sample_partner_{serial}_{time.time_ns()}", f"pw-{serial}-sample"
    # fmt: off
    details = {
        "login": login, "password": password, "name": "John Smith", "company_name": "CarrierX",
        "billing_email": "example@example.com", "owner_email": "example@example.com",
        "tech_email": "example@example.com", "country_code": "USA", "phonenumber": "15162065819",
        "zip": "90804", "charge_at": "20", "prepay_amount": "100",
    }
    # fmt: on
    with sandbox.core() as root:
        partner = ok(root.post("/partners", json=details))
    # fmt: off
    form = {
        "grant_type": "password", "client_id": SAMPLE_CLIENT_ID,
        "client_secret": "5033909114fe442cbbcb83b674dbf90c", "username": login,
        "password": password,
    }
    # fmt: on
    token = ok(httpx.post(f"{sandbox.core_url}/oauth/token", data=form, timeout=10))
    core = stack.enter_context(
        httpx.Client(
            base_url=sandbox.core_url,
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
    )
    values = {
        "partner_sid": partner["partner_sid"],
        "token_sid": token["token_sid"],
        "login": login,
        "password": password,
        "new_login": f"{login}_john",
    }
    return Setup(sandbox, stack, core, partner, values)


# --- the set-ups --------------------------------------------------------------------------------


def _partner(s: Setup) -> None:
    pass


def _third_party_endpoint(s: Setup) -> None:
    body = {"name": "my_third_party", "type": "third_party", "addresses": [{"ip": "1.1.2.13"}]}
    s.values["endpoint_sid"] = ok(s.core.post("/endpoints", json=body))["endpoint_sid"]


def _texting_number(s: Setup) -> None:
    item = s.available(31)[0]
    s.values.update(phonenumber=item["phonenumber"], did_sid=item["did_sid"])


def _rented_texting_did(s: Setup) -> None:
    did = s.rent(31)
    s.values.update(phonenumber=did["phonenumber"], did_sid=did["did_sid"])


def _enabled_texting_did(s: Setup) -> None:
    _rented_texting_did(s)
    url = f"/phonenumber/dids/{s.values['did_sid']}/messaging"
    body = {"campaign_sid": "fef13cdd-2f65-4ed8-8272-de2a940d0cb5", "enabled": True, "type": "a2p"}
    ok(s.core.post(url, json=body))


def _rented_voice_sms_did(s: Setup) -> None:
    did = s.rent(7)
    s.values.update(phonenumber=did["phonenumber"], did_sid=did["did_sid"])


def _did_group(s: Setup) -> None:
    group = ok(s.core.post("/phonenumber/did_groups", json={}))
    s.values["did_group_sid"] = group["did_group_sid"]


def _two_did_groups(s: Setup) -> None:
    for _ in range(2):
        ok(s.core.post("/phonenumber/did_groups", json={}))


def _rented_voice_only_did(s: Setup) -> None:
    did = s.rent(4)
    s.values.update(phonenumber=did["phonenumber"], did_sid=did["did_sid"])


def _partner_login(s: Setup) -> None:
    body = {
        "login": f"{s.partner['login']}_carrierx_partner",
        "password": "sub-login-pw",
        "token_scopes": ["partners.read", "partners.update"],
    }
    s.values["login_sid"] = ok(s.core.post("/oauth/logins", json=body))["login_sid"]


def _named_token(s: Setup) -> None:
    """The partner's only token is named as the sample's (`test_token`)."""
    ok(s.core.patch(f"/oauth/tokens/{s.values['token_sid']}", json={"name": "test_token"}))


def _app_records(s: Setup) -> None:
    """Records are the sandbox's own partner's (seeded ones): the sample reads them."""
    seed_records(s.sandbox.world, app_records=1)
    s.client = s.stack.enter_context(s.sandbox.core())


def _inbound_call_record(s: Setup) -> None:
    """An inbound call of the sandbox's own partner (seeded records are its own)."""
    seed_records(s.sandbox.world, calls=20)
    s.client = s.stack.enter_context(s.sandbox.core())
    query: dict[str, str | int] = {"filter": 'direction eq "inbound"', "limit": 1}
    s.values["dr_sid"] = ok(s.client.get("/calls/call_drs", params=query))["items"][0]["dr_sid"]


def _two_dids_and_group(s: Setup) -> None:
    numbers = [s.rent(31)["phonenumber"] for _ in range(2)]
    group = ok(s.core.post("/trunk_groups", json={"name": "batch target"}))
    s.values.update(number_1=numbers[0], number_2=numbers[1], tg_sid=group["trunk_group_sid"])


def _trunk_group(s: Setup) -> None:
    s.values["tg_sid"] = ok(s.core.post("/trunk_groups", json={"name": "TG"}))["trunk_group_sid"]


def _access_control_rule(s: Setup) -> None:
    body = {"field": "to", "quantifier": "any", "entries": ["1800", "1615"], "operation": "prefix"}
    s.values["rule_sid"] = ok(s.core.post("/accesscontrol/rules", json=body))["rule_sid"]


def _container(s: Setup) -> None:
    s.values["container_sid"] = ok(s.core.post("/storage/containers", json={}))["container_sid"]


def _domain_name(s: Setup) -> None:
    s.values["domain_name"] = f"newdomain-{s.partner['partner_sid'][:8]}.com"


def _domain(s: Setup) -> None:
    _domain_name(s)
    ok(s.core.post("/shortener/domains", json={"domain_name": s.values["domain_name"]}))


def _sub_partner(s: Setup) -> None:
    body = {"login": f"{s.partner['login']}_sub", "password": "sub-partner-pw"}
    s.values["sub_partner_sid"] = ok(s.core.post("/partners", json=body))["partner_sid"]


def _task_in_review(s: Setup) -> None:
    _two_dids_and_group(s)
    # fmt: off
    body = {
        "method": "PATCH", "type": "phonenumber", "field": "phonenumber",
        "entries": [s.values["number_1"], s.values["number_2"]],
        "data": {"trunk_group_sid": s.values["tg_sid"]},
    }
    # fmt: on
    sid = ok(s.core.post("/batch/tasks", json=body))["task_sid"]
    for _ in range(200):
        if ok(s.core.get(f"/batch/tasks/{sid}"))["status"] == "pending_review":
            break
        time.sleep(0.01)
    s.values["task_sid"] = sid


def _conference_v1(s: Setup) -> None:
    s.app("conference", "conference_v1", "my_conf")
    assert s.client is not None
    s.values["subscriber_sid"] = ok(s.client.get("/subscribers/whoami"))["sid"]


def _conference_v1_group(s: Setup) -> None:
    _conference_v1(s)
    assert s.client is not None
    group = ok(s.client.post("/didGroups", json={"callFlowId": 1, "name": "Test DID group"}))
    s.values["did_group_id"] = group["id"]


def _conference_v2(s: Setup) -> None:
    s.app("conference_v2", "conference_v2", "John Smith")
    assert s.client is not None
    flows = ok(s.client.get("/call_flows", params={"filter": 'name eq "secured"'}))["items"]
    s.values["secured_call_flow_sid"] = flows[0]["call_flow_sid"]


def _conference_v2_room(s: Setup) -> None:
    _conference_v2(s)
    assert s.client is not None
    codes = [
        {"access_code": "890671", "role": "host"},
        {"access_code": "265423", "role": "listener"},
        {"access_code": "143623", "role": "participant"},
    ]
    room = ok(
        s.client.post("/meeting_rooms", json={"name": "My meeting room", "access_codes": codes})
    )
    s.values["meeting_room_sid"] = room["meeting_room_sid"]


def _routed(s: Setup, kind: str, api: str, count: int = 1) -> dict[str, Any]:
    """An app endpoint with `count` rented numbers routed to it (its DIDs); the first's values."""
    endpoint = s.app(kind, api)
    group = s.app_trunk_group(endpoint)
    dids = [s.rent(31, trunk_group_sid=group) for _ in range(count)]
    s.values.update(phonenumber=dids[0]["phonenumber"], did_sid=dids[0]["did_sid"])
    for index, did in enumerate(dids, start=1):
        s.values[f"number_{index}"] = did["phonenumber"]
    return endpoint


def _flexml_did(s: Setup) -> None:
    _routed(s, "flexml", "flexml")


def _flexml_scheduled_call(s: Setup) -> None:
    _flexml_did(s)
    assert s.client is not None
    body = {"calling_did": s.values["phonenumber"], "called_did": "15162065317", "delay": 9993}
    ok(s.client.post("/calls", json=body))


def _mediator_did(s: Setup) -> None:
    _routed(s, "mediator", "mediator")


def _mediator_binding(s: Setup) -> None:
    _mediator_did(s)
    assert s.client is not None
    body = {"destination_did": "15162065337", "maximum_ttl": -1, "wait_origination_did_ttl": -1}
    s.values["binding_sid"] = ok(s.client.post("/bindings", json=body))["body"]["binding_sid"]


def _conference_v1_group_with_did(s: Setup) -> None:
    _conference_v1(s)
    assert s.client is not None
    body = {"callFlowId": 3, "name": "sample_conference_008_didGroup"}
    group = ok(s.client.post("/didGroups", json=body))
    ok(s.client.post("/dids", json={"didGroupId": group["id"], "phoneNumber": "15162065319"}))
    s.values["did_group_id"] = group["id"]


def _conference_v1_room(s: Setup) -> None:
    _conference_v1_group(s)
    assert s.client is not None
    rooms = f"/subscribers/{s.values['subscriber_sid']}/meetingRooms"
    room = ok(s.client.post(rooms, json={"primaryDidGroupId": s.values["did_group_id"]}))
    s.values["meeting_number"] = room["meetingNumber"]


def _conference_v1_key(s: Setup) -> None:
    _conference_v1_room(s)
    assert s.client is not None
    keys = f"/subscribers/{s.values['subscriber_sid']}/meetingRooms/{s.values['meeting_number']}"
    key = ok(s.client.post(f"{keys}/keychain", json={"accessCode": "3141591", "role": 2}))
    s.values["key_id"] = key["id"]


def _conference_v2_did(s: Setup) -> None:
    """A DID routed to the endpoint, on the secured call flow, and a DID group of the account."""
    _routed(s, "conference_v2", "conference_v2")
    assert s.client is not None
    flows = ok(s.client.get("/call_flows", params={"filter": 'name eq "secured"'}))["items"]
    flow = flows[0]["call_flow_sid"]
    ok(s.client.patch(f"/dids/{s.values['did_sid']}", json={"call_flow_sid": flow}))
    group = ok(s.client.post("/did_groups", json={"name": "Sales"}))
    s.values["did_group_sid"] = group["did_group_sid"]


def _flexml_account(s: Setup) -> None:
    s.app("flexml", "flexml", "John Smith")
    assert s.client is not None
    s.values["account_sid"] = ok(s.client.get("/accounts"))["items"][0]["account_sid"]


GIVENS: dict[str, Callable[[Setup], None]] = {
    "flexml_account": _flexml_account,
    "conference_v2_did": _conference_v2_did,
    "conference_v1_room": _conference_v1_room,
    "conference_v1_group_with_did": _conference_v1_group_with_did,
    "conference_v1_key": _conference_v1_key,
    "mediator_did": _mediator_did,
    "mediator_binding": _mediator_binding,
    "flexml_did": _flexml_did,
    "flexml_scheduled_call": _flexml_scheduled_call,
    "conference_v2": _conference_v2,
    "conference_v2_room": _conference_v2_room,
    "conference_v1": _conference_v1,
    "conference_v1_group": _conference_v1_group,
    "partner": _partner,
    "third_party_endpoint": _third_party_endpoint,
    "texting_number": _texting_number,
    "rented_texting_did": _rented_texting_did,
    "enabled_texting_did": _enabled_texting_did,
    "rented_voice_only_did": _rented_voice_only_did,
    "rented_voice_sms_did": _rented_voice_sms_did,
    "did_group": _did_group,
    "two_did_groups": _two_did_groups,
    "partner_login": _partner_login,
    "named_token": _named_token,
    "app_records": _app_records,
    "inbound_call_record": _inbound_call_record,
    "two_dids_and_group": _two_dids_and_group,
    "task_in_review": _task_in_review,
    "trunk_group": _trunk_group,
    "access_control_rule": _access_control_rule,
    "container": _container,
    "domain_name": _domain_name,
    "domain": _domain,
    "sub_partner": _sub_partner,
}


@contextlib.contextmanager
def given(sandbox: Sandbox, name: str) -> Iterator[Setup]:
    """The set-up `name` for one sample, its clients closed afterwards."""
    with contextlib.ExitStack() as stack:
        setup = new_partner(sandbox, stack)
        GIVENS[name](setup)
        if setup.client is None:
            setup.client = setup.core
        yield setup
