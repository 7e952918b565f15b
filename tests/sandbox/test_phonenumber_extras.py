"""Core phone-number extras and effective ACLs over real HTTP: an available DID by sid, coverage,
classifications, DID tier rates (JSON and CSV), short codes, LRN prefixes, and the effective
ACLs of calls and messages.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.inventory import CLASSIFICATION_SID, NUMBERS_PER_BLOCK
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_of, fields_of, ok

pytestmark = pytest.mark.timeout(60)

NO_SUCH_SID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "phonenumber_extras", seed=13)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


# --- available DIDs, coverage, classifications, rates ------------------------------------------


def test_available_did_by_sid(core: httpx.Client) -> None:
    listed = ok(core.get("/phonenumber/available_dids", params={"limit": 1}))["items"][0]
    assert ok(core.get(f"/phonenumber/available_dids/{listed['did_sid']}")) == listed
    rented = ok(core.post("/phonenumber/dids", json={"phonenumber": listed["phonenumber"]}))
    assert rented["did_sid"] == listed["did_sid"]
    # Rented, it is no longer available.
    error_of(core.get(f"/phonenumber/available_dids/{listed['did_sid']}"), 404)
    error_of(core.get(f"/phonenumber/available_dids/{NO_SUCH_SID}"), 404)


def test_coverage(core: httpx.Client, sandbox: Sandbox) -> None:
    blocks = sandbox.world.inventory.blocks
    by_state = ok(core.get("/phonenumber/coverage", params={"group_by": "state", "limit": 1000}))
    states = sorted({b.state for b in blocks})
    assert [g["key"] for g in by_state["items"]] == states
    assert by_state["total"] == len(states)
    taken = ok(core.get("/phonenumber/dids", params={"limit": 1000}))["total"]
    assert sum(g["count"] for g in by_state["items"]) == len(blocks) * NUMBERS_PER_BLOCK - taken
    # Renting a number lowers its group's count.
    block = blocks[0]
    group = {"group_by": "npa_nxx", "filter": f"npa_nxx eq {block.npa}{block.nxx}"}
    before = ok(core.get("/phonenumber/coverage", params=group))["items"][0]["count"]
    ok(core.post("/phonenumber/dids", json={"phonenumber": f"{block.prefix}0042"}))
    after = ok(core.get("/phonenumber/coverage", params=group))
    assert after["items"] == [{"count": before - 1, "key": f"{block.npa}{block.nxx}"}]
    # Filters combine; pages link onwards; order by count.
    ny = ok(
        core.get(
            "/phonenumber/coverage",
            params={"group_by": "npa", "filter": 'state eq "NY" and capabilities bit 4'},
        )
    )
    assert {g["key"] for g in ny["items"]} <= {b.npa for b in blocks if b.state == "NY"}
    first = ok(core.get("/phonenumber/coverage", params={"group_by": "npa", "limit": 2}))
    assert first["has_more"] and "offset=2" in first["pagination"]["next"]
    by_count = ok(
        core.get(
            "/phonenumber/coverage",
            params={"group_by": "state", "order": "count desc", "limit": 1000},
        )
    )
    counts = [g["count"] for g in by_count["items"]]
    assert counts == sorted(counts, reverse=True)
    for bad in ({}, {"group_by": "planet"}, {"group_by": "state", "filter": 'ocn eq "1"'}):
        error_of(core.get("/phonenumber/coverage", params=bad), 400)


def test_classifications(core: httpx.Client) -> None:
    listed = ok(core.get("/phonenumber/classifications"))
    assert [c["classification_sid"] for c in listed["items"]] == [CLASSIFICATION_SID]
    item = ok(core.get(f"/phonenumber/classifications/{CLASSIFICATION_SID}"))
    assert item["aging_policy"] == assumptions.AGING_POLICY_MINUTES
    error_of(core.get(f"/phonenumber/classifications/{NO_SUCH_SID}"), 404)


def test_rates_json_and_csv(core: httpx.Client, sandbox: Sandbox) -> None:
    rates = ok(core.get("/phonenumber/rates"))
    assert rates["active"] == "yes"
    assert rates["effective_date"] == assumptions.DID_RATES_EFFECTIVE_DATE
    assert rates["partner_sid"] == sandbox.world.partner_sid
    assert rates["rates_plan"]["name"] == assumptions.DID_RATES_PLAN_NAME
    (tier,) = rates["items"]
    assert tier["classification_sid"] == CLASSIFICATION_SID
    assert {k: tier[k] for k in assumptions.DID_RATE_TIER} == assumptions.DID_RATE_TIER
    response = core.get("/phonenumber/rates/csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert list(rows[0]) == sorted(tier)
    assert rows[0]["price_0"] == tier["price_0"] and rows[0]["country_code"] == ""
    assert ok(core.get("/dids/rates")) == rates  # the deprecated alias
    none = ok(core.get("/phonenumber/rates", params={"filter": 'prefix eq "44"'}))
    assert none["items"] == [] and none["total"] == 0


# --- short codes -------------------------------------------------------------------------------


def test_short_codes(core: httpx.Client, sandbox: Sandbox) -> None:
    listed = ok(core.get("/phonenumber/short_codes"))
    assert listed["total"] == assumptions.SHORT_CODES_PER_PARTNER
    code = listed["items"][0]
    assert code["partner_sid"] == sandbox.world.partner_sid and code["country_code"] == "USA"
    assert code["short_code"].isdigit()
    sid = code["short_code_sid"]
    assert ok(core.get(f"/phonenumber/short_codes/{sid}")) == code
    group = ok(core.post("/phonenumber/did_groups", json={"name": "sc group"}))
    patched = ok(
        core.patch(
            f"/phonenumber/short_codes/{sid}",
            json={"name": "alerts", "did_group_sid": group["did_group_sid"]},
        )
    )
    assert patched["name"] == "alerts" and patched["did_group_sid"] == group["did_group_sid"]
    put = ok(core.put(f"/phonenumber/short_codes/{sid}", json={**patched, "string_key_1": "k"}))
    assert put["string_key_1"] == "k"
    body = error_of(
        core.patch(
            f"/phonenumber/short_codes/{sid}",
            json={"short_code": "99999", "did_group_sid": NO_SUCH_SID},
        ),
        422,
    )
    assert fields_of(body) == {"short_code"}
    body = error_of(
        core.patch(f"/phonenumber/short_codes/{sid}", json={"did_group_sid": NO_SUCH_SID}), 422
    )
    assert fields_of(body) == {"did_group_sid"}
    error_of(core.get(f"/phonenumber/short_codes/{NO_SUCH_SID}"), 404)
    # Short codes are made by support only.
    error_of(core.post("/phonenumber/short_codes", json={}), 405)
    error_of(core.delete(f"/phonenumber/short_codes/{sid}"), 405)
    # The same ones again: seeding happens once.
    assert ok(core.get("/phonenumber/short_codes"))["total"] == assumptions.SHORT_CODES_PER_PARTNER


# --- LRN prefixes ------------------------------------------------------------------------------


def test_lrn_prefix_crud(core: httpx.Client) -> None:
    created = ok(core.post("/phonenumber/lrn_prefixes", json={"prefix": "1516206", "name": "lrn"}))
    sid = created["lrn_prefix_sid"]
    assert ok(core.get(f"/phonenumber/lrn_prefixes/{sid}")) == created
    listed = ok(core.get("/phonenumber/lrn_prefixes"))
    assert sid in {p["lrn_prefix_sid"] for p in listed["items"]}
    patched = ok(core.patch(f"/phonenumber/lrn_prefixes/{sid}", json={"name": "renamed"}))
    assert patched["name"] == "renamed"
    put = ok(core.put(f"/phonenumber/lrn_prefixes/{sid}", json={**patched, "string_key_2": "x"}))
    assert put["string_key_2"] == "x"
    error_of(core.post("/phonenumber/lrn_prefixes", json={"prefix": "1516206"}), 409)
    error_of(core.post("/phonenumber/lrn_prefixes", json={}), 422)
    assert core.delete(f"/phonenumber/lrn_prefixes/{sid}").status_code == 204
    error_of(core.get(f"/phonenumber/lrn_prefixes/{sid}"), 404)


# --- effective ACLs ------------------------------------------------------------------------------


def _acl(direction: str, **actions: str) -> dict[str, Any]:
    return {"access_control_rules": [], "direction": direction, **actions}


def _layered_acls(core: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ACLs of the layers: outbound voice (with a rule: calls to 1800 numbers), SMS, and
    inbound voice; and the rule."""
    rule = ok(
        core.post(
            "/accesscontrol/rules",
            json={
                "entries": ["1800"],
                "field": "called",
                "operation": "prefix",
                "quantifier": "any",
            },
        )
    )
    voice = {
        **_acl("outbound", voice_action_true="reject503"),
        "access_control_rules": [rule["rule_sid"]],
    }
    sms = _acl("any", sms_action_true="reject")
    inbound = _acl("inbound", voice_action_false="reject403")
    return {"rule": rule, "voice": voice, "sms": sms, "inbound": inbound}


def _assert_unknown_scopes_are_404(client: httpx.Client, other_partner_sid: str) -> None:
    """An unknown trunk group or trunk, or a partner that is neither the caller nor its
    sub-partner: 404."""
    error_of(
        client.get("/accesscontrol/effective_acl/calls", params={"trunk_group_sid": NO_SUCH_SID}),
        404,
    )
    error_of(
        client.get("/accesscontrol/effective_acl/calls", params={"trunk_sid": NO_SUCH_SID}), 404
    )
    error_of(
        client.get("/accesscontrol/effective_acl/sms", params={"partner_sid": other_partner_sid}),
        404,
    )


def test_effective_acls(core: httpx.Client, sandbox: Sandbox) -> None:
    acls = _layered_acls(core)
    rule, voice, sms, inbound = acls["rule"], acls["voice"], acls["sms"], acls["inbound"]
    sub = ok(core.post("/partners", json={"login": "acl_sub", "password": "pw"}))
    sub_sid = sub["partner_sid"]
    ok(core.patch(f"/partners/{sub_sid}", json={"parent_assigned_acls": [voice, sms]}))
    with httpx.Client(base_url=sandbox.core_url, auth=("acl_sub", "pw")) as client:
        ok(client.patch(f"/partners/{sub_sid}", json={"acls": [inbound]}))
        group = ok(
            client.post(
                "/trunk_groups",
                params={"with_trunks": "true"},
                json={"name": "g", "acls": [voice], "trunks": [{"acls": [inbound]}]},
            )
        )
        trunk_sid = group["trunks"][0]["trunk_sid"]
        calls = ok(client.get("/accesscontrol/effective_acl/calls"))
        assert [layer["layer"] for layer in calls["items"]] == [1, 2]
        assert [len(layer["effective_acls"]) for layer in calls["items"]] == [1, 1]
        assert calls["items"][0]["effective_acls"][0]["access_control_rules"] == [rule["rule_sid"]]
        by_trunk = ok(
            client.get("/accesscontrol/effective_acl/calls", params={"trunk_sid": trunk_sid})
        )
        assert [layer["layer"] for layer in by_trunk["items"]] == [1, 2, 3, 4]
        outbound = ok(
            client.get(
                "/accesscontrol/effective_acl/calls",
                params={"trunk_group_sid": group["trunk_group_sid"], "direction": "outbound"},
            )
        )
        assert [layer["layer"] for layer in outbound["items"]] == [1, 3]
        messages = ok(client.get("/accesscontrol/effective_acl/sms"))
        assert messages["items"] == [
            {
                "effective_acls": [
                    {
                        **sms,
                        "sms_action_false": None,
                        "voice_action_false": None,
                        "voice_action_true": None,
                    }
                ],
                "layer": 1,
            }
        ]
        _assert_unknown_scopes_are_404(client, sandbox.world.partner_sid)
    # The parent looks up its sub-partner's ACLs by partner_sid.
    parent_view = ok(core.get("/accesscontrol/effective_acl/sms", params={"partner_sid": sub_sid}))
    assert parent_view == messages
    assert ok(core.get("/accesscontrol/effective_acl/calls"))["items"] == []
    error_of(core.get("/accesscontrol/effective_acl/calls", params={"direction": "sideways"}), 400)
