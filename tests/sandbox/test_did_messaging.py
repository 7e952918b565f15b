"""SMS/MMS messaging enablement of a DID over real HTTP (issue 16, item 1): a number sends only
once its messaging is enabled, and the enable, disable and get calls answer as documented.

- https://docs.carrierx.com/voice/core-api/sms/sms/send: "to send messages from a rented DID you
  need to enable SMS/MMS messaging on that DID first".
- https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement (the object:
  `enabled` defaults to false, `status` to disabled; `type` is a2p or p2p).
- https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/enable (POST,
  phonenumber.create or .manage; 200 with `status: in_progress`; 404 "no item error" for a DID
  with voice capabilities only; `force=true` changes type or campaign in one request).
- https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement/get (GET,
  phonenumber.read or .manage).
- https://docs.carrierx.com/voice/core-api/verification/verification-email/send-sms: the
  verification SMS's number "must be SMS/MMS enabled".
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.resources.numbers import seed_ported
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_fields, error_of, ok, stored

pytestmark = pytest.mark.timeout(60)

#: The keys of the documented samples of an a2p (or never enabled) number's messaging: the
#: object's `p2p_nnid` "applies only if the DID enablement type is p2p", and no sample of a rented
#: DID shows it (assumptions.DID_MESSAGING_P2P_NNID_SHOWN).
OBJECT_KEYS = {"campaign_external_id", "campaign_sid", "did_sid", "enabled", "status", "type"}
CAMPAIGN = "fef13cdd-2f65-4ed8-8272-de2a940d0cb5"  # the docs' sample campaign


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "did_messaging", seed=5)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def _rent(core: httpx.Client, capabilities: int) -> dict[str, object]:
    page = ok(
        core.get(
            "/phonenumber/available_dids",
            params={"filter": f"capabilities eq {capabilities}", "limit": 1, "order": "shuffle"},
        )
    )
    number = page["items"][0]["phonenumber"]
    did: dict[str, object] = ok(core.post("/phonenumber/dids", json={"phonenumber": number}))
    return did


def _sms(number: object) -> dict[str, object]:
    return {"from": number, "to": "12125550100", "message": "hello"}


def test_a_number_sends_only_once_its_messaging_is_enabled(
    core: httpx.Client, sandbox: Sandbox
) -> None:
    did = _rent(core, 31)
    sid, number = did["did_sid"], did["phonenumber"]
    assert isinstance(number, str)
    path = f"/phonenumber/dids/{sid}/messaging"
    assert did["active_capabilities"] == 4  # messaging off: voice only (the DID object page)

    fresh = ok(core.get(path))
    assert set(fresh) == OBJECT_KEYS
    assert (fresh["enabled"], fresh["status"], fresh["did_sid"]) == (False, "disabled", sid)

    before = len(stored(sandbox, "sms_messages"))
    refused = error_of(core.post("/sms/messages", json=_sms(number)), 422)
    assert [e["field"] for e in refused["errors"]] == ["from"]
    assert "enable" in refused["errors"][0]["message"]
    code = core.post("/verification/sms", params={"from": number, "to": "18057224756"})
    assert error_fields(code, assumptions.SMS_MESSAGING_NOT_ENABLED_STATUS) == {"from"}
    assert len(stored(sandbox, "sms_messages")) == before

    # The documented request and answer (the sample's campaign, type a2p).
    body = {"campaign_sid": CAMPAIGN, "enabled": True, "type": "a2p"}
    enabled = ok(core.post(path, json=body))
    assert set(enabled) == OBJECT_KEYS
    assert enabled["status"] == "in_progress" and enabled["enabled"] is True
    assert (enabled["campaign_sid"], enabled["type"]) == (CAMPAIGN, "a2p")
    assert enabled["campaign_external_id"]
    now = ok(core.get(path))
    assert now["status"] == "enabled"  # assumptions.MESSAGING_ENABLED_AT_ONCE
    shown = ok(core.get(f"/phonenumber/dids/{sid}"))
    assert shown["active_capabilities"] == shown["capabilities"] == 31
    assert shown["campaign_sid"] == CAMPAIGN

    ok(core.post("/sms/messages", json=_sms(number)))
    ok(core.post("/verification/sms", params={"from": number, "to": "18057224756"}))
    assert len(stored(sandbox, "sms_messages")) == before + 2
    # Enabling again with the same settings changes nothing.
    assert ok(core.post(path, json=body))["status"] == "enabled"

    disabled = ok(core.post(path, json={"enabled": False}))
    assert (disabled["enabled"], disabled["status"]) == (False, "disabled")
    assert ok(core.get(f"/phonenumber/dids/{sid}"))["active_capabilities"] == 4
    error_of(core.post("/sms/messages", json=_sms(number)), 422)


def test_the_enable_call_checks_its_body(core: httpx.Client) -> None:
    did = _rent(core, 31)
    path = f"/phonenumber/dids/{did['did_sid']}/messaging"
    assert error_fields(core.post(path, json={"enabled": True, "type": "bogus"}), 422) == {"type"}
    assert error_fields(core.post(path, json={"enabled": "yes"}), 422) == {"enabled"}
    assert error_fields(core.post(path, json={"enabled": True, "colour": "red"}), 422) == {"colour"}
    assert error_fields(core.post(path, json={"status": "enabled"}), 422) == {"status"}
    assert ok(core.post(path, json={"enabled": True}))["type"] == assumptions.MESSAGING_DEFAULT_TYPE
    # An enabled number changes type or campaign with force=true, or disabled first.
    change = {"enabled": True, "type": "p2p"}
    error_of(core.post(path, json=change), assumptions.MESSAGING_CHANGE_NEEDS_FORCE_STATUS)
    forced = ok(core.post(path, params={"force": "true"}, json=change))
    assert (forced["type"], forced["status"], forced["campaign_external_id"]) == (
        "p2p",
        "enabled",
        None,
    )
    assert set(forced) == OBJECT_KEYS | {"p2p_nnid"}  # a p2p number shows its NetNumber ID
    nnid = ok(core.post(path, params={"force": "true"}, json={**change, "p2p_nnid": "123456"}))
    assert nnid["p2p_nnid"] == "123456" == ok(core.get(path))["p2p_nnid"]
    ok(core.post(path, json={"enabled": False}))
    back = ok(core.post(path, json={"enabled": True, "type": "a2p", "p2p_nnid": None}))
    assert back["type"] == "a2p" and set(back) == OBJECT_KEYS


def test_a_voice_only_number_has_no_messaging(core: httpx.Client) -> None:
    did = _rent(core, 4)
    path = f"/phonenumber/dids/{did['did_sid']}/messaging"
    for answer in (core.get(path), core.post(path, json={"enabled": True})):
        body = error_of(answer, 404)
        assert body["message"] == "no item error"
        assert body["errors"][0]["message"] == "cannot find item by sid"
    error_of(core.get("/phonenumber/dids/00000000-0000-4000-8000-000000000000/messaging"), 404)


def test_enablement_scopes(sandbox: Sandbox, core: httpx.Client) -> None:
    did = _rent(core, 31)
    path = f"/phonenumber/dids/{did['did_sid']}/messaging"
    sandbox.world.ensure_token("number-reader", scopes=("phonenumber.read",))
    with httpx.Client(
        base_url=sandbox.core_url, headers={"Authorization": "Bearer number-reader"}, timeout=10
    ) as reader:
        ok(reader.get(path))
        error_of(reader.post(path, json={"enabled": True}), assumptions.MISSING_SCOPE_STATUS)
    sandbox.world.ensure_token("number-creator", scopes=("phonenumber.create",))
    with httpx.Client(
        base_url=sandbox.core_url, headers={"Authorization": "Bearer number-creator"}, timeout=10
    ) as creator:
        ok(creator.post(path, json={"enabled": True}))
        error_of(creator.get(path), assumptions.MISSING_SCOPE_STATUS)


def test_ported_and_released_numbers_start_disabled(core: httpx.Client, sandbox: Sandbox) -> None:
    seed_ported(sandbox.world, [("12013140409", "ACME HQ line 1")])
    (ported,) = ok(
        core.get("/phonenumber/dids", params={"filter": 'phonenumber eq "12013140409"'})
    )["items"]
    assert ok(core.get(f"/phonenumber/dids/{ported['did_sid']}/messaging"))["enabled"] is False
    error_of(core.post("/sms/messages", json=_sms("12013140409")), 422)

    did = _rent(core, 31)
    path = f"/phonenumber/dids/{did['did_sid']}/messaging"
    ok(core.post(path, json={"enabled": True}))
    assert core.delete(f"/phonenumber/dids/{did['did_sid']}").status_code == 204
    assert not [r for r in stored(sandbox, "did_messaging") if r["did_sid"] == did["did_sid"]]
