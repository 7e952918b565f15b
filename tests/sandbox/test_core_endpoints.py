"""Core endpoints over real HTTP: every documented type, an app endpoint's credentials and
trunk group, updates and deletes.

One sandbox serves the whole module; each test makes endpoints of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_of, ok
from tests.sandbox.test_core_routing import GROUPS, deleted, error_fields, rent_any

pytestmark = pytest.mark.timeout(60)

#: Endpoint types the reference names (docs and SDK).
DOCUMENTED_ENDPOINT_TYPES = (
    "system_gateway",
    "third_party",
    "conference",
    "conference_playback",
    "conference_v2",
    "flexml",
    "mediator",
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_endpoints", seed=3)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def _create_endpoint(core: httpx.Client, name: str, kind: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = ok(
        core.post(
            "/endpoints",
            json={
                "name": name,
                "type": kind,
                "addresses": [
                    {"direction": "any", "ip": "10.1.10.69", "port": 5060, "transport": "udp"}
                ],
                "out_sip_username": "user",
                "out_sip_password": "s3cret-out",
            },
        )
    )
    return endpoint


def _assert_app_credentials_only_for_apps(
    core: httpx.Client, endpoint: dict[str, Any], is_app: bool
) -> None:
    """An app endpoint's properties carry its account and API credentials, findable by login."""
    props = endpoint["properties"]
    if is_app:
        assert set(props) >= {"account_sid", "api_url", "container_sid", "login", "password"}
        assert props["login"]
        assert props["password"]
        found = ok(
            core.get("/endpoints", params={"filter": f'properties.login eq "{props["login"]}"'})
        )
        assert [e["endpoint_sid"] for e in found["items"]] == [endpoint["endpoint_sid"]]
    else:
        assert "login" not in props
        assert "password" not in props


def _assert_trunk_group_only_for_apps(
    core: httpx.Client, endpoint: dict[str, Any], is_app: bool
) -> None:
    """An app endpoint comes with a trunk group of its name routing to it; others with none."""
    sid, name = endpoint["endpoint_sid"], endpoint["name"]
    groups = ok(
        core.get(
            GROUPS, params={"filter": f'trunks.endpoint_sid eq "{sid}"', "with_trunks": "true"}
        )
    )["items"]
    if is_app and assumptions.APP_ENDPOINT_CREATES_TRUNK_GROUP:
        assert len(groups) == 1
        assert [t["endpoint_sid"] for t in groups[0]["trunks"]] == [sid]
        assert groups[0]["name"] == name
        # A DID can be routed to the app through it.
        did = rent_any(core, trunk_group_sid=groups[0]["trunk_group_sid"])
        assert did["trunk_group_sid"] == groups[0]["trunk_group_sid"]
    else:
        assert groups == []


# system_gateway is CarrierX's, one per partner: tests/sandbox/test_endpoint_object.py.
@pytest.mark.parametrize("kind", [k for k in DOCUMENTED_ENDPOINT_TYPES if k != "system_gateway"])
def test_endpoint_types(core: httpx.Client, sandbox: Sandbox, kind: str) -> None:
    name = f"ep-{kind}"
    endpoint = _create_endpoint(core, name, kind)
    sid = endpoint["endpoint_sid"]
    assert endpoint["type"] == kind
    assert endpoint["name"] == name
    assert endpoint["partner_sid"] == sandbox.world.partner_sid
    assert endpoint["out_sip_username"] == "user"
    assert set(endpoint) >= {
        "addresses",
        "attributes",
        "capacity",
        "cps_limit",
        "properties",
        "transformations",
        "voip_token",
    }
    fetched = ok(core.get(f"/endpoints/{sid}"))
    assert fetched == endpoint
    listed = ok(core.get("/endpoints", params={"filter": f'type eq "{kind}"'}))
    assert listed["items"] == [fetched]
    assert not [key for key in fetched if key.startswith("_")], "no internal fields"
    # out_sip_password is returned like out_sip_username, as the documented samples show it
    # (assumptions.ENDPOINT_OUT_SIP_PASSWORD_SHOWN); only the admin /state hides it.
    for shown in (endpoint, fetched, listed["items"][0]):
        assert shown["out_sip_password"] == "s3cret-out"

    is_app = kind in assumptions.APP_ENDPOINT_TYPES
    _assert_app_credentials_only_for_apps(core, endpoint, is_app)
    _assert_trunk_group_only_for_apps(core, endpoint, is_app)


def test_endpoint_updates_keep_credentials_and_hide_passwords(core: httpx.Client) -> None:
    endpoint = ok(
        core.post("/endpoints", json={"name": "fx", "type": "flexml", "properties": {"a": 1}})
    )
    url = f"/endpoints/{endpoint['endpoint_sid']}"
    login, password = endpoint["properties"]["login"], endpoint["properties"]["password"]
    assert endpoint["properties"]["a"] == 1
    patched = ok(core.patch(url, json={"properties": {"b": 2}}))
    account, api_url = endpoint["properties"]["account_sid"], endpoint["properties"]["api_url"]
    assert patched["properties"] == {
        "account_sid": account,
        "api_url": api_url,
        "b": 2,
        "container_sid": None,
        "login": login,
        "password": password,
    }
    patched = ok(core.patch(url, json={"properties": {"login": "stolen", "password": "x"}}))
    assert patched["properties"]["login"] == login
    assert patched["properties"]["password"] == password
    # An out_sip_password set by PATCH is returned like out_sip_username.
    patched = ok(core.patch(url, json={"out_sip_password": "out-pw", "capacity": 3}))
    assert patched["out_sip_password"] == "out-pw"
    assert patched["capacity"] == 3
    assert ok(core.get(url))["out_sip_password"] == "out-pw"
    body = error_of(core.patch(url, json={"type": "mediator"}), 422)
    assert error_fields(body) == {"type": "field is read only"}
    error_of(core.post("/endpoints", json={"type": "fax"}), 422)
    error_of(core.patch(url, json={"cps_limit": 5}), 422)
    # Each app endpoint has its own login.
    other = ok(core.post("/endpoints", json={"name": "fx2", "type": "flexml"}))
    assert other["properties"]["login"] != login
    body = error_of(
        core.post("/endpoints", json={"type": "mediator", "properties": {"login": login}}), 409
    )
    assert body["errors"][0]["field"] == "properties.login"


def test_delete_endpoint(core: httpx.Client) -> None:
    endpoint = ok(core.post("/endpoints", json={"name": "tmp", "type": "third_party"}))
    url = f"/endpoints/{endpoint['endpoint_sid']}"
    deleted(core.delete(url))
    error_of(core.get(url), 404)
