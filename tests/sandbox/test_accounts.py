"""Core account objects over real HTTP: partners and sub-partners, billing methods, OAuth tokens
(list, read, update, tokens for a sub-partner) and partner logins.

One sandbox serves the module; each test makes the sub-partners it reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.world import DEFAULT_LOGIN
from tests.conftest import TOKEN, Sandbox, module_sandbox
from tests.sandbox.support import error_of, fields_of, ok

pytestmark = pytest.mark.timeout(60)

_names = itertools.count()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "accounts", seed=11)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def new_partner(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    login = f"sub{next(_names)}"
    partner: dict[str, Any] = ok(
        client.post("/partners", json={"login": login, "password": "pw-" + login, **fields})
    )
    return partner


def as_partner(sandbox: Sandbox, partner: dict[str, Any]) -> httpx.Client:
    """A client for a sub-partner, with Basic auth on its login (Core accepts it)."""
    login = partner["login"]
    return httpx.Client(base_url=sandbox.core_url, auth=(login, "pw-" + login), timeout=10)


# --- partners --------------------------------------------------------------------------------


def test_create_partner_as_documented(core: httpx.Client, sandbox: Sandbox) -> None:
    body = {
        "name": "John Smith",
        "company_name": "ABC",
        "parent_sid": "",
        "country_code": "USA",
        "zip": "90804",
        "payment_type": "postpay",
        "charge_at": 20,
        "prepay_amount": "100",
        "callbacks": {"sms": "https://example.com/sms"},
    }
    partner = new_partner(core, **body)
    me = sandbox.world.partner_sid
    assert partner["parent_sid"] == me
    assert partner["status"] == assumptions.SUB_PARTNER_STATUS
    assert partner["balance"] == assumptions.SUB_PARTNER_BALANCE
    assert partner["charge_at"] == "20" and partner["prepay_amount"] == "100"
    assert partner["display_id"].startswith("CX") and partner["date_created"]
    assert "password" not in partner
    assert list(partner) == sorted(partner)
    parent = ok(core.get(f"/partners/{me}"))
    assert set(partner) == set(parent)
    if assumptions.SUB_PARTNER_SCOPES_FROM_PARENT:
        assert partner["available_scopes"] == parent["available_scopes"]
    assert ok(core.get(f"/partners/{partner['partner_sid']}")) == partner


def test_partner_create_errors(core: httpx.Client) -> None:
    body = error_of(core.post("/partners", json={"name": "no login"}), 422)
    assert fields_of(body) == set(assumptions.PARTNER_REQUIRED_FIELDS)
    body = error_of(core.post("/partners", json={"login": "x1", "password": "p", "bogus": 1}), 422)
    assert fields_of(body) == {"bogus"}
    bad = {
        "login": "x2",
        "password": "p",
        "payment_type": "barter",
        "balance": "9",
        "callbacks": {"fax": "https://x"},
        "charge_at": "lots",
    }
    body = error_of(core.post("/partners", json=bad), 422)
    assert fields_of(body) == {"payment_type", "balance", "callbacks", "charge_at"}
    taken = error_of(core.post("/partners", json={"login": DEFAULT_LOGIN, "password": "p"}), 409)
    assert taken["errors"][0]["field"] == "login"
    stranger = "00000000-0000-4000-8000-000000000000"
    body = error_of(
        core.post("/partners", json={"login": "x3", "password": "p", "parent_sid": stranger}), 422
    )
    assert fields_of(body) == {"parent_sid"}
    error_of(
        core.post("/partners", content=b"[]", headers={"content-type": "application/json"}), 400
    )


def test_partners_see_themselves_and_their_sub_partners(
    core: httpx.Client, sandbox: Sandbox
) -> None:
    child = new_partner(core, name="child")
    with as_partner(sandbox, child) as child_client:
        assert ok(child_client.get("/oauth/whoami"))["partner_sid"] == child["partner_sid"]
        grandchild = new_partner(child_client, name="grandchild")
        assert grandchild["parent_sid"] == child["partner_sid"]
        mine = ok(child_client.get("/partners"))
        assert {p["partner_sid"] for p in mine["items"]} == {
            child["partner_sid"],
            grandchild["partner_sid"],
        }
        # The parent is not the child's to see.
        error_of(child_client.get(f"/partners/{sandbox.world.partner_sid}"), 404)
    top = ok(core.get("/partners", params={"limit": 1000}))
    sids = {p["partner_sid"] for p in top["items"]}
    assert {sandbox.world.partner_sid, child["partner_sid"], grandchild["partner_sid"]} <= sids
    # A parent can also place a partner under one of its sub-partners.
    placed = new_partner(core, parent_sid=child["partner_sid"])
    assert placed["parent_sid"] == child["partner_sid"]
    # Filters and field selection work on the list.
    found = ok(core.get("/partners", params={"filter": 'name eq "grandchild"'}))
    assert [p["partner_sid"] for p in found["items"]] == [grandchild["partner_sid"]]
    slim = ok(core.get(f"/partners/{child['partner_sid']}", params={"include_fields": "name"}))
    assert slim == {"name": "child"}
    error_of(core.get("/partners", params={"filter": 'password eq "x"'}), 400)


def test_partner_patch_put_and_acl_ownership(core: httpx.Client, sandbox: Sandbox) -> None:
    partner = new_partner(core, name="before")
    sid = partner["partner_sid"]
    acl = {"access_control_rules": [], "direction": "outbound", "voice_action_true": "reject503"}
    patched = ok(
        core.patch(f"/partners/{sid}", json={"name": "after", "parent_assigned_acls": [acl]})
    )
    assert patched["name"] == "after"
    assert patched["parent_assigned_acls"][0]["voice_action_true"] == "reject503"
    assert patched["parent_assigned_acls"][0]["sms_action_true"] is None
    body = error_of(core.patch(f"/partners/{sid}", json={"acls": [acl]}), 422)
    assert fields_of(body) == {"acls"}
    # The partner sets its own acls, never its parent_assigned_acls.
    with as_partner(sandbox, partner) as client:
        own = ok(client.patch(f"/partners/{sid}", json={"acls": [acl]}))
        assert own["acls"][0]["direction"] == "outbound"
        error_of(client.patch(f"/partners/{sid}", json={"parent_assigned_acls": []}), 422)
    # PUT takes back what GET gave; a missing writable field is named.
    current = ok(core.get(f"/partners/{sid}"))
    assert ok(core.put(f"/partners/{sid}", json={**current, "city": "Long Beach"}))["city"] == (
        "Long Beach"
    )
    partial = {k: v for k, v in current.items() if k != "zip"}
    assert "zip" in fields_of(error_of(core.put(f"/partners/{sid}", json=partial), 422))
    error_of(core.patch(f"/partners/{sid}", json={"status": "suspended"}), 422)
    error_of(core.patch(f"/partners/{sid}", json={"login": DEFAULT_LOGIN}), 409)
    error_of(core.patch("/partners/00000000-0000-4000-8000-000000000000", json={}), 404)


def test_partner_login_and_password_change(core: httpx.Client, sandbox: Sandbox) -> None:
    partner = new_partner(core)
    sid = partner["partner_sid"]
    ok(core.patch(f"/partners/{sid}", json={"login": f"renamed{sid[:8]}", "password": "new-pw"}))
    with httpx.Client(base_url=sandbox.core_url, auth=(f"renamed{sid[:8]}", "new-pw")) as client:
        assert ok(client.get("/oauth/whoami"))["partner_sid"] == sid
    with as_partner(sandbox, partner) as stale:
        error_of(stale.get("/oauth/whoami"), 401)


def test_delete_partner(core: httpx.Client, sandbox: Sandbox) -> None:
    parent = new_partner(core)
    child = new_partner(core, parent_sid=parent["partner_sid"])
    refused = error_of(core.delete(f"/partners/{parent['partner_sid']}"), 409)
    assert "sub-partners" in refused["message"]
    error_of(core.delete(f"/partners/{sandbox.world.partner_sid}"), 409)
    with as_partner(sandbox, child) as client:
        ok(client.post("/phonenumber/dids", json={}))
        error_of(core.delete(f"/partners/{child['partner_sid']}"), 409)
        did = ok(client.get("/phonenumber/dids"))["items"][0]
        assert client.delete(f"/phonenumber/dids/{did['did_sid']}").status_code == 204
    token = ok(core.post(f"/oauth/token/{child['partner_sid']}", data={}))["access_token"]
    assert core.delete(f"/partners/{child['partner_sid']}").status_code == 204
    error_of(core.get(f"/partners/{child['partner_sid']}"), 404)
    # Its credentials went with it.
    headers = {"Authorization": f"Bearer {token}"}
    error_of(httpx.get(f"{sandbox.core_url}/oauth/whoami", headers=headers), 401)
    assert core.delete(f"/partners/{parent['partner_sid']}").status_code == 204
    error_of(core.delete(f"/partners/{parent['partner_sid']}"), 404)


def test_partner_scopes(core: httpx.Client, sandbox: Sandbox) -> None:
    issued = ok(
        core.post("/oauth/token", data={"grant_type": "password", "scopes": "phonenumber.read"})
    )
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    with httpx.Client(base_url=sandbox.core_url, headers=headers) as client:
        error_of(client.get("/partners"), assumptions.MISSING_SCOPE_STATUS)
        error_of(client.post("/partners", json={}), assumptions.MISSING_SCOPE_STATUS)
        error_of(client.get("/oauth/tokens"), assumptions.MISSING_SCOPE_STATUS)


# --- billing methods -------------------------------------------------------------------------

CARD = {
    "type": "visa",
    "cc_number": "4012888818888",
    "cc_expiration": "022029",
    "cc_cid": "318",
    "first_name": "John",
    "last_name": "Smith",
    "address1": "4300 E Pacific Coast Hwy",
    "address2": "Suite 1",
    "city": "Long Beach",
    "state": "CA",
    "zip": "90804",
    "country_code": "USA",
    "phone": "15162065574",
}


def test_billing_method(core: httpx.Client) -> None:
    sid = new_partner(core)["partner_sid"]
    path = f"/partners/{sid}/billing_method"
    error_of(core.get(path), 404)
    method = ok(core.post(path, json=CARD))
    keep = assumptions.BILLING_METHOD_KEPT_DIGITS
    assert method["cc_number"] == CARD["cc_number"][-keep:]
    assert "cc_cid" not in method
    assert method["city"] == "Long Beach" and list(method) == sorted(method)
    assert ok(core.get(path)) == method
    if assumptions.BILLING_METHOD_POST_REPLACES:
        wire = {
            "type": "wire",
            "first_name": "J",
            "last_name": "S",
            "address1": "1 Main St",
            "city": "Austin",
            "country_code": "USA",
            "phone": "1",
            "zip": "73301",
        }
        assert ok(core.post(path, json=wire))["cc_number"] is None
    assert core.delete(path).status_code == 204
    error_of(core.get(path), 404)
    error_of(core.delete(path), 404)


def test_billing_method_errors(core: httpx.Client) -> None:
    sid = new_partner(core)["partner_sid"]
    path = f"/partners/{sid}/billing_method"
    no_card = {k: v for k, v in CARD.items() if not k.startswith("cc_")}
    assert fields_of(error_of(core.post(path, json=no_card), 422)) == {
        "cc_cid",
        "cc_expiration",
        "cc_number",
    }
    check = {
        "type": "electronic_check",
        "first_name": "J",
        "last_name": "S",
        "country_code": "USA",
        "phone": "1",
        "zip": "1",
    }
    assert fields_of(error_of(core.post(path, json=check), 422)) == {
        "address1",
        "city",
        "ec_account_number",
        "ec_routing_number",
    }
    bad = {**CARD, "cc_expiration": "2029-02", "type": "bitcoin"}
    assert fields_of(error_of(core.post(path, json=bad), 422)) == {"cc_expiration", "type"}
    error_of(
        core.post("/partners/00000000-0000-4000-8000-000000000000/billing_method", json=CARD), 404
    )


# --- OAuth tokens ----------------------------------------------------------------------------


def test_token_for_a_sub_partner(core: httpx.Client, sandbox: Sandbox) -> None:
    partner = new_partner(core)
    sid = partner["partner_sid"]
    form = {
        "client_id": "5c7965f285344165b003ce1a3202e589",
        "client_secret": "s3cret",
        "scopes": "phonenumber.read partners.read",
        "name": "for sub",
    }
    token = ok(core.post(f"/oauth/token/{sid}", data=form))
    assert token["partner_sid"] == sid and token["token_type"] == "bearer"
    assert token["client_id"] == form["client_id"] and "client_secret" not in token
    assert sorted(token["scopes"]) == ["partners.read", "phonenumber.read"]
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url=sandbox.core_url, headers=headers) as client:
        assert ok(client.get("/oauth/whoami"))["partner_sid"] == sid
        assert [p["partner_sid"] for p in ok(client.get("/partners"))["items"]] == [sid]
        error_of(client.post("/phonenumber/dids", json={}), assumptions.MISSING_SCOPE_STATUS)
    # The token is the sub-partner's: the parent's list does not show it.
    mine = ok(core.get("/oauth/tokens", params={"limit": 1000}))
    assert token["token_sid"] not in {t["token_sid"] for t in mine["items"]}
    body = error_of(core.post(f"/oauth/token/{sid}", data={"scopes": "galaxy.manage"}), 422)
    assert fields_of(body) == {"scopes"}
    bad_expiry = {"access_token_expires_in": "soon"}
    error_of(core.post(f"/oauth/token/{sid}", data=bad_expiry), 422)
    error_of(core.post("/oauth/token/00000000-0000-4000-8000-000000000000", data={}), 404)


def test_tokens_list_get_and_update(core: httpx.Client, sandbox: Sandbox) -> None:
    issued = ok(
        core.post(
            "/oauth/token",
            data={"grant_type": "password", "name": "listed", "scopes": "partners.read"},
        )
    )
    sid = issued["token_sid"]
    page = ok(core.get("/oauth/tokens", params={"filter": 'name eq "listed"'}))
    assert [t["token_sid"] for t in page["items"]] == [sid]
    got = ok(core.get(f"/oauth/tokens/{sid}"))
    shown = assumptions.OAUTH_TOKEN_VALUES_IN_READS
    assert ("access_token" in got) is shown and ("refresh_token" in got) is shown
    assert "client_secret" not in got
    assert got["scopes"] == ["partners.read"]
    renamed = ok(core.patch(f"/oauth/tokens/{sid}", json={"name": "new_test_token"}))
    assert renamed["name"] == "new_test_token"
    widened = ok(
        core.patch(f"/oauth/tokens/{sid}", json={"scopes": ["partners.read", "push.read"]})
    )
    assert widened["scopes"] == ["partners.read", "push.read"]
    assert fields_of(
        error_of(core.patch(f"/oauth/tokens/{sid}", json={"scopes": ["x.y"]}), 422)
    ) == {"scopes"}
    error_of(core.patch(f"/oauth/tokens/{sid}", json={"access_token": "mine-now"}), 422)
    error_of(core.patch(f"/oauth/tokens/{sid}", json={"date_expiration_access_token": "soon"}), 422)
    # PUT takes back what GET gave.
    assert ok(core.put(f"/oauth/tokens/{sid}", json=ok(core.get(f"/oauth/tokens/{sid}")))) == ok(
        core.get(f"/oauth/tokens/{sid}")
    )
    # Expired tokens leave the list of active ones.
    past = {"date_expiration_access_token": "2000-01-01T00:00:00.000Z"}
    expired = ok(core.patch(f"/oauth/tokens/{sid}", json=past))
    assert expired["date_expiration_access_token"].startswith("2000")
    active = {
        t["token_sid"] for t in ok(core.get("/oauth/tokens", params={"limit": 1000}))["items"]
    }
    assert (sid in active) is not assumptions.OAUTH_TOKENS_LIST_ACTIVE_ONLY
    # Another partner's token is not found; the sandbox's own token is listed.
    other = ok(core.post(f"/oauth/token/{new_partner(core)['partner_sid']}", data={}))
    error_of(core.get(f"/oauth/tokens/{other['token_sid']}"), 404)
    if shown:
        assert TOKEN in {t["access_token"] for t in ok(core.get("/oauth/tokens"))["items"]}
    assert sandbox.world.partner_sid == got["partner_sid"]


def test_token_values_can_be_kept_out_of_reads(
    core: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = ok(core.post("/oauth/token", data={"grant_type": "password", "name": "secretive"}))
    monkeypatch.setattr(assumptions, "OAUTH_TOKEN_VALUES_IN_READS", False)
    got = ok(core.get(f"/oauth/tokens/{issued['token_sid']}"))
    assert "access_token" not in got and "refresh_token" not in got
    assert got["name"] == "secretive"
    for query in ({"filter": f'access_token eq "{TOKEN}"'}, {"order": "refresh_token"}):
        error_of(core.get("/oauth/tokens", params=query), 400)
    # The answer that creates a token always carries it.
    sub = new_partner(core)
    assert ok(core.post(f"/oauth/token/{sub['partner_sid']}", data={}))["access_token"]


# --- partner logins --------------------------------------------------------------------------


def test_partner_logins(core: httpx.Client, sandbox: Sandbox) -> None:
    body = {
        "login": f"{DEFAULT_LOGIN}_ops",
        "password": "myStrongPassword123",
        "token_scopes": ["partners.read", "partners.update"],
    }
    login = ok(core.post("/oauth/logins", json=body))
    sid = login["login_sid"]
    assert login == {
        "login": body["login"],
        "login_sid": sid,
        "partner_sid": sandbox.world.partner_sid,
        "token_scopes": body["token_scopes"],
    }
    assert ok(core.get(f"/oauth/logins/{sid}")) == login
    listed = ok(core.get("/oauth/logins"))
    assert sid in {item["login_sid"] for item in listed["items"]}
    assert all("password" not in item for item in listed["items"])
    patched = ok(core.patch(f"/oauth/logins/{sid}", json={"token_scopes": ["partners.read"]}))
    assert patched["token_scopes"] == ["partners.read"]
    put = ok(
        core.put(
            f"/oauth/logins/{sid}",
            json={"login": f"{DEFAULT_LOGIN}_ops2", "token_scopes": ["oauth.read"]},
        )
    )
    assert put["login"] == f"{DEFAULT_LOGIN}_ops2"
    assert "token_scopes" in fields_of(
        error_of(core.put(f"/oauth/logins/{sid}", json={"login": f"{DEFAULT_LOGIN}_ops2"}), 422)
    )
    error_of(core.get("/oauth/logins", params={"filter": 'password eq "x"'}), 400)
    assert core.delete(f"/oauth/logins/{sid}").status_code == 204
    error_of(core.get(f"/oauth/logins/{sid}"), 404)


def test_partner_login_errors(core: httpx.Client) -> None:
    assert fields_of(error_of(core.post("/oauth/logins", json={}), 422)) == {
        "login",
        "password",
        "token_scopes",
    }
    wrong_prefix = {"login": "someone_ops", "password": "p", "token_scopes": []}
    assert fields_of(error_of(core.post("/oauth/logins", json=wrong_prefix), 422)) == {"login"}
    too_much = {"login": f"{DEFAULT_LOGIN}_x", "password": "p", "token_scopes": ["galaxy.manage"]}
    assert fields_of(error_of(core.post("/oauth/logins", json=too_much), 422)) == {"token_scopes"}
    first = {"login": f"{DEFAULT_LOGIN}_dup", "password": "p", "token_scopes": []}
    ok(core.post("/oauth/logins", json=first))
    status = assumptions.LOGIN_TAKEN_STATUS
    assert fields_of(error_of(core.post("/oauth/logins", json=first), status)) == {"login"}
    # A partner login's name is taken for partners too.
    error_of(core.post("/partners", json={"login": first["login"], "password": "p"}), status)
