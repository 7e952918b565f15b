"""Documented samples of the Conference v2 API (`/conference/v2`), each with its page. Where a
method page has no sample, the object page's sample is the answer of the method that reads one."""

from __future__ import annotations

from tests.sandbox.documented_samples.model import DATE, PHONE, SID, STR, Sample

D = "https://docs.carrierx.com/conference/conf-v2-api/"

ROOM_CODES = [
    {"access_code": "890671", "role": "host"},
    {"access_code": "265423", "role": "listener"},
    {"access_code": "143623", "role": "participant"},
]
ROOM = {
    "access_codes": ROOM_CODES,
    "account_sid": SID,
    "properties": {},
    "did_group_sid": None,
    "meeting_room_sid": SID,
    "name": "My meeting room",
}
#: The base properties of the `secured` call flow (the Call Flow object's sample).
# fmt: off
SECURED_PROPERTIES = {
    "call_mute_dtmf_binding": "*6", "call_rolepin_dtmf_binding": "99",
    "conference_announceparticipantcount_policy": "hpl", "conference_entrytones_enabled": "on",
    "conference_exittones_enabled": "on", "conference_hold_dtmf_binding": "*3",
    "conference_lock_dtmf_binding": "*7", "conference_moh": "default",
    "conference_moh_enabled": "on", "conference_mute_dtmf_binding": "*5",
    "conference_mute_menu_dtmf_binding": "95", "conference_mute_policy": "l",
    "conference_recording_dtmf_binding": "*9", "conference_recording_enabled": "on",
    "conference_start_how": "first", "conference_start_wait": "360",
    "conference_stop_how": "last", "conference_stop_wait": "180",
    "conference_welcomeprompt": "default", "conference_welcomeprompt_enabled": "on",
    "did_language": "en_US", "did_prompt_serial": "001", "did_welcomeprompt": "default",
}
# fmt: on

SAMPLES: tuple[Sample, ...] = (
    Sample(
        name="conference_v2/account/whoami",
        page=D + "accounts/account",
        api="conference_v2",
        method="GET",
        path="/accounts/whoami",
        status=200,
        given="conference_v2",
        response={
            "account_sid": SID,
            "properties": {},
            "call_flow_sid": SID,
            "date_created": DATE,
            "login": STR,
            "name": STR,
        },
        note="the Account object's sample, as the endpoint's own account answers it",
    ),
    Sample(
        name="conference_v2/meeting-room/create",
        page=D + "meeting-rooms/meeting-room/create",
        api="conference_v2",
        method="POST",
        path="/meeting_rooms",
        status=200,
        given="conference_v2",
        body={"name": "My meeting room", "access_codes": ROOM_CODES},
        response=ROOM,
    ),
    Sample(
        name="conference_v2/meeting-room/get",
        page=D + "meeting-rooms/meeting-room",
        api="conference_v2",
        method="GET",
        path="/meeting_rooms/{meeting_room_sid}",
        status=200,
        given="conference_v2_room",
        response=ROOM,
        note="the Meeting Room object's sample, read back by sid",
    ),
    Sample(
        name="conference_v2/did-group/create",
        page=D + "did-groups/did-group",
        api="conference_v2",
        method="POST",
        path="/did_groups",
        status=200,
        given="conference_v2",
        body={"name": "New DID group"},
        response={
            "account_sid": SID,
            "properties": {},
            "call_flow_sid": None,
            "did_group_sid": SID,
            "name": "New DID group",
        },
        note="the DID Group object's sample (its JSON has a trailing comma)",
    ),
    Sample(
        name="conference_v2/did-group/update",
        page=D + "did-groups/did-group/update",
        api="conference_v2",
        method="PATCH",
        path="/did_groups/{did_group_sid}",
        status=200,
        given="conference_v2_did",
        body={"name": "New DID group"},
        response={
            "account_sid": SID,
            "properties": {},
            "call_flow_sid": None,
            "did_group_sid": SID,
            "name": "New DID group",
        },
        note="the page's JSON has a trailing comma",
    ),
    Sample(
        name="conference_v2/did/update",
        page=D + "dids/did/update",
        api="conference_v2",
        method="PATCH",
        path="/dids/{did_sid}",
        status=200,
        given="conference_v2_did",
        body={"did_group_sid": "{did_group_sid}"},
        note="the DID's call flow was set before, as the sample's DID has one",
        response={
            "account_sid": SID,
            "properties": {},
            "call_flow_sid": SID,
            "country_code": "USA",
            "did_group_sid": SID,
            "did_sid": SID,
            "in_country_format": STR,
            "international_format": STR,
            "phonenumber": PHONE,
        },
    ),
    Sample(
        name="conference_v2/call-flow/get-by-sid",
        page=D + "call-flows/call-flow/get-by-sid",
        api="conference_v2",
        method="GET",
        path="/call_flows/{secured_call_flow_sid}",
        status=200,
        given="conference_v2",
        response={"properties": SECURED_PROPERTIES, "call_flow_sid": SID, "name": "secured"},
    ),
)
