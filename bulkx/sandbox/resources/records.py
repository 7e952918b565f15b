"""Core detail records: call detail records (`/calls/call_drs`) and the app views of conference
calls and meetings and mediator calls (`/app/...`), read-only lists with `after`/`before` cursors.

The sandbox places no calls, so these records are seeded (`bulkx sandbox seed --cdrs N`,
`seed_records`): deterministic for a world's seed, dated up to the moment of seeding, between the
partner's own numbers and outside ones, and priced with the sandbox's rate tables. Seeding again
adds more (new sids), so an export can be tested against a known count.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.http import Api
from bulkx.sandbox.resources.lookups import carrier_for
from bulkx.sandbox.resources.messaging import MESSAGE_DR, segments
from bulkx.sandbox.resources.rates import call_rate_for, message_rate, price_call
from bulkx.sandbox.resources.routing import system_gateway_sid
from bulkx.sandbox.schema import Field, Resource, ro
from bulkx.sandbox.world import World


def _read_only(names: str, **types: str) -> tuple[Field, ...]:
    """Read-only fields from a space-separated list; `types` gives the non-string ones."""
    return tuple(ro(name, types.get(name, "str")) for name in names.split())  # type: ignore[arg-type]


#: Dates, numbers and directions: what exports filter and order detail records by.
_DR_INDEXES = ("date_start", "date_stop", "direction", "number_src", "number_dst")

CALL_DR = Resource(
    name="call_dr",
    api="core",
    path="/calls/call_drs",
    sid_field="dr_sid",
    collection="call_drs",
    indexed=_DR_INDEXES,
    operations=frozenset({"list", "get"}),
    fields=_read_only(
        "cic cic_original cic_transformed codec_dst codec_src date_insert date_start date_stop"
        " date_talk direction disconnect_originator diversion_dst diversion_src dr_sid duration"
        " duration_billing endpoint_sid_dst endpoint_sid_src identity ip_dst ip_src"
        " number_billing number_dst number_dst_original number_dst_transformed number_external"
        " number_src number_src_original number_src_transformed partner_sid price price_lcr_dst"
        " price_lcr_src rate rate_lcr_dst rate_lcr_src sipcallid_dst sipcallid_src sipcause"
        " stir_attest stir_identity stir_orig_id stir_signing_entity stir_verstat transcoded"
        " trunk_group_sid_dst trunk_group_sid_src trunk_sid_dst trunk_sid_src user_data version",
        transcoded="bool",
        user_data="any",
        version="int",
    ),
)

CONFERENCE_CALL = Resource(
    name="app_conference_call",
    api="core",
    # https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get (and the conference CDR
    # pages): app.manage or app.read.
    scope="app",
    path="/app/conference/calls",
    sid_field="call_sid",
    collection="app_conference_calls",
    indexed=("date_start", "date_stop", "meeting_sid", "endpoint_sid"),
    operations=frozenset({"list", "get"}),
    counts_total="/app/conference/calls" not in assumptions.LISTS_WITHOUT_TOTAL,
    fields=_read_only(
        "address_dst address_src audio_key bridge call_sid custom_call_type custom_name"
        " date_disconnected date_insert date_join date_start date_stop direction disconnect_cause"
        " disconnect_originator disconnect_reason duration duration_meeting endpoint_sid"
        " meeting_room_sid meeting_sid node number_dst number_src partner_sid role user_agent",
        disconnect_cause="int",
    ),
)

CONFERENCE_MEETING = Resource(
    name="app_conference_meeting",
    api="core",
    scope="app",
    path="/app/conference/meetings",
    sid_field="meeting_sid",
    collection="app_conference_meetings",
    indexed=("date_start", "date_stop", "endpoint_sid"),
    operations=frozenset({"list", "get"}),
    fields=_read_only(" ".join(assumptions.CONFERENCE_MEETING_DR_FIELDS), participants="int"),
)

MEDIATOR_CALL = Resource(
    name="app_mediator_call",
    api="core",
    scope="app",
    path="/app/mediator/calls",
    sid_field="dr_sid",
    collection="app_mediator_calls",
    indexed=_DR_INDEXES,
    operations=frozenset({"list"}),
    counts_total="/app/mediator/calls" not in assumptions.LISTS_WITHOUT_TOTAL,
    # The Get Mediator CDRs sample's fields, `type` and `version` included.
    fields=_read_only(
        "attributes date_insert date_start date_stop date_talk direction dr_sid dtmf duration"
        " endpoint_sid endpoint_type event_type number_dst number_redirect number_src partner_sid"
        " reference_sid type version",
        attributes="object",
        version="int",
    ),
)


# --- seeding -------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _blank(resource: Resource) -> dict[str, Any]:
    return {field.name: None for field in resource.fields}


@dataclass
class _Seeder:
    world: World
    rng: random.Random
    start: int
    numbers: Sequence[tuple[str, str | None]]
    now: datetime
    #: The people the partner's numbers talk to: a few hundred, as real traffic repeats.
    contacts: list[str] = field(init=False)

    def __post_init__(self) -> None:
        npas = ("212", "310", "415", "512", "617", "702", "760", "904")
        rng = self.rng
        self.contacts = [
            f"1{rng.choice(npas)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
            for _ in range(assumptions.SEEDED_CONTACTS)
        ]

    def sid(self, kind: str, index: int) -> str:
        name = f"bulkx-{kind}-{self.world.seed}-{self.start + index}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

    def outside_number(self) -> str:
        return self.rng.choice(self.contacts)

    def moments(self, count: int) -> list[datetime]:
        """`count` start times, oldest first, ending a little before now."""
        at, out = self.now, []
        for _ in range(count):
            at -= timedelta(seconds=self.rng.randrange(30, 600))
            out.append(at)
        return out[::-1]


_BLANK_CDR = _blank(CALL_DR)
_BLANK_MDR = MESSAGE_DR.defaults()


def _partner_numbers(world: World) -> list[tuple[str, str | None]]:
    """(number, trunk_group_sid) of the partner's DIDs; inventory numbers when it has none."""
    rows = world.store.rows(
        "SELECT c_phonenumber, c_trunk_group_sid FROM t_dids WHERE owner=? AND c_status='assigned'"
        " ORDER BY seq LIMIT 50",
        (world.partner_sid,),
    )
    if rows:
        return [(str(n), t) for n, t in rows]
    return [(f"{block.prefix}0100", None) for block in world.inventory.blocks[:5]]


def _call_dr(s: _Seeder, index: int, start: datetime) -> dict[str, Any]:
    rng = s.rng
    ours, trunk_group = rng.choice(s.numbers)
    theirs = s.outside_number()
    inbound = rng.random() < assumptions.SEEDED_CDR_INBOUND_SHARE
    answered = rng.random() >= assumptions.SEEDED_CDR_UNANSWERED_SHARE
    ring = timedelta(milliseconds=rng.randrange(500, 9000))
    talk = rng.randrange(3_000, 900_000) if answered else 0
    stop = start + ring + timedelta(milliseconds=talk)
    seconds = (stop - start).total_seconds()
    direction = "inbound" if inbound else "outbound"
    rate = call_rate_for(direction, ours if inbound else theirs)
    billed, per_minute, price = price_call(rate, talk / 1000)
    src, dst = ("+" + theirs, ours) if inbound else (ours, "+" + theirs)
    return _BLANK_CDR | {
        "codec_dst": "pcmu" if answered else None,
        "codec_src": rng.choice(("pcmu", "g722", "amrwb")),
        "date_insert": _iso(stop + timedelta(seconds=rng.randrange(5, 120))),
        "date_start": _iso(start),
        "date_stop": _iso(stop),
        "date_talk": _iso(start + ring) if answered else None,
        "direction": direction,
        "disconnect_originator": rng.choice(("SRC", "DST")),
        "dr_sid": s.sid("cdr", index),
        "duration": f"{seconds:.5f}",
        "duration_billing": str(billed),
        # The outside leg of a call is the partner's system_gateway endpoint.
        "endpoint_sid_dst": system_gateway_sid(s.world.partner_sid) if not inbound else None,
        "endpoint_sid_src": system_gateway_sid(s.world.partner_sid) if inbound else None,
        "ip_dst": f"10.222.{rng.randrange(256)}.{rng.randrange(256)}:5060",
        "ip_src": f"162.251.180.{rng.randrange(1, 255)}",
        "number_billing": ours,
        "number_dst": dst,
        "number_external": theirs,
        "number_src": src,
        "partner_sid": s.world.partner_sid,
        "price": f"{price:.4f}",
        "rate": str(per_minute),
        "sipcallid_dst": f"{uuid.UUID(int=rng.getrandbits(128)).hex}@12.7.193.174",
        "sipcallid_src": f"{uuid.UUID(int=rng.getrandbits(128)).hex}@162.251.180.24",
        "sipcause": "200" if answered else rng.choice(("486", "487", "480")),
        "stir_attest": rng.choice(("A", "B", "C")) if inbound else None,
        "stir_identity": "false",
        "stir_orig_id": src if inbound else None,
        "stir_signing_entity": "carrierX" if inbound else None,
        "transcoded": False,
        "trunk_group_sid_dst": None if not inbound else trunk_group,
        "trunk_group_sid_src": trunk_group if not inbound else None,
    }


def _message_dr(s: _Seeder, index: int, start: datetime) -> dict[str, Any]:
    rng = s.rng
    ours, _tg = rng.choice(s.numbers)
    theirs = s.outside_number()
    outbound = rng.random() >= assumptions.SEEDED_MDR_INBOUND_SHARE
    mms = rng.random() < assumptions.SEEDED_MDR_MMS_SHARE
    text = rng.choice(("Your code is 4821", "See you at 5", "Order #1182 has shipped", "OK"))
    count = segments(text, mms=mms)
    direction = "outbound" if outbound else "inbound"
    rate = message_rate(direction, theirs if outbound else ours, mms=mms)
    carrier = carrier_for(theirs)
    sent = start + timedelta(milliseconds=rng.randrange(100, 2000))
    price = f"{rate * count:f}"
    return _BLANK_MDR | {
        "date_changed": _iso(sent),
        "date_insert": _iso(start),
        "date_sent": _iso(sent),
        "date_start": _iso(start),
        "date_stop": _iso(sent + timedelta(seconds=rng.randrange(1, 30))),
        "direction": direction,
        "dr_sid": s.sid("mdr", index),
        "mcc": int(carrier["mcc"]),
        "mcc_mnc_price": price,
        "mcc_mnc_rate": f"{rate:f}",
        "media_urls": [f"https://storage.carrierx.com/f/{s.sid('media', index)}"] if mms else [],
        "message": None if mms else text,
        "message_segments": count,
        "mnc": int(carrier["mnc"]),
        "number_billing": ours,
        "number_dst": theirs if outbound else ours,
        "number_external": theirs,
        "number_group_dst": [theirs if outbound else ours],
        "number_src": ours if outbound else theirs,
        "partner_sid": s.world.partner_sid,
        "price": price,
        "rate": f"{rate:f}",
        "status": "delivered" if outbound else "received",
        "type": "mms" if mms else "sms",
    }


def _app_records(s: _Seeder, index: int, start: datetime) -> list[tuple[Resource, dict[str, Any]]]:
    """One conference meeting with its calls, and one mediator call (drawn in that order, so a
    seed makes the same records)."""
    ours, _tg = s.rng.choice(s.numbers)
    conference = _conference_meeting(s, index, start, ours)
    return [*conference, (MEDIATOR_CALL, _mediator_call(s, index, start, ours))]


def _conference_meeting(
    s: _Seeder, index: int, start: datetime, ours: str
) -> list[tuple[Resource, dict[str, Any]]]:
    """A meeting in one of three rooms of the seed's conference endpoint, its calls first."""
    rng = s.rng
    endpoint = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-conference-endpoint-{s.world.seed}"))
    meeting_sid = s.sid("meeting", index)
    room = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-room-{s.world.seed}-{index % 3}"))
    shared = {
        "endpoint_sid": endpoint,
        "meeting_room_sid": room,
        "meeting_sid": meeting_sid,
        "partner_sid": s.world.partner_sid,
    }
    calls: list[tuple[Resource, dict[str, Any]]] = []
    stop = start
    for leg in range(rng.randrange(2, 6)):
        joined = start + timedelta(seconds=leg * rng.randrange(5, 60))
        left = joined + timedelta(seconds=rng.randrange(60, 3600))
        stop = max(stop, left)
        call = _conference_call(
            s.sid(f"conference-call-{leg}", index),
            joined,
            left,
            ours,
            s.outside_number(),
            host=leg == 0,
        )
        calls.append((CONFERENCE_CALL, call | shared))
    meeting = (
        _blank(CONFERENCE_MEETING)
        | shared
        | {
            "date_insert": _iso(stop + timedelta(minutes=1)),
            "date_start": _iso(start),
            "date_stop": _iso(stop),
            "duration": str(int((stop - start).total_seconds())),
            "participants": len(calls),
        }
    )
    return [*calls, (CONFERENCE_MEETING, meeting)]


def _conference_call(
    call_sid: str, joined: datetime, left: datetime, ours: str, caller: str, *, host: bool
) -> dict[str, Any]:
    """A conference call record of `caller` dialling in to `ours` (the meeting's sids added by
    the caller), shaped as the Get Conference Calls sample."""
    return _blank(CONFERENCE_CALL) | {
        "address_dst": f'"{ours}" <sip:{ours}@11.22.33.44>',
        "address_src": f"<sip:+{caller}@12.34.56.78>",
        "bridge": "conference-bridge",
        "call_sid": call_sid,
        "date_disconnected": _iso(left),
        "date_insert": _iso(left + timedelta(minutes=1)),
        "date_join": _iso(joined + timedelta(seconds=10)),
        "date_start": _iso(joined),
        "date_stop": _iso(left),
        "direction": "inbound",
        "disconnect_cause": 16,
        "disconnect_originator": "src",
        "disconnect_reason": "Normal",
        "duration": str(int((left - joined).total_seconds())),
        "duration_meeting": str(int((left - joined).total_seconds()) - 10),
        "node": "11.22.33.44",
        "number_dst": ours,
        "number_src": "+" + caller,
        "role": "host" if host else "participant",
        "user_agent": "CX-IVS-SBC",
    }


def _mediator_call(s: _Seeder, index: int, start: datetime, ours: str) -> dict[str, Any]:
    """A Mediator call redirected through `ours`, shaped as the Get Mediator CDRs sample."""
    talk = start + timedelta(seconds=s.rng.randrange(2, 10))
    end = talk + timedelta(seconds=s.rng.randrange(10, 900))
    number_dst = s.outside_number()
    number_src = s.outside_number()
    return _blank(MEDIATOR_CALL) | {
        "attributes": {},
        "date_insert": _iso(end + timedelta(minutes=1)),
        "date_start": _iso(start),
        "date_stop": _iso(end),
        "date_talk": _iso(talk),
        "direction": "inbound",
        "dr_sid": s.sid("mediator-call", index),
        "duration": str(int((end - start).total_seconds())),
        "endpoint_sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-mediator-{s.world.seed}")),
        "endpoint_type": "mediator",
        "event_type": "binding",
        "number_dst": number_dst,
        "number_redirect": ours,
        "number_src": number_src,
        "partner_sid": s.world.partner_sid,
        "reference_sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-binding-{index % 5}")),
        "type": assumptions.MEDIATOR_CDR_TYPE,
        "version": assumptions.MEDIATOR_CDR_VERSION,
    }


def seed_records(
    world: World, *, calls: int = 0, messages: int = 0, app_records: int = 0
) -> dict[str, int]:
    """Add `calls` CDRs, `messages` MDRs and `app_records` conference meetings (with their calls)
    and mediator calls to the partner's records. Returns how many rows each collection gained."""
    store, added = world.store, {}
    numbers = _partner_numbers(world)
    now = datetime.now(UTC)
    plans = ((CALL_DR, calls, _call_dr), (MESSAGE_DR, messages, _message_dr))
    with store.transaction():
        for resource, count, build in plans:
            if count <= 0:
                continue
            start = int(store.scalar(f"SELECT count(*) FROM t_{resource.collection}"))
            rng = random.Random(f"bulkx-records-{resource.name}-{world.seed}-{start}")
            s = _Seeder(world, rng, start, numbers, now)
            rows = [build(s, i, at) for i, at in enumerate(s.moments(count))]
            store.insert_many(
                resource.collection, [(r[resource.sid_field], world.partner_sid, r) for r in rows]
            )
            added[resource.collection] = len(rows)
        if app_records > 0:
            start = int(store.scalar(f"SELECT count(*) FROM t_{CONFERENCE_MEETING.collection}"))
            rng = random.Random(f"bulkx-records-app-{world.seed}-{start}")
            s = _Seeder(world, rng, start, numbers, now - timedelta(hours=1))
            by_kind: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
            for i, at in enumerate(s.moments(app_records)):
                for resource, row in _app_records(s, i, at):
                    sid = row[resource.sid_field]
                    by_kind.setdefault(resource.collection, []).append(
                        (sid, world.partner_sid, row)
                    )
            for collection, batch in by_kind.items():
                store.insert_many(collection, batch)
                added[collection] = len(batch)
    return added


# --- routes ---------------------------------------------------------------------------------------


def mount(api: Api, world: World) -> None:
    for resource in (CALL_DR, CONFERENCE_CALL, CONFERENCE_MEETING, MEDIATOR_CALL):
        api.add_resource(world, resource)


RESOURCES = (CALL_DR, CONFERENCE_CALL, CONFERENCE_MEETING, MEDIATOR_CALL)
