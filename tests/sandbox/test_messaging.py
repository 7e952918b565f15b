"""Core messaging over real HTTP: sending SMS/MMS from the account's numbers, the delivery clock
(queued -> sent -> delivered, one step per read), message detail records, verification SMS and
emails, push notifications. Every send is counted in the world, as a checker would count it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.resources.messaging import SMS_MESSAGE
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_fields, error_of, ok, rent_texting, stored

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "messaging", seed=12)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


@pytest.fixture(scope="module")
def ours(core: httpx.Client) -> list[str]:
    # Numbers that can text, their messaging enabled: a number sends only once it is
    # (tests/sandbox/test_did_messaging.py).
    return rent_texting(core, 2)


def send(core: httpx.Client, **body: Any) -> dict[str, Any]:
    message: dict[str, Any] = ok(core.post("/sms/messages", json=body))
    return message


def dr_of(sandbox: Sandbox, message_sid: str) -> dict[str, Any]:
    (dr,) = [r for r in stored(sandbox, "message_drs") if r.get("_message_sid") == message_sid]
    return dr


# --- sending -------------------------------------------------------------------------------------


def test_a_message_is_queued_then_sent_then_delivered(
    core: httpx.Client, sandbox: Sandbox, ours: list[str]
) -> None:
    message = send(core, **{"from": ours[0], "to": "15162065574", "message": "hello there"})
    assert set(message) == {f.name for f in SMS_MESSAGE.fields}
    assert message["status"] == assumptions.SMS_STATUS_STEPS[0] == "queued"
    assert (message["direction"], message["type"], message["message_segments"]) == (
        "outbound",
        "sms",
        1,
    )
    assert message["price"] is None and message["date_status_changed"] is None
    assert message["partner_sid"] == sandbox.world.partner_sid
    sid = message["message_sid"]

    sent = ok(core.get(f"/sms/messages/{sid}"))
    assert sent["status"] == "sent"
    rating = ok(core.get("/rating/sms/toll", params={"direction": "outbound", "to": "15162065574"}))
    assert float(sent["price"]) == float(rating["price"])
    assert isinstance(sent["mcc"], int) and isinstance(sent["mnc"], int)
    delivered = ok(core.get(f"/sms/messages/{sid}"))
    assert delivered["status"] == "delivered"
    assert delivered["date_status_changed"] >= sent["date_status_changed"]
    assert ok(core.get(f"/sms/messages/{sid}"))["status"] == "delivered"

    dr = ok(core.get(f"/sms/message_drs/{dr_of(sandbox, sid)['dr_sid']}"))
    assert (dr["status"], dr["direction"], dr["type"]) == ("delivered", "outbound", "sms")
    assert (dr["number_src"], dr["number_dst"], dr["message"]) == (
        ours[0],
        "15162065574",
        "hello there",
    )
    assert dr["price"] == sent["price"] and dr["date_sent"] and dr["date_stop"]


def test_every_send_is_recorded_once(core: httpx.Client, sandbox: Sandbox, ours: list[str]) -> None:
    messages, drs = len(stored(sandbox, "sms_messages")), len(stored(sandbox, "message_drs"))
    sids = [
        send(core, **{"from": ours[1], "to": f"1212555010{i}", "message": f"n{i}"})["message_sid"]
        for i in range(3)
    ]
    error_of(
        core.post(
            "/sms/messages", json={"from": "15550001111", "to": "12125550100", "message": "x"}
        ),
        422,
    )
    now = stored(sandbox, "sms_messages")
    assert len(now) == messages + 3
    assert [m["message_sid"] for m in now[-3:]] == sids
    assert len(stored(sandbox, "message_drs")) == drs + 3


def test_send_refuses_what_it_cannot_send(
    core: httpx.Client, sandbox: Sandbox, ours: list[str]
) -> None:
    before = len(stored(sandbox, "sms_messages"))
    body = {"from": ours[0], "to": "15162065574", "message": "hi"}
    not_ours = error_of(core.post("/sms/messages", json={**body, "from": "15550001111"}), 422)
    assert [e["field"] for e in not_ours["errors"]] == ["from"]
    assert error_fields(core.post("/sms/messages", json={}), 422) == {"from", "to", "message"}
    assert error_fields(core.post("/sms/messages", json={**body, "to": "call me"}), 422) == {"to"}
    assert error_fields(core.post("/sms/messages", json={**body, "status": "delivered"}), 422) == {
        "status"
    }
    assert error_fields(core.post("/sms/messages", json={**body, "colour": "red"}), 422) == {
        "colour"
    }
    assert error_fields(
        core.post("/sms/messages", json={**body, "media_urls": ["ftp://x"]}), 422
    ) == {"media_urls"}
    eleven = [f"https://example.com/{i}.png" for i in range(assumptions.MMS_MAX_MEDIA_URLS + 1)]
    assert error_fields(core.post("/sms/messages", json={**body, "media_urls": eleven}), 422) == {
        "media_urls"
    }
    long = "x" * (assumptions.SMS_MAX_MESSAGE_CHARS + 1)
    assert error_fields(core.post("/sms/messages", json={**body, "message": long}), 422) == {
        "message"
    }
    error_of(
        core.post("/sms/messages", content=b"{", headers={"content-type": "application/json"}), 400
    )
    assert len(stored(sandbox, "sms_messages")) == before


def test_mms_segments_and_legacy_names(core: httpx.Client, ours: list[str]) -> None:
    mms = send(
        core,
        **{
            "from": "+" + ours[0],
            "to": "+15162065574",
            "media_urls": ["https://example.com/cat.png"],
            "group_recipients": ["15162065575"],
        },
    )
    assert (mms["type"], mms["message_segments"], mms["from"], mms["to"]) == (
        "mms",
        1,
        ours[0],
        "15162065574",
    )
    assert mms["group_recipients"] == ["15162065575"]
    text = "a" * 161
    assert (
        send(core, **{"from": ours[0], "to": "15162065574", "message": text})["message_segments"]
        == 2
    )
    unicode = "é" * 60 + "ж" * 11  # not GSM-7: 70 characters a segment
    assert (
        send(core, **{"from": ours[0], "to": "15162065574", "message": unicode})["message_segments"]
        == 2
    )
    legacy = send(core, from_did=ours[1], to_did="15162065574", message="old names")
    assert (legacy["from"], legacy["to"]) == (ours[1], "15162065574")


def test_update_a_message_and_its_record(
    core: httpx.Client, sandbox: Sandbox, ours: list[str]
) -> None:
    message = send(core, **{"from": ours[0], "to": "15162065574", "message": "tag me"})
    sid = message["message_sid"]
    patched = ok(core.patch(f"/sms/messages/{sid}", json={"user_data": "campaign-7"}))
    assert patched["user_data"] == "campaign-7"
    dr_sid = dr_of(sandbox, sid)["dr_sid"]
    assert ok(core.get(f"/sms/message_drs/{dr_sid}"))["user_data"] == "campaign-7"
    current = ok(core.get(f"/sms/messages/{sid}"))
    put = ok(core.put(f"/sms/messages/{sid}", json={**current, "user_data": "campaign-8"}))
    assert put["user_data"] == "campaign-8"
    assert error_fields(core.put(f"/sms/messages/{sid}", json={"to": current["to"]}), 422) == {
        "user_data"
    }
    assert error_fields(core.patch(f"/sms/messages/{sid}", json={"to": "15550000000"}), 422) == {
        "to"
    }
    assert error_fields(core.patch(f"/sms/messages/{sid}", json={"status": "failed"}), 422) == {
        "status"
    }
    # The record's user_data changes on its own.
    assert (
        ok(core.put(f"/sms/message_drs/{dr_sid}", json={"user_data": "dr only"}))["user_data"]
        == "dr only"
    )
    assert ok(core.get(f"/sms/messages/{sid}"))["user_data"] == "campaign-8"
    assert error_fields(core.patch(f"/sms/message_drs/{dr_sid}", json={"price": "0"}), 422) == {
        "price"
    }
    for path in ("/sms/messages", "/sms/message_drs"):
        error_of(core.get(f"{path}/unknown"), 404)
        error_of(core.patch(f"{path}/unknown", json={"user_data": "x"}), 404)
        error_of(core.delete(f"{path}/{sid}"), 405)


def test_message_lists_filter_and_page(core: httpx.Client, ours: list[str]) -> None:
    sent = [
        send(core, **{"from": ours[1], "to": "17605690000", "message": f"#{i}"}) for i in range(3)
    ]
    page = ok(core.get("/sms/messages", params={"filter": 'to eq "17605690000"', "limit": 2}))
    assert page["total"] == 3 and page["has_more"]
    assert [m["message_sid"] for m in page["items"]] == [m["message_sid"] for m in sent[:2]]
    rest = ok(
        core.get(
            "/sms/messages",
            params={"filter": 'to eq "17605690000"', "after": sent[1]["message_sid"]},
        )
    )
    assert [m["message_sid"] for m in rest["items"]] == [sent[2]["message_sid"]]
    drs = ok(
        core.get(
            "/sms/message_drs",
            params={"filter": 'number_dst eq "17605690000"', "order": "date_start desc"},
        )
    )
    assert [d["message"] for d in drs["items"]] == ["#2", "#1", "#0"]


def test_sms_needs_the_sms_scope(sandbox: Sandbox, ours: list[str]) -> None:
    sandbox.world.ensure_token("no-sms-token", scopes=("phonenumber.manage",))
    with httpx.Client(
        base_url=sandbox.core_url, headers={"Authorization": "Bearer no-sms-token"}, timeout=10
    ) as client:
        error_of(client.get("/sms/messages"), 403)
        error_of(
            client.post(
                "/sms/messages", json={"from": ours[0], "to": "12125550100", "message": "x"}
            ),
            403,
        )
        error_of(client.get("/sms/message_drs"), 403)
        # Call records are not scope checked (assumptions.UNSCOPED_AREAS).
        assert "calls" in assumptions.UNSCOPED_AREAS
        ok(client.get("/calls/call_drs"))


# --- verification --------------------------------------------------------------------------------


def test_verification_sms_sends_a_recorded_code(
    core: httpx.Client, sandbox: Sandbox, ours: list[str]
) -> None:
    answer = ok(core.post("/verification/sms", params={"from": ours[0], "to": "18057224756"}))
    code = answer["code"]
    assert len(code) == assumptions.VERIFICATION_CODE_LENGTH and code.isdigit()
    message = ok(core.get(f"/sms/messages/{answer['message_sid']}"))
    assert message["message"] == f"{assumptions.VERIFICATION_MESSAGE} {code}"
    assert (message["from"], message["to"]) == (ours[0], "18057224756")
    (record,) = [v for v in stored(sandbox, "verifications") if v["code"] == code]
    assert record["message_sid"] == answer["message_sid"]

    custom = ok(
        core.post(
            "/verification/sms",
            params={
                "from": ours[0],
                "to": "18057224756",
                "message": "PIN:",
                "code_length": 6,
                "code_type": "alphabetical_upper",
            },
        )
    )
    assert len(custom["code"]) == 6 and custom["code"].isupper() and custom["code"].isalpha()
    assert (
        ok(core.get(f"/sms/messages/{custom['message_sid']}"))["message"]
        == f"PIN: {custom['code']}"
    )

    before = len(stored(sandbox, "verifications"))
    assert error_fields(core.post("/verification/sms", params={"to": "18057224756"}), 400) == {
        "from"
    }
    bad_type = core.post(
        "/verification/sms", params={"from": ours[0], "to": "18057224756", "code_type": "emoji"}
    )
    assert error_fields(bad_type, 400) == {"code_type"}
    not_ours = core.post("/verification/sms", params={"from": "15550001111", "to": "18057224756"})
    assert error_fields(not_ours, 422) == {"from"}
    assert len(stored(sandbox, "verifications")) == before


def test_verification_email_and_its_token(core: httpx.Client, sandbox: Sandbox) -> None:
    sent = ok(core.post("/verification/email", json={"to_address": "jsmith@example.com"}))
    assert sent == {
        "base_url": assumptions.VERIFICATION_BASE_URL,
        "email_template_sid": assumptions.VERIFICATION_EMAIL_TEMPLATE_SID,
        "partner_sid": None,
        "status": "sent_email",
        "to_address": "jsmith@example.com",
    }
    (record,) = [
        e for e in stored(sandbox, "verification_emails") if e["to_address"] == "jsmith@example.com"
    ]
    verified = ok(core.get(f"/verification/email/tokens/{record['_token']}"))
    assert verified == {**sent, "status": "verified"}
    error_of(core.get("/verification/email/tokens/not-a-token"), 404)
    assert error_fields(core.post("/verification/email", json={}), 422) == {"to_address"}
    assert error_fields(core.post("/verification/email", json={"to_address": "nope"}), 422) == {
        "to_address"
    }
    unknown_template = {"to_address": "a@example.com", "email_template_sid": "x"}
    assert error_fields(core.post("/verification/email", json=unknown_template), 422) == {
        "email_template_sid"
    }
    mine = ok(core.post("/verification/email", json={"partner_sid": sandbox.world.partner_sid}))
    assert mine["partner_sid"] == sandbox.world.partner_sid
    other = core.post("/verification/email", json={"partner_sid": "someone-else"})
    assert error_fields(other, 422) == {"partner_sid"}


def test_email_templates(core: httpx.Client) -> None:
    listed = ok(core.get("/verification/email/templates", params={"exclude_fields": "html_body"}))
    assert listed["total"] == 2 and all("html_body" not in t for t in listed["items"])
    sid = assumptions.VERIFICATION_EMAIL_TEMPLATE_SID
    template = ok(core.get(f"/verification/email/templates/{sid}"))
    assert template["type"] == "email_address_verification"
    assert "${base_url}" in template["text_body"]
    error_of(core.get("/verification/email/templates/unknown"), 404)


# --- push notifications --------------------------------------------------------------------------


def test_push_notifications_reach_known_devices(core: httpx.Client, sandbox: Sandbox) -> None:
    application = ok(core.post("/push/applications", json={"name": "app"}))
    body = {"application_sid": application["application_sid"], "token": "t-1", "type": "ios"}
    device = ok(core.post("/push/devices", json=body))
    before = len(stored(sandbox, "push_notifications"))
    body = {
        "title": "Hi",
        "body": "Test",
        "ttl": 5,
        "priority": "normal",
        "recipients": [device["device_sid"], "not-a-device"],
    }
    answer = ok(core.post("/push/notifications", json=body))
    assert answer == {
        "failure": 1,
        "results": {
            device["device_sid"]: "success",
            "not-a-device": assumptions.PUSH_UNKNOWN_DEVICE_RESULT,
        },
        "success": 1,
    }
    (record,) = stored(sandbox, "push_notifications")[before:]
    assert record["recipients"] == body["recipients"] and record["title"] == "Hi"
    assert error_fields(core.post("/push/notifications", json={"title": "x"}), 422) == {
        "recipients"
    }
    many = {"recipients": [f"d{i}" for i in range(assumptions.PUSH_MAX_RECIPIENTS + 1)]}
    assert error_fields(core.post("/push/notifications", json=many), 422) == {"recipients"}
    urgent = {"recipients": [device["device_sid"]], "priority": "urgent"}
    assert error_fields(core.post("/push/notifications", json=urgent), 422) == {"priority"}
    assert len(stored(sandbox, "push_notifications")) == before + 1
