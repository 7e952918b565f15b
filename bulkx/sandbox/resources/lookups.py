"""Core reference data and lookups: countries, phone number / toll-free / IP lookups, TTS.

Nothing here reaches a real carrier database: every answer is derived deterministically from
the number or address asked about (a hash picks a carrier, a CNAM, a RespOrg), so the same
question always gets the same answer, and numbers on the caller's account answer from its state.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import phonenumbers
from phonenumbers import carrier as phone_carrier

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects, render
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request, invalid, not_found
from bulkx.sandbox.http import Api, Raw, require_object
from bulkx.sandbox.inventory import geography_of, nanp_formats
from bulkx.sandbox.resources.storage import upload_file
from bulkx.sandbox.schema import Resource, ro, rw, validate_create
from bulkx.sandbox.world import World, now_iso


def digest(*parts: object) -> int:
    """A stable integer from `parts` (Python's hash() changes between processes)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def pick(options: Sequence[Any], *parts: object) -> Any:
    return options[digest(*parts) % len(options)]


# --- countries -----------------------------------------------------------------------------------

# alpha-2, alpha-3, numeric, common name, official name, capital, dialing prefix, domain, MCCs,
# region, subregion.
# fmt: off
_COUNTRIES: tuple[tuple[str, str, int, str, str, str, str, str, str, str, str], ...] = (
    ("AU", "AUS", 36, "Australia", "Commonwealth of Australia", "Canberra", "61", "au", "505",
     "Oceania", "Australia and New Zealand"),
    ("BR", "BRA", 76, "Brazil", "Federative Republic of Brazil", "Brasilia", "55", "br", "724",
     "Americas", "South America"),
    ("CA", "CAN", 124, "Canada", "Canada", "Ottawa", "1", "ca", "302", "Americas",
     "Northern America"),
    ("CZ", "CZE", 203, "Czech Republic", "Czech Republic", "Prague", "420", "cz", "230",
     "Europe", "Eastern Europe"),
    ("DE", "DEU", 276, "Germany", "Federal Republic of Germany", "Berlin", "49", "de", "262",
     "Europe", "Western Europe"),
    ("ES", "ESP", 724, "Spain", "Kingdom of Spain", "Madrid", "34", "es", "214", "Europe",
     "Southern Europe"),
    ("FR", "FRA", 250, "France", "French Republic", "Paris", "33", "fr", "208", "Europe",
     "Western Europe"),
    ("GB", "GBR", 826, "United Kingdom", "United Kingdom of Great Britain and Northern Ireland",
     "London", "44", "uk", "234,235", "Europe", "Northern Europe"),
    ("IN", "IND", 356, "India", "Republic of India", "New Delhi", "91", "in", "404,405", "Asia",
     "Southern Asia"),
    ("IT", "ITA", 380, "Italy", "Italian Republic", "Rome", "39", "it", "222", "Europe",
     "Southern Europe"),
    ("JP", "JPN", 392, "Japan", "Japan", "Tokyo", "81", "jp", "440,441", "Asia", "Eastern Asia"),
    ("MX", "MEX", 484, "Mexico", "United Mexican States", "Mexico City", "52", "mx", "334",
     "Americas", "Central America"),
    ("NL", "NLD", 528, "Netherlands", "Kingdom of the Netherlands", "Amsterdam", "31", "nl",
     "204", "Europe", "Western Europe"),
    ("PR", "PRI", 630, "Puerto Rico", "Commonwealth of Puerto Rico", "San Juan", "1", "pr",
     "330", "Americas", "Caribbean"),
    ("US", "USA", 840, "United States", "United States of America", "Washington D.C.", "1", "us",
     "310,311,312,313,316", "Americas", "Northern America"),
)
# fmt: on

COUNTRY = Resource(
    name="country",
    api="core",
    path="/countries",
    sid_field="iso_3166_alpha_3",
    collection="",
    operations=frozenset(),
    fields=(
        ro("capital"),
        ro("common_name"),
        ro("dialing_prefix"),
        ro("domain"),
        ro("iso_3166_alpha_2"),
        ro("iso_3166_alpha_3"),
        ro("iso_3166_numeric", "int"),
        ro("mcc"),
        ro("official_name"),
        ro("region"),
        ro("subregion"),
    ),
)

COUNTRIES: tuple[dict[str, Any], ...] = tuple(
    {
        "capital": capital,
        "common_name": common,
        "dialing_prefix": prefix,
        "domain": domain,
        "iso_3166_alpha_2": alpha2,
        "iso_3166_alpha_3": alpha3,
        "iso_3166_numeric": numeric,
        "mcc": mcc,
        "official_name": official,
        "region": region,
        "subregion": subregion,
    }
    for (
        alpha2,
        alpha3,
        numeric,
        common,
        official,
        capital,
        prefix,
        domain,
        mcc,
        region,
        subregion,
    ) in _COUNTRIES
)
_BY_CODE = {c["iso_3166_alpha_2"]: c for c in COUNTRIES} | {
    c["iso_3166_alpha_3"]: c for c in COUNTRIES
}


def country(code: str | None) -> dict[str, Any] | None:
    """A country by ISO alpha-2 or alpha-3 code (any case), or None."""
    return _BY_CODE.get((code or "").upper())


def get_country(ctx: Ctx, code: str) -> dict[str, Any]:
    found = country(code)
    if found is None:
        raise not_found("country", code)
    return render(ctx, COUNTRY, found)


# --- phone numbers -------------------------------------------------------------------------------


def parse_number(raw: str, country_code: str | None = None) -> phonenumbers.PhoneNumber | None:
    """A number as the lookup reads it: punctuation ignored, E.164 digits unless a `country_code`
    says how to read a national number; a bare 10-digit number is NANP."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits or len(digits) > 15:
        return None
    region = (country(country_code) or {}).get("iso_3166_alpha_2")
    try:
        if region and not text.startswith("+"):
            parsed = phonenumbers.parse(digits, region)
        elif len(digits) == 10 and not text.startswith("+"):
            parsed = phonenumbers.parse("+1" + digits)
        else:
            parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def e164_digits(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]


def country_of(parsed: phonenumbers.PhoneNumber) -> dict[str, Any] | None:
    return country(phonenumbers.region_code_for_number(parsed))


#: (name, type, MCC, MNC) of the US carriers numbers are dealt to.
US_CARRIERS = (
    ("INTELIQUENT", "mobile", "312", "850"),
    ("VERIZON WIRELESS", "mobile", "311", "480"),
    ("T-MOBILE USA", "mobile", "310", "260"),
    ("AT&T MOBILITY", "mobile", "310", "410"),
    ("LEVEL 3 COMMUNICATIONS", "landline", "310", "999"),
    ("BANDWIDTH.COM", "voip", "313", "100"),
)
_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
}


def carrier_for(number: str) -> dict[str, Any]:
    """The carrier a number is dealt to: {mcc, mnc, name, type}, the same every time."""
    mcc, mnc, name, kind = _carrier(number)
    return {"mcc": mcc, "mnc": mnc, "name": name, "type": kind}


@functools.lru_cache(maxsize=65_536)
def _carrier(number: str) -> tuple[str, str, str, str]:
    parsed = parse_number(number)
    if parsed is None or parsed.country_code == 1:
        # One NPA-NXX block, one carrier, as the numbering plan assigns them.
        name, kind, mcc, mnc = pick(US_CARRIERS, "carrier", number[:7] or number)
        return mcc, mnc, name, kind
    home = country_of(parsed)
    name = (
        phone_carrier.name_for_number(parsed, "en")
        or f"{(home or {}).get('common_name', 'INTL')} TELECOM"
    )
    return (
        str(home["mcc"]).split(",")[0] if home else "901",
        f"{digest('mnc', number) % 90 + 1:02d}",
        name.upper(),
        _PHONE_TYPES.get(phonenumbers.number_type(parsed), "mobile"),
    )


@functools.lru_cache(maxsize=65_536)
def country_code_of(number: str) -> str | None:
    """The ISO alpha-3 code of the country `number` (E.164 digits) belongs to, if served."""
    parsed = parse_number(number)
    return ((country_of(parsed) if parsed is not None else None) or {}).get("iso_3166_alpha_3")


_CNAM_NAMES = (
    "SMITH JOHN",
    "GARCIA MARIA",
    "JOHNSON ROBERT",
    "LEE SUSAN",
    "BROWN MICHAEL",
    "NGUYEN ANH",
    "MILLER KAREN",
    "DAVIS JAMES",
    "ACME CORP",
    "LONG BEACH CITY",
    "RODRIGUEZ LUIS",
    "KIM DAVID",
)


def cnam_for(ctx: Ctx, number: str, kind: str) -> str:
    """A number on the caller's account shows its line information caller_name, when set."""
    store = ctx.world.store
    for did in store.find("dids", "c_phonenumber=?", [number], owner=ctx.owner):
        line = store.get("did_line_information", str(did["did_sid"])) or {}
        if line.get("caller_name"):
            return str(line["caller_name"])
    if kind == "mobile":
        return assumptions.LOOKUP_CNAM_MOBILE
    return str(pick(_CNAM_NAMES, "cnam", number))


_US_STATES = {
    name.replace("_", " "): code
    for name, code in re.findall(
        r"(\S+):([A-Z]{2})",
        "Alabama:AL Alaska:AK Arizona:AZ Arkansas:AR California:CA Colorado:CO Connecticut:CT"
        " Delaware:DE Florida:FL Georgia:GA Hawaii:HI Idaho:ID Illinois:IL Indiana:IN Iowa:IA"
        " Kansas:KS Kentucky:KY Louisiana:LA Maine:ME Maryland:MD Massachusetts:MA Michigan:MI"
        " Minnesota:MN Mississippi:MS Missouri:MO Montana:MT Nebraska:NE Nevada:NV"
        " New_Hampshire:NH New_Jersey:NJ New_Mexico:NM New_York:NY North_Carolina:NC"
        " North_Dakota:ND Ohio:OH Oklahoma:OK Oregon:OR Pennsylvania:PA Rhode_Island:RI"
        " South_Carolina:SC South_Dakota:SD Tennessee:TN Texas:TX Utah:UT Vermont:VT"
        " Virginia:VA Washington:WA Washington_D.C.:DC West_Virginia:WV Wisconsin:WI Wyoming:WY",
    )
}


def _state_of(ctx: Ctx, parsed: phonenumbers.PhoneNumber, number: str) -> str | None:
    """A US number's state: its inventory block's, else what the numbering plan's geography says."""
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    block = ctx.world.inventory.block_of(number)
    if block is not None:
        return block.state
    where = geography_of(parsed)
    return _US_STATES.get(where.rpartition(", ")[2] or where)


def lookup_did(ctx: Ctx, raw: str) -> dict[str, Any]:
    query = ctx.query
    parsed = parse_number(raw, query.get("country_code"))
    if parsed is None:
        raise ErrorAnswer(
            assumptions.LOOKUP_INVALID_NUMBER_STATUS,
            "phonenumber is not a valid phone number",
            [FieldError("phonenumber", f"{raw!r} is not a phone number")],
        )
    number = e164_digits(parsed)
    home = country_of(parsed)
    if parsed.country_code == 1:
        local, international = nanp_formats(number)
    else:
        local = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    details: dict[str, Any] = {"carrier": None, "cnam": None, "lrn": None}
    found = carrier_for(number)
    if ctx.flag("carrier"):
        details["carrier"] = found
    if ctx.flag("cnam"):
        details["cnam"] = cnam_for(ctx, number, str(found["type"]))
    if ctx.flag("lrn"):
        details["lrn"] = number if parsed.country_code == 1 else None
    result = {
        "country_code": home["iso_3166_alpha_3"] if home else None,
        "details": details,
        "e164_format": "+" + number,
        "in_country_format": local,
        "international_format": international,
        "phonenumber": number,
        "state": _state_of(ctx, parsed, number),
    }
    return _select(ctx, result)


def _select(ctx: Ctx, obj: dict[str, Any]) -> dict[str, Any]:
    """Field filtering on a computed answer."""
    return render(ctx, _COMPUTED, obj)


_COMPUTED = Resource(
    name="lookup_answer", api="core", path="", sid_field="", fields=(), operations=frozenset()
)


# --- toll-free: RespOrg and CIC ------------------------------------------------------------------

_TOLL_FREE_NPAS = ("800", "833", "844", "855", "866", "877", "888")


def _toll_free(raw: str) -> str:
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10:
        digits = "1" + digits
    if len(digits) != 11 or not digits.startswith("1") or digits[1:4] not in _TOLL_FREE_NPAS:
        raise bad_request(f"{raw!r} is not a NANP toll-free number", "tollfree_phonenumber")
    return digits


def _resporg(number: str) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    value = digest("resporg", number)
    return (
        "".join(letters[(value >> (5 * i)) % len(letters)] for i in range(3)) + f"{value % 100:02d}"
    )


def lookup_resporg(ctx: Ctx, params: Mapping[str, str]) -> dict[str, Any]:
    number = _toll_free(params["tollfree_phonenumber"])
    return _select(ctx, {"resporg": _resporg(number)})


def lookup_cic(ctx: Ctx, params: Mapping[str, str]) -> dict[str, Any]:
    number = _toll_free(params["tollfree_phonenumber"])
    calling = re.sub(r"\D", "", params["calling_number"])
    if not 7 <= len(calling) <= 15:
        raise bad_request(f"{params['calling_number']!r} is not a phone number", "calling_number")
    lata = params["lata"]
    if not re.fullmatch(r"\d{3,5}", lata):
        raise bad_request("lata must be a 3 to 5 digit LATA code", "lata")
    wants_cic = ctx.query.get("cic", "true").lower() != "false"
    result = {
        "cic": f"{digest('cic', number, calling, lata) % 9000 + 1000}" if wants_cic else None,
        "resporg": _resporg(number) if ctx.flag("resporg") else None,
    }
    return _select(ctx, result)


# --- IP addresses ------------------------------------------------------------------------------

#: (alpha-2, city, region, state) IP addresses are located in.
_IP_PLACES = (
    ("US", "Long Beach", "California", "CA"),
    ("US", "New York", "New York", "NY"),
    ("US", "Dallas", "Texas", "TX"),
    ("CA", "Toronto", "Ontario", None),
    ("GB", "London", "England", None),
    ("FR", "Bordeaux", "Nouvelle-Aquitaine", None),
    ("DE", "Frankfurt am Main", "Hesse", None),
    ("JP", "Tokyo", "Tokyo", None),
)


def locate_ip(raw: str) -> dict[str, Any]:
    try:
        address = ipaddress.IPv4Address(raw)
    except ValueError:
        raise bad_request(f"{raw!r} is not an IPv4 address", "ip_address") from None
    if not address.is_global:
        raise ErrorAnswer(
            404,
            assumptions.MESSAGE_BY_STATUS[404],
            [FieldError("ip_address", f"{raw} is not a public address; it has no location")],
        )
    # One /16 is one place: neighbouring addresses agree, as they do in real geolocation data.
    alpha2, city, region, state = pick(_IP_PLACES, "ip", int(address) >> 16)
    home = country(alpha2) or {}
    return {
        "city": city,
        "common_name": home.get("common_name"),
        "iso_3166_alpha_2": alpha2,
        "region": region,
        "state": state,
    }


# --- text to speech ------------------------------------------------------------------------------

TTS_VOICES: tuple[dict[str, Any], ...] = tuple(
    {"languages": languages, "voice_sid": sid}
    for sid, languages in (
        ("man", {"en-US": 1, "en-GB": 1, "fr-FR": 1, "de-DE": 1, "es-ES": 1}),
        ("woman", {"en-US": 0, "en-GB": 0, "fr-FR": 0, "de-DE": 0, "es-ES": 0}),
        ("Polly.Joanna", {"en-US": 0}),
        ("Polly.Matthew", {"en-US": 1}),
        ("Polly.Amy", {"en-GB": 0}),
        ("Polly.Celine", {"fr-FR": 0}),
        ("Polly.Hans", {"de-DE": 0}),
        ("Polly.Lucia", {"es-ES": 0}),
    )
)
_VOICES = {v["voice_sid"]: v for v in TTS_VOICES}

TTS_VOICE = Resource(
    name="tts_voice",
    api="core",
    path="/tts/voices",
    sid_field="voice_sid",
    collection="",
    operations=frozenset(),
    fields=(ro("languages", "object"), ro("voice_sid")),
)


def _voice_known(value: Any) -> str | None:
    return None if value in _VOICES else "no such voice; see GET /tts/voices"


#: A TTS text as recorded by the sandbox (the request, and the file it answered with).
TTS_TEXT = Resource(
    name="tts_text",
    api="core",
    path="/tts/texts",
    sid_field="tts_sid",
    collection="tts_texts",
    operations=frozenset(),
    fields=(
        ro("audio_bytes", "int"),
        ro("date_created"),
        ro("file_sid"),
        rw("language", max_length=16),
        ro("partner_sid"),
        rw("text", required=True, nullable=False, max_length=assumptions.TTS_MAX_TEXT_CHARS),
        ro("tts_sid"),
        rw("voice_sid", default=assumptions.TTS_DEFAULT_VOICE, nullable=False, check=_voice_known),
    ),
)


def fake_mp3(seconds: float) -> bytes:
    """A silent MPEG-2 layer III stream, 8 kbit/s mono at 16 kHz, of about `seconds`."""
    frame = b"\xff\xf3\x18\xc4" + bytes(32)  # 36-byte frames of 36 ms
    return frame * max(1, round(seconds / 0.036))


def create_tts_text(ctx: Ctx, body: Any) -> dict[str, Any] | Raw:
    """The audio (a stream by default, or a file in a storage container), and a record of it."""
    response_format = ctx.query.get("response_format") or "stream"
    if response_format not in assumptions.TTS_RESPONSE_FORMATS:
        raise bad_request(
            "response_format must be one of " + ", ".join(assumptions.TTS_RESPONSE_FORMATS),
            "response_format",
        )
    container = ctx.query.get("response_container_sid")
    if response_format == "file" and not container:
        raise bad_request(
            "response_format=file needs a response_container_sid", "response_container_sid"
        )
    values = validate_create(TTS_TEXT, require_object(body))
    voice = _VOICES[values["voice_sid"]]
    language = values.get("language") or next(iter(voice["languages"]))
    if language not in voice["languages"]:
        raise invalid([FieldError("language", f"voice {voice['voice_sid']} does not speak it")])
    audio = fake_mp3(len(values["text"]) * assumptions.TTS_SECONDS_PER_CHARACTER)
    record = {
        **values,
        "audio_bytes": len(audio),
        "date_created": now_iso(),
        "file_sid": None,
        "language": language,
        "partner_sid": ctx.principal.partner_sid,
        "tts_sid": str(uuid.uuid4()),
    }
    answer: dict[str, Any] | Raw = Raw(audio, "audio/mpeg")
    store = ctx.world.store
    with store.transaction():
        if response_format == "file":
            name = hashlib.sha256(f"{voice['voice_sid']}:{language}:{values['text']}".encode())
            answer = upload_file(
                ctx, {"container_sid": container}, audio, f"{name.hexdigest()}.mp3"
            )
            record["file_sid"] = answer["file_sid"]
        store.insert(TTS_TEXT.collection, record["tts_sid"], ctx.owner, record)
    return answer


def _static_get(resource: Resource, items: Mapping[str, dict[str, Any]], what: str) -> Any:
    def operation(ctx: Ctx, params: Mapping[str, str], _body: Any) -> dict[str, Any]:
        found = items.get(params["sid"])
        if found is None:
            raise not_found(what, params["sid"])
        return render(ctx, resource, found)

    return operation


# --- routes ---------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    api.add(
        world,
        "/countries",
        ["GET"],
        lambda c, _p, _b: list_from_objects(c, COUNTRY, list(COUNTRIES)),
    )
    api.add(
        world,
        "/countries/ip/{ip_address}",
        ["GET"],
        lambda c, p, _b: render(c, _COMPUTED, locate_ip(p["ip_address"])),
    )
    api.add(world, "/countries/{code}", ["GET"], lambda c, p, _b: get_country(c, p["code"]))
    api.add(
        world,
        "/lookup/dids/{phonenumber}",
        ["GET"],
        lambda c, p, _b: lookup_did(c, p["phonenumber"]),
    )
    api.add(
        world,
        "/lookup/toll_free/{tollfree_phonenumber}",
        ["GET"],
        lambda c, p, _b: lookup_resporg(c, p),
    )
    api.add(
        world,
        "/lookup/toll_free/{tollfree_phonenumber}/{calling_number}/{lata}",
        ["GET"],
        lambda c, p, _b: lookup_cic(c, p),
    )
    api.add(
        world,
        "/lookup/lookup/ip_addresses/{ip_address}",
        ["GET"],
        lambda c, p, _b: render(
            c, _COMPUTED, {"ip_address": p["ip_address"], **locate_ip(p["ip_address"])}
        ),
    )
    api.add(world, "/tts/texts", ["POST"], lambda c, _p, b: create_tts_text(c, b))
    api.add(
        world,
        "/tts/voices",
        ["GET"],
        lambda c, _p, _b: list_from_objects(c, TTS_VOICE, list(TTS_VOICES)),
    )
    api.add(world, "/tts/voices/{sid}", ["GET"], _static_get(TTS_VOICE, _VOICES, "TTS voice"))


RESOURCES = (TTS_TEXT,)
