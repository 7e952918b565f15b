"""Core rates, rating, lookups, countries and TTS over real HTTP. Answers are derived from the
number or address asked about, so they are the same every time; rating agrees with rate lists.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_fields, error_of, ok, rent, stored

pytestmark = pytest.mark.timeout(60)

Params = dict[str, str | int]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "rates_lookups", seed=13)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


# --- rates ---------------------------------------------------------------------------------------


def test_call_rate_lists_and_csv(core: httpx.Client, sandbox: Sandbox) -> None:
    page = ok(core.get("/calls/rates/outbound/pstn", params={"limit": 3}))
    assert (page["active"], page["count"], page["has_more"]) == ("yes", 3, True)
    assert page["partner_sid"] == sandbox.world.partner_sid
    assert set(page["rates_plan"]) == {"name", "rates_plan_sid"}
    assert set(page["items"][0]) == {
        "billing_increment",
        "billing_minimum",
        "country_code",
        "country_name",
        "prefix",
        "price",
    }
    france = ok(core.get("/calls/rates/outbound/pstn", params={"filter": "country_code eq FRA"}))
    assert {r["prefix"] for r in france["items"]} == {"33", "336"}
    inbound = ok(core.get("/calls/rates/inbound/pstn", params={"limit": 1000}))
    table = list(csv.DictReader(io.StringIO(core.get("/calls/rates/inbound/pstn/csv").text)))
    assert len(table) == inbound["total"]
    assert [row["price"] for row in table] == [r["price"] for r in inbound["items"]]
    inbound_voip = ok(core.get("/calls/rates/inbound/voip/conference"))
    assert inbound_voip["items"][0]["price"] == assumptions.VOIP_RATES["conference"]
    outbound_voip = ok(core.get("/calls/rates/outbound/voip/third_party"))
    assert outbound_voip["items"][0]["price"] == assumptions.VOIP_RATES["third_party"]
    for download in (
        core.get("/calls/rates/inbound/voip/third_party/csv"),
        core.get("/calls/rates/outbound/voip/flexml/csv"),
        core.get("/calls/rates/outbound/pstn/csv"),
    ):
        assert download.headers["content-type"].startswith("text/csv")
        assert download.text.splitlines()[0].startswith("billing_increment,")
    error_of(core.get("/calls/rates/outbound/voip/fax"), assumptions.RATE_UNKNOWN_SUB_TYPE_STATUS)


def test_sms_rate_lists(core: httpx.Client) -> None:
    toll = ok(core.get("/sms/rates/outbound/toll", params={"limit": 1000}))
    free = ok(core.get("/sms/rates/outbound/toll_free", params={"limit": 1000}))
    factor = float(assumptions.SMS_SUB_TYPE_PRICE_FACTORS["toll_free"])
    for a, b in zip(toll["items"], free["items"], strict=True):
        assert float(b["price"]) == pytest.approx(float(a["price"]) * factor, abs=1e-5)
    czech = ok(core.get("/sms/rates/outbound/toll", params={"filter": "mcc eq 230"}))["items"]
    assert [(r["country_code"], r["mnc"]) for r in czech] == [("CZE", 4)]
    rows = list(csv.DictReader(io.StringIO(core.get("/sms/rates/outbound/short_code/csv").text)))
    assert len(rows) == toll["total"]
    error_of(core.get("/sms/rates/outbound/premium"), assumptions.RATE_UNKNOWN_SUB_TYPE_STATUS)


# --- rating --------------------------------------------------------------------------------------


def rating(core: httpx.Client, path: str, **params: str | int) -> dict[str, str]:
    answer: dict[str, str] = ok(core.get(f"/rating/{path}", params=params))
    return answer


def test_call_rating_agrees_with_the_rate_lists(core: httpx.Client) -> None:
    rated = rating(core, "calls/pstn", direction="outbound", duration=10, to="33612345678")
    mobile = ok(core.get("/calls/rates/outbound/pstn", params={"filter": "prefix eq 336"}))
    rate = mobile["items"][0]  # the longest matching prefix, not "33"
    assert float(rated["rate"]) == float(rate["price"])
    assert rated["duration_billing"] == rate["billing_minimum"] == "60"
    assert float(rated["price"]) == pytest.approx(float(rate["price"]))
    us = rating(core, "calls/pstn", direction="outbound", duration=61, to="+1 (760) 569-2222")
    assert us["duration_billing"] == "66"  # 6-second increments
    inbound = rating(core, "calls/pstn", direction="inbound", duration=30, to="18002446227")
    assert inbound["rate"] == "0.02000"
    voip = rating(core, "calls/voip/flexml", direction="outbound", duration=90, to="17605692222")
    assert (voip["duration_billing"], voip["rate"]) == ("120", "0.00100")
    assert error_fields(core.get("/rating/calls/pstn", params={"to": "17605692222"}), 400) == {
        "direction",
        "duration",
    }
    wrong: Params = {"direction": "sideways", "duration": 1, "to": "17605692222"}
    assert error_fields(core.get("/rating/calls/pstn", params=wrong), 400) == {"direction"}
    bad_number: Params = {"direction": "outbound", "duration": 1, "to": "nope"}
    assert error_fields(core.get("/rating/calls/pstn", params=bad_number), 400) == {"to"}
    fax = core.get("/rating/calls/voip/fax", params={**wrong, "direction": "inbound"})
    assert error_fields(fax, 400) == {"sub_type"}


def test_message_rating(core: httpx.Client) -> None:
    france: Params = {"direction": "outbound", "to": "33612345678"}
    one = rating(core, "sms/toll", **france)
    two = rating(core, "sms/toll", **france, message_segments=2)
    assert (one["segments"], two["segments"]) == ("1", "2")
    assert float(two["price"]) == pytest.approx(2 * float(one["price"]))
    mms = ok(core.get("/rating/mms/toll", params={**france, "message_segments": 5}))
    assert mms["segments"] == "1"
    assert float(mms["rate"]) == pytest.approx(
        float(one["rate"]) * float(assumptions.MMS_PRICE_FACTOR)
    )
    inbound = rating(core, "sms/toll", direction="inbound", to="33612345678")
    assert float(inbound["rate"]) == float(assumptions.SMS_INBOUND_RATE)
    error_of(
        core.get("/rating/sms/toll", params={"direction": "outbound", "to": "254712345678"}),
        assumptions.RATING_NO_RATE_STATUS,
    )
    assert error_fields(core.get("/rating/sms/premium", params=france), 400) == {"sub_type"}
    zero: Params = {**france, "message_segments": 0}
    assert error_fields(core.get("/rating/sms/toll", params=zero), 400) == {"message_segments"}


# --- lookups -------------------------------------------------------------------------------------


def test_phone_number_lookup(core: httpx.Client) -> None:
    plain = ok(core.get("/lookup/dids/14353035210"))
    assert plain == {
        "country_code": "USA",
        "details": {"carrier": None, "cnam": None, "lrn": None},
        "e164_format": "+14353035210",
        "in_country_format": "(435) 303-5210",
        "international_format": "+1 435-303-5210",
        "phonenumber": "14353035210",
        "state": "UT",
    }
    flags = {"carrier": "true", "cnam": "true", "lrn": "true"}
    full = ok(core.get("/lookup/dids/+1 (435) 303-5210", params=flags))
    assert full == ok(core.get("/lookup/dids/14353035210", params=flags))  # the same every time
    assert set(full["details"]["carrier"]) == {"mcc", "mnc", "name", "type"}
    assert full["details"]["cnam"] and full["details"]["lrn"] == "14353035210"
    french = ok(
        core.get("/lookup/dids/0612345678", params={"country_code": "FRA", "carrier": "true"})
    )
    assert (french["phonenumber"], french["country_code"], french["state"]) == (
        "33612345678",
        "FRA",
        None,
    )
    assert french["details"]["carrier"]["mcc"] == "208"
    assert ok(core.get("/lookup/dids/14353035210", params={"include_fields": "state"})) == {
        "state": "UT"
    }
    body = error_of(core.get("/lookup/dids/12"), assumptions.LOOKUP_INVALID_NUMBER_STATUS)
    assert body["errors"][0]["field"] == "phonenumber"


def test_cnam_of_an_account_number_is_its_line_information(core: httpx.Client) -> None:
    did = ok(core.post("/phonenumber/dids", json={}))
    ok(
        core.patch(
            f"/phonenumber/dids/{did['did_sid']}/line_information",
            json={"caller_name": "ACME SUPPORT"},
        )
    )
    found = ok(core.get(f"/lookup/dids/{did['phonenumber']}", params={"cnam": "true"}))
    assert found["details"]["cnam"] == "ACME SUPPORT"
    assert found["state"] == did["state"]


def test_toll_free_lookups(core: httpx.Client) -> None:
    resporg = ok(core.get("/lookup/toll_free/18002446227"))["resporg"]
    assert len(resporg) == 5 and resporg[:3].isalpha() and resporg[3:].isdigit()
    cic = ok(core.get("/lookup/toll_free/18002446227/12092551162/490", params={"resporg": "true"}))
    assert cic["resporg"] == resporg and len(cic["cic"]) == 4
    assert ok(core.get("/lookup/toll_free/8002446227/12092551162/490")) == {
        "cic": cic["cic"],
        "resporg": None,
    }
    assert (
        ok(core.get("/lookup/toll_free/18002446227/12092551162/490", params={"cic": "false"}))[
            "cic"
        ]
        is None
    )
    assert error_fields(core.get("/lookup/toll_free/12125550100"), 400) == {"tollfree_phonenumber"}
    assert error_fields(core.get("/lookup/toll_free/18002446227/12092551162/4x"), 400) == {"lata"}


def test_ip_lookups_and_countries(core: httpx.Client) -> None:
    located = ok(core.get("/lookup/lookup/ip_addresses/2.6.26.2"))
    assert set(located) == {
        "city",
        "common_name",
        "ip_address",
        "iso_3166_alpha_2",
        "region",
        "state",
    }
    by_country = ok(core.get("/countries/ip/2.6.26.2"))
    assert by_country == {k: v for k, v in located.items() if k != "ip_address"}
    assert ok(core.get("/countries/ip/2.6.26.200")) == by_country  # one /16, one place
    error_of(core.get("/countries/ip/10.1.2.3"), 404)
    assert error_fields(core.get("/lookup/lookup/ip_addresses/300.1.1.1"), 400) == {"ip_address"}

    countries = ok(core.get("/countries", params={"limit": 1000}))
    assert countries["total"] == len(countries["items"]) >= 15
    us = ok(core.get("/countries/US"))
    assert us == ok(core.get("/countries/usa"))
    assert (us["iso_3166_alpha_3"], us["dialing_prefix"], us["iso_3166_numeric"]) == (
        "USA",
        "1",
        840,
    )
    europe = ok(
        core.get("/countries", params={"filter": "region eq Europe", "order": "common_name desc"})
    )
    names = [c["common_name"] for c in europe["items"]]
    assert names == sorted(names, reverse=True) and "France" in names
    error_of(core.get("/countries/XX"), 404)


# --- text to speech ------------------------------------------------------------------------------


def test_tts_voices(core: httpx.Client) -> None:
    voices = ok(core.get("/tts/voices", params={"limit": 100}))["items"]
    assert {"man", "woman", "Polly.Joanna"} <= {v["voice_sid"] for v in voices}
    assert ok(core.get("/tts/voices/Polly.Joanna")) == {
        "languages": {"en-US": 0},
        "voice_sid": "Polly.Joanna",
    }
    error_of(core.get("/tts/voices/Robot"), 404)


def test_tts_texts_stream_or_store_audio(core: httpx.Client, sandbox: Sandbox) -> None:
    before = len(stored(sandbox, "tts_texts"))
    audio = core.post("/tts/texts", json={"text": "This is my text for text-to-speech."})
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.content[:2] == b"\xff\xf3" and len(audio.content) > 36
    longer = core.post("/tts/texts", json={"text": "x" * 500, "voice_sid": "Polly.Amy"})
    assert len(longer.content) > len(audio.content)

    container = ok(core.post("/storage/containers", json={"name": "tts"}))
    file = ok(
        core.post(
            "/tts/texts",
            json={"text": "Saved.", "language": "fr-FR"},
            params={
                "response_format": "file",
                "response_container_sid": container["container_sid"],
            },
        )
    )
    assert (file["container_sid"], file["mime_type"]) == (container["container_sid"], "audio/mpeg")
    data = core.get(f"/storage/files/{file['file_sid']}/data")
    assert data.status_code == 200 and data.content[:2] == b"\xff\xf3"
    records = stored(sandbox, "tts_texts")[before:]
    assert [(r["text"][:6], r["voice_sid"], r["file_sid"]) for r in records] == [
        ("This i", assumptions.TTS_DEFAULT_VOICE, None),
        ("xxxxxx", "Polly.Amy", None),
        ("Saved.", assumptions.TTS_DEFAULT_VOICE, file["file_sid"]),
    ]

    assert error_fields(core.post("/tts/texts", json={}), 422) == {"text"}
    assert error_fields(core.post("/tts/texts", json={"text": "x", "voice_sid": "Robot"}), 422) == {
        "voice_sid"
    }
    wrong_language = {"text": "x", "voice_sid": "Polly.Joanna", "language": "de-DE"}
    assert error_fields(core.post("/tts/texts", json=wrong_language), 422) == {"language"}
    no_container = core.post("/tts/texts", json={"text": "x"}, params={"response_format": "file"})
    assert error_fields(no_container, 400) == {"response_container_sid"}
    unknown_format = core.post("/tts/texts", json={"text": "x"}, params={"response_format": "ogg"})
    assert error_fields(unknown_format, 400) == {"response_format"}
    assert len(stored(sandbox, "tts_texts")) == before + 3


def test_numbers_on_the_account_sound_the_same_everywhere(core: httpx.Client) -> None:
    """A rented number's lookup state matches the DID; rate lists and rating use one table."""
    (number,) = rent(core, 1)
    did = ok(core.get("/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'}))
    assert ok(core.get(f"/lookup/dids/{number}"))["state"] == did["items"][0]["state"]
