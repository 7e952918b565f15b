"""Starting live meetings in the sandbox (`bulkx sandbox seed --live-meetings N`): nobody dials
into a sandbox, so this is the only way a meeting and its calls begin.

Its own module because it reads the meeting rooms of both conference mounts, which in turn mount
`live_meetings`: kept there, it would close an import cycle.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.resources import conference_v1, conference_v2
from bulkx.sandbox.resources.live_meetings import (
    RESOURCES_V1,
    RESOURCES_V2,
    SEEDED_ROLES,
    V1_CALL,
    V1_MEETING,
    V2_CALL,
    V2_MEETING,
)
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso

#: Area codes of seeded callers; each number is in the 555-01XX range kept for fiction.
_CALLER_NPAS = ("212", "312", "415", "516", "617", "718")


def _caller(rng: random.Random) -> str:
    return f"1{rng.choice(_CALLER_NPAS)}555{rng.randint(100, 199):04d}"


def _start_v2(store: Store, owner: str, room: Mapping[str, Any], rng: random.Random) -> int:
    if store.find(V2_MEETING.collection, "c_meeting_room_sid=?", [room["meeting_room_sid"]]):
        return 0
    meeting_sid, started = str(uuid.UUID(int=rng.getrandbits(128), version=4)), now_iso()
    meeting = {
        "account_sid": owner,
        "date_start": started,
        "locked": False,
        "meeting_room_sid": room["meeting_room_sid"],
        "meeting_sid": meeting_sid,
        "properties": {},
    }
    store.insert(V2_MEETING.collection, meeting_sid, owner, meeting)
    for role in SEEDED_ROLES:
        call_sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        call = {
            "account_sid": owner,
            "call_sid": call_sid,
            "date_joined": started,
            "meeting_room_sid": room["meeting_room_sid"],
            "meeting_sid": meeting_sid,
            "muted": False,
            "number_src": _caller(rng),
            "on_hold": False,
            "role": role,
            "state": "connected",
        }
        store.insert(V2_CALL.collection, call_sid, owner, call)
    return 1


def _start_v1(store: Store, owner: str, room: Mapping[str, Any], rng: random.Random) -> int:
    number = int(room["meetingNumber"])
    if store.get(V1_MEETING.collection, str(number)) is not None:
        return 0  # assumptions.CONFERENCE_V1_ONE_MEETING_PER_ROOM
    started = int(time.time() * 1000)
    attributes = [
        {
            "description": f"the meeting's {name} setting",
            "enumValues": list(allowed),
            "group": assumptions.CONFERENCE_V1_MEETING_ATTRIBUTE_GROUP,
            "name": name,
            "type": assumptions.CONFERENCE_V1_MEETING_ATTRIBUTE_TYPE,
            "value": initial,
        }
        for name, (initial, allowed) in assumptions.CONFERENCE_V1_MEETING_ATTRIBUTES.items()
    ]
    meeting = {
        "attributes": attributes,
        "meetingNumber": number,
        "started": started,
        "subscriberSid": room.get("subscriberSid"),
    }
    store.insert(V1_MEETING.collection, str(number), owner, meeting)
    for role in SEEDED_ROLES:
        # The AUTOINCREMENT counter, as the generic create does: an ended call's id is not reused.
        last = store.scalar(
            "SELECT seq FROM sqlite_sequence WHERE name=?", (f"t_{V1_CALL.collection}",)
        )
        call_id = int(last or 0) + 1
        call = {
            "id": call_id,
            "joined": started,
            "meetingNumber": number,
            "muted": False,
            "onHold": False,
            "phoneNumber": _caller(rng),
            "role": assumptions.CONFERENCE_V1_CALL_ROLE_NUMBERS[role],
        }
        store.insert(V1_CALL.collection, str(call_id), owner, call)
    return 1


def seed_live_meetings(world: World, per_endpoint: int) -> dict[str, int]:
    """Start a meeting, with a caller per SEEDED_ROLES, in each of the first `per_endpoint`
    meeting rooms of every conference endpoint (v2 and v1) that has no live meeting yet; rooms
    must exist. Returns how many meetings and calls started."""
    store = world.store
    started = {"meetings": 0, "calls": 0}
    sources = ((conference_v2.MEETING_ROOM, _start_v2), (conference_v1.MEETING_ROOM, _start_v1))
    with store.transaction():
        seen = sum(
            int(store.scalar(f"SELECT count(*) FROM t_{r.collection}"))
            for r in RESOURCES_V2 + RESOURCES_V1
        )
        rng = random.Random(f"bulkx-live-meetings-{world.seed}-{seen}")
        for rooms, start in sources:
            by_owner: dict[str, list[dict[str, Any]]] = {}
            for owner, data in store.rows(
                f"SELECT owner, data FROM t_{rooms.collection} ORDER BY seq"
            ):
                by_owner.setdefault(str(owner), []).append(json.loads(data))
            for owner, owned in by_owner.items():
                made = 0
                for room in owned:
                    if made == per_endpoint:
                        break
                    made += start(store, owner, room, rng)
                started["meetings"] += made
                started["calls"] += made * len(SEEDED_ROLES)
    return started
