"""`bulkx export KIND` for every kind with live state (issue 17, item 4): against a served
sandbox holding objects of each, the export is a valid plan, and planned against the same
live state it is nothing to do. Kinds without state to keep are refused with the reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.diff.export import why_not_exportable
from bulkx.kinds import KINDS
from bulkx.sandbox.resources.live_meeting_seeding import seed_live_meetings
from tests.conftest import module_sandbox
from tests.kinds.cli import Bulkx, write

#: One or more objects of every kind that has live state. Numbers are filled in from the
#: sandbox's inventory (ONE..FOUR); OWN is the sandbox partner's login.
WORLD = """
steps:
  - kind: endpoint
    items:
      - {name: pbx, type: third_party, capacity: 10}
      - {name: conf1, type: conference}
      - {name: conf2, type: conference_v2}
      - {name: ivr, type: flexml}
      - {name: relay, type: mediator}
  - kind: trunk_group
    items: [{name: acme-sip}, {name: conf2-route}, {name: ivr-route}, {name: relay-route}]
  - kind: trunk
    items:
      - {trunk_group: acme-sip, name: pbx-a, endpoint: pbx, priority: 1}
      - {trunk_group: conf2-route, name: conf2, endpoint: conf2}
      - {trunk_group: ivr-route, name: ivr, endpoint: ivr}
      - {trunk_group: relay-route, name: relay, endpoint: relay}
  - kind: did_group
    items: [{name: sales, callback_url: "https://cb.example.com/sales"}]
  - kind: did
    items:
      - {phonenumber: "ONE", name: HQ line, trunk_group: acme-sip, did_group: sales,
         attributes: {site: hq}}
      - {phonenumber: "TWO", trunk_group: conf2-route}
      - {phonenumber: "THREE", trunk_group: ivr-route}
      - {phonenumber: "FOUR", trunk_group: relay-route}
  - kind: did_emergency
    items:
      - {phonenumber: "ONE", caller_name: ACME, address_1: 1 Main St, address_2: Floor 3,
         city: New York, state: NY, zip: "10001"}
  - kind: did_line_information
    items: [{phonenumber: "ONE", caller_name: ACME, class_of_service: business,
             extended_business_name: ACME Corp}]
  - kind: did_messaging
    items: [{phonenumber: "ONE", enabled: true, type: a2p}]
  - kind: prefix
    items: [{prefix: "1516", name: Long Island, trunk_group: acme-sip}]
  - kind: lrn_prefix
    items: [{prefix: "1201555", name: NJ ported, trunk_group: acme-sip}]
  - kind: accesscontrol_rule
    items: [{name: no-premium, field: called, operation: prefix, quantifier: any,
             entries: ["1900", "1976"]}]
  - kind: shortener.domain
    items: [{domain_name: go.example.com, secure: optional}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, destination_url: "https://example.com/a"}]
  - kind: push.application
    items: [{name: field-app, apns_topic: com.example.field}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios, os_version: "18.1"}]
  - kind: storage.container
    items: [{name: prompts, quota_files: 10, allowed_classifications: [media]}]
  - kind: oauth.login
    items: [{login: OWN_support, password_env: BULKX_TEST_EXPORT_PW,
             token_scopes: ["phonenumber.read"]}]
  - kind: partner
    items: [{login: acme-reseller, password_env: BULKX_TEST_EXPORT_PW, name: ACME Reseller}]
  - kind: conference.subscriber
    items: [{endpoint: conf1, email: ana@example.com, name: Ana, phonenumber: "+1 212 555 0100"}]
  - kind: conference.did_group
    items: [{endpoint: conf1, name: main, call_flow_id: 1, description: Main line}]
  - kind: conference.meeting_room
    items: [{endpoint: conf1, description: weekly, subscriber: ana@example.com, did_group: main,
             host_code: "1111", participant_code: "2222"}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "+1 212 555 0101", did_group: main, country_code: US}]
  - kind: conference_v2.did_group
    items: [{endpoint: conf2, name: sales}]
  - kind: conference_v2.meeting_room
    items:
      - {endpoint: conf2, name: standup, did_group: sales, host_code: "4411"}
      - {endpoint: conf2, name: review, host_code: "4422", participant_code: "4423"}
  - kind: conference_v2.did
    items: [{endpoint: conf2, phonenumber: "TWO", did_group: sales}]
  - kind: flexml.account
    items: [{endpoint: ivr, name: IVR, url: "https://ivr.example.com/default", method: GET}]
  - kind: flexml.did
    items: [{endpoint: ivr, phonenumber: "THREE", url: "https://ivr.example.com/three"}]
  - kind: mediator.binding
    items: [{endpoint: relay, name: support, destination_did: "+1 646 555 0199",
             redirect_did: "FOUR", maximum_ttl: -1, attributes: {ringback: "on"}}]
  - kind: mediator.dialout
    items: [{endpoint: relay, stage_one_destination_did: "+1 646 555 0150",
             stage_two_destination_did: "+1 646 555 0151", redirect_did: "FOUR", delay: 30}]
"""

#: Once the endpoint exists (its call flows come with it).
ACCOUNT = """
steps:
  - kind: conference_v2.call_flow
    items: [{endpoint: conf2, name: open}]
  - kind: conference_v2.account
    items: [{endpoint: conf2, name: Sales conferences, call_flow: open}]
"""

#: The endpoint whose account holds each app API kind's objects.
ENDPOINTS = {"conference": "conf1", "conference_v2": "conf2", "flexml": "ivr", "mediator": "relay"}
EXPORTABLE = sorted(
    k.name for k in KINDS.values() if why_not_exportable(k, ENDPOINTS.get(k.api)) is None
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Bulkx]:
    """A sandbox holding objects of every exportable kind, made by `bulkx apply`."""
    for sandbox in module_sandbox(tmp_path_factory, "export-world"):
        bulkx = Bulkx(sandbox, home=tmp_path_factory.mktemp("bulkx-home"))
        monkeypatch_module.setenv("BULKX_TEST_EXPORT_PW", "s3cret-export-pw")
        blocks = sandbox.world.inventory.blocks
        text = WORLD.replace("OWN", bulkx.get("/oauth/whoami")["login"])
        for name, block in zip(("ONE", "TWO", "THREE", "FOUR"), (1, 3, 5, 7), strict=True):
            text = text.replace(f'"{name}"', f'"{blocks[block].prefix}1234"')
        folder = tmp_path_factory.mktemp("world")
        bulkx.apply(write(folder / "world.yaml", text), "--allow-partners")
        bulkx.apply(write(folder / "account.yaml", ACCOUNT))
        assert seed_live_meetings(sandbox.world, 1)["calls"] > 0  # conference_v2.call
        yield bulkx


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _export(bulkx: Bulkx, kind: str, out: Path) -> list[dict[str, str]]:
    endpoint = ENDPOINTS.get(KINDS[kind].api)
    extra = ["--endpoint", endpoint] if endpoint else []
    result = bulkx.run("export", kind, *extra, "-o", str(out))
    assert result.exit_code == 0, result.output
    kind_line, _, table = out.read_text().partition("\n")
    assert kind_line == f"# kind: {kind}"
    return list(csv.DictReader(io.StringIO(table)))


def test_every_kind_with_live_state_is_exportable() -> None:
    refused = set(KINDS) - set(EXPORTABLE)
    # Sends are records, not state; a stored file's bytes are not in a plan.
    assert refused == {k for k in KINDS if KINDS[k].sends} | {"storage.file"}
    assert {"did_emergency", "did_line_information", "trunk", "conference_v2.account"} <= set(
        EXPORTABLE
    )


@pytest.mark.parametrize("kind", EXPORTABLE)
def test_an_export_planned_against_the_same_state_is_nothing_to_do(
    kind: str, world: Bulkx, tmp_path: Path
) -> None:
    out = tmp_path / "export.csv"
    rows = _export(world, kind, out)
    assert rows, f"the world holds no {kind}"
    world.validate(out)
    assert world.changes(out) == []


def test_refused_kinds_say_why(world: Bulkx) -> None:
    sends = world.run("export", "sms.message")
    assert sends.exit_code == 2 and "not state to back up or revert" in sends.output
    files = world.run("export", "storage.file")
    assert files.exit_code == 2 and "local file" in files.output
    unknown = world.run("export", "nope")
    assert unknown.exit_code == 2 and "unknown kind 'nope'" in unknown.output


def test_a_did_with_no_e911_address_is_left_out(world: Bulkx, tmp_path: Path) -> None:
    rows = _export(world, "did_emergency", tmp_path / "e911.csv")
    assert [r["address_2"] for r in rows] == ["Floor 3"]
    did = _export(world, "did", tmp_path / "dids.csv")
    assert len(did) == 4  # the other three have no E911 address: nothing a plan could keep
