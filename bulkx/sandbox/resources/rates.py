"""Core rates and rating: the call and SMS rate plans (lists and CSV downloads), and the rating
methods that price one call or message with them. Sent messages and seeded detail records are
priced with the same tables, so a rating answer always agrees with what a record shows.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import list_from_objects
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request
from bulkx.sandbox.http import Api, Handler, Raw
from bulkx.sandbox.resources.lookups import (
    US_CARRIERS,
    carrier_for,
    country,
    country_code_of,
    e164_digits,
    parse_number,
)
from bulkx.sandbox.schema import Resource, ro
from bulkx.sandbox.world import World

# --- rate tables ---------------------------------------------------------------------------------

# (prefix, country alpha-3, price per minute, billing increment = minimum, in seconds)
# fmt: off
_OUTBOUND_PSTN = (
    ("1", "USA", "0.01", 6), ("1212", "USA", "0.008", 6), ("1516", "USA", "0.008", 6),
    ("1808", "USA", "0.02", 6), ("1907", "USA", "0.035", 6), ("1204", "CAN", "0.012", 6),
    ("1416", "CAN", "0.012", 6), ("1787", "PRI", "0.015", 6), ("31", "NLD", "0.03", 60),
    ("33", "FRA", "0.025", 60), ("336", "FRA", "0.06", 60), ("34", "ESP", "0.025", 60),
    ("39", "ITA", "0.03", 60), ("420", "CZE", "0.035", 60), ("44", "GBR", "0.02", 60),
    ("447", "GBR", "0.045", 60), ("49", "DEU", "0.02", 60), ("52", "MEX", "0.03", 60),
    ("55", "BRA", "0.04", 60), ("61", "AUS", "0.04", 60), ("81", "JPN", "0.05", 60),
    ("91", "IND", "0.045", 60),
)
# fmt: on
# Inbound: one rate for every caller, toll-free numbers apart (the called number's prefix).
_INBOUND_PSTN = (
    (None, None, "0.005", 60),
    *((f"1{npa}", "USA", "0.02", 60) for npa in ("800", "833", "844", "855", "866", "877", "888")),
)

CALL_RATE = Resource(
    name="call_rate",
    api="core",
    path="/calls/rates",
    sid_field="prefix",
    operations=frozenset(),
    fields=(
        ro("billing_increment"),
        ro("billing_minimum"),
        ro("country_code"),
        ro("country_name"),
        ro("prefix"),
        ro("price"),
    ),
)


def _call_item(prefix: str | None, alpha3: str | None, price: str, step: int) -> dict[str, Any]:
    return {
        "billing_increment": str(step),
        "billing_minimum": str(step),
        "country_code": alpha3,
        "country_name": (country(alpha3) or {}).get("common_name"),
        "prefix": prefix,
        "price": price,
    }


CALL_RATES: dict[str, tuple[dict[str, Any], ...]] = {
    "inbound/pstn": tuple(_call_item(*row) for row in _INBOUND_PSTN),
    "outbound/pstn": tuple(_call_item(*row) for row in _OUTBOUND_PSTN),
    **{
        f"{direction}/voip/{sub_type}": (_call_item(None, None, price, 60),)
        for direction in ("inbound", "outbound")
        for sub_type, price in assumptions.VOIP_RATES.items()
    },
}

SMS_RATE = Resource(
    name="sms_rate",
    api="core",
    path="/sms/rates",
    sid_field="mnc",
    operations=frozenset(),
    fields=(
        ro("country_code"),
        ro("country_name"),
        ro("mcc", "int"),
        ro("mnc", "int"),
        ro("network"),
        ro("operator"),
        ro("price"),
    ),
)

# (country alpha-3, MCC, MNC, operator, price per segment for "toll"); the first row of a
# country prices its numbers whose network is not listed.
# fmt: off
_SMS_TOLL = (
    *(("USA", int(mcc), int(mnc), name, "0.0075") for name, _kind, mcc, mnc in US_CARRIERS),
    ("AUS", 505, 1, "Telstra", "0.05"), ("BRA", 724, 5, "Claro", "0.03"),
    ("CAN", 302, 720, "Rogers", "0.009"), ("CZE", 230, 4, "Vodafone", "0.08533"),
    ("DEU", 262, 1, "Telekom", "0.07"), ("ESP", 214, 7, "Movistar", "0.06"),
    ("FRA", 208, 1, "Orange", "0.065"), ("GBR", 234, 10, "O2", "0.04"),
    ("IND", 404, 10, "Airtel", "0.015"), ("ITA", 222, 1, "TIM", "0.06"),
    ("JPN", 440, 10, "NTT Docomo", "0.08"), ("MEX", 334, 20, "Telcel", "0.035"),
    ("NLD", 204, 8, "KPN", "0.075"), ("PRI", 330, 110, "Claro", "0.01"),
)
# fmt: on


def _money(value: Decimal, places: int = 5) -> str:
    return f"{value:.{places}f}"


SMS_RATES: dict[str, tuple[dict[str, Any], ...]] = {
    sub_type: tuple(
        {
            "country_code": alpha3,
            "country_name": (country(alpha3) or {}).get("common_name"),
            "mcc": mcc,
            "mnc": mnc,
            "network": None,
            "operator": operator,
            "price": _money(Decimal(price) * Decimal(factor)),
        }
        for alpha3, mcc, mnc, operator, price in _SMS_TOLL
    )
    for sub_type, factor in assumptions.SMS_SUB_TYPE_PRICE_FACTORS.items()
}

EFFECTIVE_DATE = "2024-08-23T00:00:00.000Z"


def _plan(name: str) -> dict[str, str]:
    return {"name": name, "rates_plan_sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-{name}"))}


def _rate_page(ctx: Ctx, resource: Resource, items: Sequence[dict[str, Any]], plan: str) -> Any:
    page = list_from_objects(ctx, resource, list(items))
    page.update(
        active="yes",
        effective_date=EFFECTIVE_DATE,
        partner_sid=ctx.principal.partner_sid,
        rates_plan=_plan(plan),
    )
    return dict(sorted(page.items()))


def _csv(resource: Resource, items: Sequence[dict[str, Any]]) -> Raw:
    out = io.StringIO()
    names = sorted(f.name for f in resource.fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for item in items:
        writer.writerow(["" if item.get(n) is None else item[n] for n in names])
    return Raw(out.getvalue().encode(), "text/csv")


def _table(
    tables: Mapping[str, tuple[dict[str, Any], ...]], key: str
) -> tuple[dict[str, Any], ...]:
    found = tables.get(key)
    if found is None:
        raise ErrorAnswer(
            assumptions.RATE_UNKNOWN_SUB_TYPE_STATUS,
            assumptions.MESSAGE_BY_STATUS[404],
            [FieldError("sub_type", f"no rates for {key!r}")],
        )
    return found


def call_rates(ctx: Ctx, key: str, *, as_csv: bool) -> Any:
    items = _table(CALL_RATES, key)
    if as_csv:
        return _csv(CALL_RATE, items)
    return _rate_page(ctx, CALL_RATE, items, f"retail_voice_{key.replace('/', '_')}")


def sms_rates(ctx: Ctx, sub_type: str, *, as_csv: bool) -> Any:
    ctx.principal.require_scope("sms", "read")
    items = _table(SMS_RATES, sub_type)
    if as_csv:
        return _csv(SMS_RATE, items)
    return _rate_page(ctx, SMS_RATE, items, f"sms_retail_rates_{sub_type}")


# --- pricing -----------------------------------------------------------------------------------


def call_rate_for(direction: str, number: str, sub_type: str | None = None) -> dict[str, Any]:
    """The rate item pricing a call to (outbound) or at (inbound) `number`: the longest prefix
    that matches, or the VoIP rate of an endpoint `sub_type`."""
    if sub_type is not None:
        return _table(CALL_RATES, f"{direction}/voip/{sub_type}")[0]
    items = CALL_RATES[f"{direction}/pstn"]
    best = max(
        (i for i in items if i["prefix"] is None or number.startswith(i["prefix"])),
        key=lambda i: len(i["prefix"] or ""),
        default=None,
    )
    if best is None:
        raise ErrorAnswer(
            assumptions.RATING_NO_RATE_STATUS,
            assumptions.MESSAGE_BY_STATUS[422],
            [FieldError("to", f"no {direction} rate covers {number}")],
        )
    return best


def price_call(rate: Mapping[str, Any], seconds: float) -> tuple[int, Decimal, Decimal]:
    """(billed seconds, per-minute rate, price): billed seconds are rounded up to the increment
    and are at least the minimum."""
    step, minimum = int(rate["billing_increment"]), int(rate["billing_minimum"])
    billed = max(minimum, math.ceil(seconds / step) * step) if seconds > 0 else 0
    per_minute = Decimal(str(rate["price"]))
    return billed, per_minute, per_minute * billed / 60


def message_rate(direction: str, number: str, *, mms: bool, sub_type: str = "toll") -> Decimal:
    """The price of one segment to (or from) `number`."""
    if direction == "inbound":
        return Decimal(assumptions.MMS_INBOUND_RATE if mms else assumptions.SMS_INBOUND_RATE)
    items = _table(SMS_RATES, sub_type)
    found = carrier_for(number)
    alpha3 = country_code_of(number)
    same_country = [i for i in items if i["country_code"] == alpha3]
    exact = [
        i for i in same_country if (str(i["mcc"]), str(i["mnc"])) == (found["mcc"], found["mnc"])
    ]
    candidates = exact or same_country
    if not candidates:
        raise ErrorAnswer(
            assumptions.RATING_NO_RATE_STATUS,
            assumptions.MESSAGE_BY_STATUS[422],
            [FieldError("to", f"no message rate covers {number}")],
        )
    rate = Decimal(candidates[0]["price"])
    return rate * Decimal(assumptions.MMS_PRICE_FACTOR) if mms else rate


# --- rating --------------------------------------------------------------------------------------


def _required(ctx: Ctx, *names: str) -> dict[str, str]:
    missing = [FieldError(n, "query argument is required") for n in names if not ctx.query.get(n)]
    if missing:
        raise ErrorAnswer(400, assumptions.MESSAGE_BY_STATUS[400], missing)
    return {n: ctx.query[n] for n in names}


def _direction(value: str) -> str:
    if value not in ("inbound", "outbound"):
        raise bad_request("direction must be inbound or outbound", "direction")
    return value


def _number(value: str, name: str = "to") -> str:
    parsed = parse_number(value)
    if parsed is None:
        raise bad_request(f"{value!r} is not a phone number", name)
    return e164_digits(parsed)


def _count(ctx: Ctx, name: str, default: int, *, minimum: int) -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {raw!r}", name) from None
    if value < minimum:
        raise bad_request(f"{name} must be at least {minimum}", name)
    return value


def rate_call(ctx: Ctx, sub_type: str | None) -> dict[str, Any]:
    args = _required(ctx, "direction", "duration", "to")
    direction, number = _direction(args["direction"]), _number(args["to"])
    seconds = _count(ctx, "duration", 0, minimum=0)
    if sub_type is not None and sub_type not in assumptions.VOIP_RATES:
        raise bad_request(
            "sub_type must be one of " + ", ".join(assumptions.VOIP_RATES), "sub_type"
        )
    rate = call_rate_for(direction, number, sub_type)
    billed, per_minute, price = price_call(rate, seconds)
    return {
        "direction": direction,
        "duration_billing": str(billed),
        "price": _money(price),
        "rate": _money(per_minute),
    }


def rate_message(ctx: Ctx, sub_type: str, *, mms: bool) -> dict[str, Any]:
    args = _required(ctx, "direction", "to")
    direction, number = _direction(args["direction"]), _number(args["to"])
    if sub_type not in SMS_RATES:
        raise bad_request("sub_type must be one of " + ", ".join(SMS_RATES), "sub_type")
    segments = 1 if mms else _count(ctx, "message_segments", 1, minimum=1)
    rate = message_rate(direction, number, mms=mms, sub_type=sub_type)
    return {
        "direction": direction,
        "price": _money(rate * segments),
        "rate": _money(rate),
        "segments": str(segments),
    }


# --- routes ---------------------------------------------------------------------------------------


def _call_rates_operation(direction: str, kind: str, *, as_csv: bool) -> Handler:
    def operation(ctx: Ctx, params: Mapping[str, str], _body: Any) -> Any:
        key = f"{direction}/pstn" if kind == "pstn" else f"{direction}/voip/{params['sub_type']}"
        return call_rates(ctx, key, as_csv=as_csv)

    return operation


def mount(api: Api, world: World) -> None:
    for direction in ("inbound", "outbound"):
        for kind, path in (("pstn", "pstn"), ("voip", "voip/{sub_type}")):
            for suffix, as_csv in (("", False), ("/csv", True)):
                api.add(
                    world,
                    f"/calls/rates/{direction}/{path}{suffix}",
                    ["GET"],
                    _call_rates_operation(direction, kind, as_csv=as_csv),
                )
    api.add(
        world,
        "/sms/rates/outbound/{sub_type}/csv",
        ["GET"],
        lambda c, p, _b: sms_rates(c, p["sub_type"], as_csv=True),
    )
    api.add(
        world,
        "/sms/rates/outbound/{sub_type}",
        ["GET"],
        lambda c, p, _b: sms_rates(c, p["sub_type"], as_csv=False),
    )
    api.add(world, "/rating/calls/pstn", ["GET"], lambda c, _p, _b: rate_call(c, None))
    api.add(
        world,
        "/rating/calls/voip/{sub_type}",
        ["GET"],
        lambda c, p, _b: rate_call(c, p["sub_type"]),
    )
    api.add(
        world,
        "/rating/sms/{sub_type}",
        ["GET"],
        lambda c, p, _b: rate_message(c, p["sub_type"], mms=False),
    )
    api.add(
        world,
        "/rating/mms/{sub_type}",
        ["GET"],
        lambda c, p, _b: rate_message(c, p["sub_type"], mms=True),
    )


RESOURCES: tuple[Resource, ...] = ()
