"""Core routing objects over real HTTP: trunk groups and their trunks, access control rules,
prefixes and LRN prefixes, DID groups. (Endpoints: tests/sandbox/test_core_endpoints.py.)

One sandbox serves the module; each test creates the objects it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_of, ok

pytestmark = pytest.mark.timeout(60)

GROUPS = "/trunk_groups"

#: Trunk group defaults from the reference §5.6.
TRUNK_GROUP_DEFAULTS = {
    "acls": [],
    "external_handlers": [],
    "hard_failure_codes": "408;",
    "hard_failure_cooldown": 120,
    "hard_failure_interval": 60,
    "hard_failure_last_resort": "first",
    "hard_failure_threshold": 3,
    "routing_data": None,
    "routing_type": "failover",
    "sip_options_locations": [],
    "sip_options_threshold": 3,
    "soft_failure_codes": "408;",
    "transformations": [],
}
#: Trunk defaults from the reference §5.7.
TRUNK_DEFAULTS = {
    "acls": [],
    "allow_forward": "disabled",
    "allow_transfer": False,
    "asn_mode": "disable",
    "call_type": "regular",
    "codec": None,
    "endpoint_sid": None,
    "in_capacity": 0,
    "in_identity_format": "passthrough",
    "in_identity_mode": "passthrough",
    "in_rfc_4694_mode": "cut_all",
    "location_sid": None,
    "out_capacity": 0,
    "out_identity_mode": "passthrough",
    "out_rfc_4694_mode": "cut_all",
    "priority": 0,
    "relay_sip_headers": [],
    "transformations": [],
    "weight": 0,
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_routing", seed=3)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def error_fields(body: dict[str, Any]) -> dict[str, str]:
    return {str(e["field"]): str(e["message"]) for e in body["errors"]}


def deleted(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""


def rent_any(core: httpx.Client, **fields: Any) -> dict[str, Any]:
    did: dict[str, Any] = ok(core.post("/phonenumber/dids", json=fields))
    return did


# --- trunk groups ------------------------------------------------------------------------------


def test_trunk_group_defaults_and_nested_trunks(core: httpx.Client, sandbox: Sandbox) -> None:
    body = {"name": "carrier A", "trunks": [{"name": "primary", "priority": 1}, {}]}
    group = ok(core.post(GROUPS, params={"with_trunks": "true"}, json=body))
    assert {k: group[k] for k in TRUNK_GROUP_DEFAULTS} == TRUNK_GROUP_DEFAULTS
    assert group["name"] == "carrier A"
    assert group["partner_sid"] == sandbox.world.partner_sid
    assert list(group) == sorted(group)
    primary, second = group["trunks"]
    assert {k: primary[k] for k in TRUNK_DEFAULTS if k != "priority"} == {
        k: v for k, v in TRUNK_DEFAULTS.items() if k != "priority"
    }
    assert primary["priority"] == 1
    assert primary["name"] == "primary"
    assert {k: second[k] for k in TRUNK_DEFAULTS} == TRUNK_DEFAULTS
    assert primary["trunk_sid"] != second["trunk_sid"]
    sid = group["trunk_group_sid"]

    # GET and list show the trunks only with with_trunks=true.
    plain = ok(core.get(f"{GROUPS}/{sid}"))
    assert "trunks" not in plain
    assert plain == {k: v for k, v in group.items() if k != "trunks"}
    assert ok(core.get(f"{GROUPS}/{sid}", params={"with_trunks": "true"})) == group
    listed = ok(core.get(GROUPS, params={"filter": f'trunk_group_sid eq "{sid}"'}))
    assert listed["items"] == [plain]
    listed = ok(
        core.get(GROUPS, params={"filter": f'trunk_group_sid eq "{sid}"', "with_trunks": "true"})
    )
    assert listed["items"] == [group]
    related = ok(core.get(f"{GROUPS}/{sid}", params={"with_related": "true"}))
    assert related["partner"]["partner_sid"] == sandbox.world.partner_sid

    # Created without with_trunks, the trunks are still stored.
    quiet = ok(core.post(GROUPS, json={"name": "quiet", "trunks": [{"name": "t"}]}))
    assert "trunks" not in quiet
    trunks = ok(core.get(f"{GROUPS}/{quiet['trunk_group_sid']}/trunks"))
    assert [t["name"] for t in trunks["items"]] == ["t"]
    assert trunks["total"] == 1


def test_trunk_group_validation(core: httpx.Client) -> None:
    body = error_of(core.post(GROUPS, json={"hard_failure_last_resort": "never", "bogus": 1}), 422)
    assert set(error_fields(body)) == {"hard_failure_last_resort", "bogus"}
    body = error_of(
        core.post(GROUPS, json={"trunks": [{"codec": "mp3"}, "x", {"endpoint_sid": "nope"}]}), 422
    )
    assert set(error_fields(body)) == {"trunks[0].codec", "trunks[1]", "trunks[2].endpoint_sid"}
    body = error_of(core.post(GROUPS, json={"trunk_group_sid": "mine"}), 422)
    assert error_fields(body) == {"trunk_group_sid": "field is read only"}
    # Nothing half-created.
    assert ok(core.get(GROUPS, params={"filter": 'name eq "N/A"'}))["total"] == 0


def test_trunk_group_patch_and_put(core: httpx.Client) -> None:
    group = ok(
        core.post(GROUPS, params={"with_trunks": "true"}, json={"name": "g", "trunks": [{}]})
    )
    url = f"{GROUPS}/{group['trunk_group_sid']}"
    patched = ok(core.patch(url, json={"hard_failure_threshold": 5}))
    assert patched["hard_failure_threshold"] == 5
    assert patched["name"] == "g"
    body = error_of(core.put(url, json={"name": "only"}), 422)
    assert "hard_failure_threshold" in error_fields(body)
    # PUT of what a GET returned (without trunks) keeps the trunks.
    whole = ok(core.get(url))
    whole["name"] = "renamed"
    assert ok(core.put(url, json=whole)) == whole
    assert len(ok(core.get(url, params={"with_trunks": "true"}))["trunks"]) == 1
    # Trunks change through /trunks, not through the group.
    body = error_of(core.patch(url, json={"trunks": []}), 422)
    assert error_fields(body) == {"trunks": "field is read only"}


def test_nested_trunk_crud(core: httpx.Client) -> None:
    group = ok(core.post(GROUPS, json={"name": "nested"}))
    base = f"{GROUPS}/{group['trunk_group_sid']}/trunks"
    assert ok(core.get(base))["items"] == []
    created = ok(core.post(base, json={}))
    assert {k: created[k] for k in TRUNK_DEFAULTS} == TRUNK_DEFAULTS
    second = ok(core.post(base, json={"name": "b", "weight": 10}))
    url = f"{base}/{created['trunk_sid']}"
    assert ok(core.get(url)) == created
    listed = ok(core.get(base))
    assert [t["trunk_sid"] for t in listed["items"]] == [created["trunk_sid"], second["trunk_sid"]]
    assert ok(core.get(base, params={"filter": 'name eq "b"'}))["items"] == [second]

    patched = ok(core.patch(url, json={"name": "a", "allow_forward": "reroute"}))
    assert patched == {**created, "name": "a", "allow_forward": "reroute"}
    body = error_of(core.put(url, json={"name": "a"}), 422)
    assert set(error_fields(body)) == set(TRUNK_DEFAULTS)
    whole = {**patched, "priority": 7}
    assert ok(core.put(url, json=whole)) == whole
    assert ok(core.get(url)) == whole
    error_of(core.patch(url, json={"trunk_sid": "other"}), 422)
    error_of(core.patch(url, json={"asn_mode": "sometimes"}), 422)
    error_of(core.patch(url, json={"endpoint_sid": "00000000-0000-4000-8000-000000000000"}), 422)

    # allow_transfer is a boolean (assumptions.TRUNK_ALLOW_TRANSFER_TYPE: the trunk object page
    # and every sample; the newest page's enum list is cut off): a string is refused, naming it.
    refused = error_of(core.post(base, json={"name": "c", "allow_transfer": "disabled"}), 422)
    assert error_fields(refused) == {"allow_transfer": "must be true or false"}
    third = ok(core.post(base, json={"name": "c", "allow_transfer": True}))
    for order in ("allow_transfer", "allow_transfer desc", "name desc", "codec", "shuffle"):
        listed = ok(core.get(base, params={"order": order}))
        assert sorted(t["trunk_sid"] for t in listed["items"]) == sorted(
            t["trunk_sid"] for t in (created, second, third)
        )
    assert [t["name"] for t in ok(core.get(base, params={"order": "name desc"}))["items"]] == [
        "c",
        "b",
        "a",
    ]
    deleted(core.delete(f"{base}/{third['trunk_sid']}"))

    deleted(core.delete(url))
    error_of(core.get(url), 404)
    error_of(core.delete(url), 404)
    assert [t["trunk_sid"] for t in ok(core.get(base))["items"]] == [second["trunk_sid"]]
    # Trunks of a group that does not exist.
    missing = f"{GROUPS}/00000000-0000-4000-8000-000000000000/trunks"
    error_of(core.get(missing), 404)
    error_of(core.post(missing, json={}), 404)


def test_delete_trunk_group_in_use(core: httpx.Client) -> None:
    group = ok(core.post(GROUPS, json={"name": "in use"}))
    other = ok(core.post(GROUPS, json={"name": "spare"}))
    sid = group["trunk_group_sid"]
    did = rent_any(core, trunk_group_sid=sid)
    body = error_of(core.delete(f"{GROUPS}/{sid}"), 409)
    assert body["errors"][0]["reference_sid"] == sid
    assert ok(core.get(f"{GROUPS}/{sid}"))["name"] == "in use"
    ok(
        core.patch(
            f"/phonenumber/dids/{did['did_sid']}",
            json={"trunk_group_sid": other["trunk_group_sid"]},
        )
    )
    deleted(core.delete(f"{GROUPS}/{sid}"))
    error_of(core.get(f"{GROUPS}/{sid}"), 404)
    # A DID cannot point at the deleted group.
    body = error_of(
        core.patch(f"/phonenumber/dids/{did['did_sid']}", json={"trunk_group_sid": sid}), 422
    )
    assert body["errors"][0]["reference_sid"] == sid


# --- access control ----------------------------------------------------------------------------


def test_access_control_rules(core: httpx.Client, sandbox: Sandbox) -> None:
    base = "/accesscontrol/rules"
    body = error_of(core.post(base, json={}), 422)
    assert error_fields(body) == {
        "entries": "field is required",
        "field": "field is required",
        "operation": "field is required",
        "quantifier": "field is required",
    }
    body = error_of(core.post(base, json={"entries": ["1"], "field": "fax"}), 422)
    assert set(error_fields(body)) == {"field", "operation", "quantifier"}
    body = error_of(
        core.post(
            base,
            json={
                "entries": ["1"],
                "field": "calling",
                "operation": "prefix",
                "quantifier": "any",
                "read_only": True,
            },
        ),
        422,
    )
    assert error_fields(body) == {"read_only": "field is read only"}
    rule = ok(
        core.post(
            base,
            json={
                "entries": ["1516", "1212"],
                "field": "calling",
                "operation": "prefix",
                "quantifier": "any",
            },
        )
    )
    assert rule["name"] == "N/A"
    assert rule["read_only"] is False
    # The documented fields only (https://docs.carrierx.com/voice/core-api/access-control/
    # access-control-rule/create): no partner_sid.
    assert set(rule) == {
        "entries",
        "field",
        "name",
        "operation",
        "quantifier",
        "read_only",
        "rule_sid",
    }
    url = f"{base}/{rule['rule_sid']}"
    assert ok(core.get(url)) == rule
    assert ok(core.get(base, params={"filter": 'field eq "calling"'}))["items"] == [rule]
    patched = ok(core.patch(url, json={"entries": ["1917"], "name": "block NY"}))
    assert patched == {**rule, "entries": ["1917"], "name": "block NY"}
    body = error_of(core.put(url, json={"name": "x"}), 422)
    assert set(error_fields(body)) == {"entries", "field", "operation", "quantifier"}
    error_of(core.patch(url, json={"entries": None}), 422)
    deleted(core.delete(url))
    error_of(core.get(url), 404)


# --- documented value lists (issue 16, item 2) -----------------------------------------------

RULE = {"entries": ["1800"], "field": "called", "operation": "prefix", "quantifier": "any"}


@pytest.mark.parametrize(
    ("field", "allowed"),
    # https://docs.carrierx.com/voice/core-api/access-control/access-control-rule
    [("operation", ("exact", "prefix", "regexp")), ("quantifier", ("all", "any", "none"))],
)
def test_access_control_rule_value_lists(
    core: httpx.Client, field: str, allowed: tuple[str, ...]
) -> None:
    for value in allowed:
        rule = ok(core.post("/accesscontrol/rules", json={**RULE, field: value}))
        deleted(core.delete(f"/accesscontrol/rules/{rule['rule_sid']}"))
    body = error_of(core.post("/accesscontrol/rules", json={**RULE, field: "bogus"}), 422)
    assert error_fields(body) == {field: "must be one of " + ", ".join(allowed)}
    rule = ok(core.post("/accesscontrol/rules", json=RULE))
    patch = core.patch(f"/accesscontrol/rules/{rule['rule_sid']}", json={field: "bogus"})
    assert set(error_fields(error_of(patch, 422))) == {field}


#: https://docs.carrierx.com/voice/core-api/access-control/access-control-list
ACL = {"access_control_rules": [], "direction": "outbound", "voice_action_true": "reject503"}


@pytest.mark.parametrize(
    ("key", "bad"),
    [("voice_action_true", "bogus"), ("voice_action_false", "reject"), ("direction", "sideways")],
)
def test_acl_value_lists_on_trunk_groups_trunks_and_partners(
    core: httpx.Client, sandbox: Sandbox, key: str, bad: str
) -> None:
    group = ok(core.post(GROUPS, json={"name": f"acl-{key}", "acls": [ACL]}))
    assert group["acls"] == [ACL]
    body = error_of(core.post(GROUPS, json={"name": "x", "acls": [{**ACL, key: bad}]}), 422)
    assert set(error_fields(body)) == {"acls"} and key in error_fields(body)["acls"]
    trunks = f"{GROUPS}/{group['trunk_group_sid']}/trunks"
    ok(core.post(trunks, json={"name": "t", "acls": [ACL]}))
    error_of(core.post(trunks, json={"name": "t2", "acls": [{**ACL, key: bad}]}), 422)
    me = f"/partners/{sandbox.world.partner_sid}"
    error_of(core.patch(me, json={"acls": [{**ACL, key: bad}]}), 422)


def test_trunk_acls_carry_no_sms_actions(core: httpx.Client, sandbox: Sandbox) -> None:
    # "for the Trunk Group and the Trunk Objects the sms_action_false and sms_action_true fields
    # are always null and read-only because Trunk Groups and Trunks are used for voice only".
    sms = {**ACL, "sms_action_true": "reject"}
    body = error_of(core.post(GROUPS, json={"name": "sms-acl", "acls": [sms]}), 422)
    assert "sms_action_true" in error_fields(body)["acls"]
    ok(core.post(GROUPS, json={"name": "sms-acl", "acls": [{**ACL, "sms_action_true": None}]}))
    # A partner's ACLs do carry SMS actions: accept or reject.
    me = f"/partners/{sandbox.world.partner_sid}"
    ok(core.patch(me, json={"acls": [sms]}))
    error_of(core.patch(me, json={"acls": [{**ACL, "sms_action_true": "reject503"}]}), 422)
    ok(core.patch(me, json={"acls": []}))


# --- strictness the docs do not impose (issue 16, item 6) ----------------------------------------


def test_the_documented_trunk_group_create_sample(core: httpx.Client) -> None:
    # https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group/create: the request sends
    # "endpoint_sid": "" and the answer shows null (assumptions.EMPTY_ENDPOINT_SID_IS_NULL).
    body = {"name": "New Trunk Group", "trunks": [{"name": "Trunk1", "endpoint_sid": ""}]}
    group = ok(core.post(GROUPS, params={"with_trunks": "true"}, json=body))
    (trunk,) = group["trunks"]
    assert trunk == {**TRUNK_DEFAULTS, "name": "Trunk1", "trunk_sid": trunk["trunk_sid"]}
    url = f"{GROUPS}/{group['trunk_group_sid']}/trunks/{trunk['trunk_sid']}"
    assert ok(core.patch(url, json={"endpoint_sid": ""}))["endpoint_sid"] is None


def test_a_trunk_list_without_limit_answers_1000(core: httpx.Client) -> None:
    # https://docs.carrierx.com/voice/core-api/trunk-groups/trunk/get: the sample sends no limit
    # and answers "limit": 1000 (assumptions.TRUNK_LIST_LIMIT_DEFAULT).
    trunks = [{"name": f"t{i}"} for i in range(12)]
    group = ok(core.post(GROUPS, json={"name": "many trunks", "trunks": trunks}))
    page = ok(core.get(f"{GROUPS}/{group['trunk_group_sid']}/trunks"))
    assert (page["limit"], page["count"], page["has_more"]) == (
        assumptions.TRUNK_LIST_LIMIT_DEFAULT,
        12,
        False,
    )
    assert (
        ok(core.get(f"{GROUPS}/{group['trunk_group_sid']}/trunks", params={"limit": 5}))["count"]
        == 5
    )
    assert ok(core.get(GROUPS))["limit"] == assumptions.LIST_LIMIT_DEFAULT  # others keep 10


# --- prefixes and LRN prefixes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "sid_field"),
    [("/phonenumber/prefixes", "prefix_sid"), ("/phonenumber/lrn_prefixes", "lrn_prefix_sid")],
)
def test_prefixes(core: httpx.Client, path: str, sid_field: str) -> None:
    body = error_of(core.post(path, json={}), 422)
    assert error_fields(body) == {"prefix": "field is required"}
    error_of(core.post(path, json={"prefix": "+1516"}), 422)
    group = ok(core.post(GROUPS, json={"name": f"for {path}"}))
    created = ok(
        core.post(path, json={"prefix": "1516206", "trunk_group_sid": group["trunk_group_sid"]})
    )
    assert created["name"] == "N/A"
    assert created["transformations"] == []
    assert created["attributes"] == {}
    assert created["lrn_sid"] is None
    body = error_of(core.post(path, json={"prefix": "1516206"}), 409)
    assert body["errors"][0]["reference_sid"] == created[sid_field]
    missing = "00000000-0000-4000-8000-000000000000"
    for field in ("trunk_group_sid", "source_trunk_group_sid"):
        body = error_of(core.post(path, json={"prefix": "1516207", field: missing}), 422)
        assert body["errors"][0] == {
            "field": field,
            "message": body["errors"][0]["message"],
            "reference_sid": missing,
        }
    url = f"{path}/{created[sid_field]}"
    body = error_of(core.patch(url, json={"prefix": "1999"}), 422)
    assert error_fields(body) == {"prefix": "field is read only"}
    assert ok(core.patch(url, json={"prefix": "1516206", "name": "LI"}))["name"] == "LI"
    error_of(core.patch(url, json={"trunk_group_sid": missing}), 422)
    deleted(core.delete(url))
    error_of(core.get(url), 404)
    # Once deleted, the prefix may be created again.
    ok(core.post(path, json={"prefix": "1516206"}))


# --- DID groups ----------------------------------------------------------------------------------


def test_did_groups_and_deleting_detaches_dids(core: httpx.Client, sandbox: Sandbox) -> None:
    base = "/phonenumber/did_groups"
    group = ok(core.post(base, json={"name": "sales", "callback_url": "https://cb.example/sales"}))
    assert group["partner_sid"] == sandbox.world.partner_sid
    url = f"{base}/{group['did_group_sid']}"
    assert ok(core.get(url)) == group
    assert ok(core.patch(url, json={"name": "sales EU"}))["name"] == "sales EU"
    error_of(core.patch(url, json={"did_group_sid": "x"}), 422)
    members = [rent_any(core, did_group_sid=group["did_group_sid"]) for _ in range(2)]
    outsider = rent_any(core)
    listed = ok(
        core.get(
            "/phonenumber/dids", params={"filter": f'did_group_sid eq "{group["did_group_sid"]}"'}
        )
    )
    assert sorted(d["did_sid"] for d in listed["items"]) == sorted(d["did_sid"] for d in members)
    deleted(core.delete(url))
    error_of(core.get(url), 404)
    for did in members:
        after = ok(core.get(f"/phonenumber/dids/{did['did_sid']}"))
        assert after["did_group_sid"] is None
        assert after == {**did, "did_group_sid": None}
    assert ok(core.get(f"/phonenumber/dids/{outsider['did_sid']}")) == outsider
    body = error_of(
        core.patch(
            f"/phonenumber/dids/{outsider['did_sid']}",
            json={"did_group_sid": group["did_group_sid"]},
        ),
        422,
    )
    assert body["errors"][0]["reference_sid"] == group["did_group_sid"]
