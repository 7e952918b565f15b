"""Core detail records over real HTTP: seeded call detail records paged the way CarrierX's CDR
tools page them (`order=date_stop asc`, then `after=<last dr_sid>`), the app views of conference
and mediator calls, invoices (JSON, HTML, PDF, "email it"), and seeding itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as cli
from bulkx.sandbox.app import SandboxConfig, open_world
from bulkx.sandbox.resources.records import CALL_DR, seed_records
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_fields, error_of, ok, rent, stored

pytestmark = pytest.mark.timeout(60)

CALLS, MESSAGES, MEETINGS = 30, 12, 4


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "records", seed=11)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


@pytest.fixture(scope="module")
def numbers(sandbox: Sandbox, core: httpx.Client) -> list[str]:
    rented = rent(core, 3)
    seed_records(sandbox.world, calls=CALLS, messages=MESSAGES, app_records=MEETINGS)
    return rented


def list_all(core: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = ok(core.get(path, params={"limit": 1000, **params}))
    items += page["items"]
    assert not page["has_more"]
    return items


# --- call detail records -----------------------------------------------------------------------


def test_seeded_cdrs_are_the_partners_calls(
    core: httpx.Client, sandbox: Sandbox, numbers: list[str]
) -> None:
    page = ok(core.get("/calls/call_drs", params={"limit": 5}))
    assert page["total"] == CALLS and page["count"] == 5 and page["has_more"]
    record = page["items"][0]
    assert set(record) == {f.name for f in CALL_DR.fields}
    assert list(record) == sorted(record)
    assert ok(core.get(f"/calls/call_drs/{record['dr_sid']}")) == record
    for cdr in list_all(core, "/calls/call_drs"):
        assert cdr["partner_sid"] == sandbox.world.partner_sid
        assert cdr["number_billing"] in numbers
        assert cdr["direction"] in ("inbound", "outbound")
        ours = cdr["number_dst"] if cdr["direction"] == "inbound" else cdr["number_src"]
        assert ours == cdr["number_billing"]
        assert cdr["date_start"] < cdr["date_stop"]
        assert (cdr["date_talk"] is None) == (cdr["duration_billing"] == "0")


def test_cdr_export_pages_with_after_in_date_stop_order(
    core: httpx.Client, numbers: list[str]
) -> None:
    """The loop of carrierx/cdr-apps: one filtered record, then `after` the last one seen."""
    first = ok(
        core.get(
            "/calls/call_drs",
            params={"limit": 1, "order": "date_stop asc", "filter": "date_stop ge 2000-01-01"},
        )
    )["items"]
    seen = list(first)
    while True:
        page = ok(
            core.get(
                "/calls/call_drs",
                params={"limit": 7, "order": "date_stop asc", "after": seen[-1]["dr_sid"]},
            )
        )
        if not page["items"]:
            break
        seen += page["items"]
    assert len(seen) == CALLS
    assert len({c["dr_sid"] for c in seen}) == CALLS
    stops = [c["date_stop"] for c in seen]
    assert stops == sorted(stops)

    # `before` walks back from a record, and the links of a cursor page use cursors too.
    back = ok(
        core.get(
            "/calls/call_drs",
            params={"limit": 3, "before": seen[10]["dr_sid"], "order": "date_stop asc"},
        )
    )
    assert [c["dr_sid"] for c in back["items"]] == [c["dr_sid"] for c in seen[7:10]]
    assert "before=" in back["pagination"]["previous"]
    assert "after=" in back["pagination"]["next"]
    body = error_of(core.get("/calls/call_drs", params={"after": "no-such-record"}), 400)
    assert "no-such-record" in body["message"]


def test_cdrs_filter_order_offset_and_fields(core: httpx.Client, numbers: list[str]) -> None:
    everything = list_all(core, "/calls/call_drs")
    inbound = list_all(core, "/calls/call_drs", filter="direction eq inbound")
    assert inbound == [c for c in everything if c["direction"] == "inbound"]
    mine = list_all(core, "/calls/call_drs", filter=f'number_billing eq "{numbers[0]}"')
    assert mine == [c for c in everything if c["number_billing"] == numbers[0]]
    newest = ok(core.get("/calls/call_drs", params={"order": "date_start desc", "limit": 2}))
    starts = sorted((c["date_start"] for c in everything), reverse=True)
    assert [c["date_start"] for c in newest["items"]] == starts[:2]
    second = ok(core.get("/calls/call_drs", params={"offset": 5, "limit": 5}))
    assert second["items"] == everything[5:10]
    slim = ok(core.get("/calls/call_drs", params={"include_fields": "dr_sid,price", "limit": 2}))
    assert [set(c) for c in slim["items"]] == [{"dr_sid", "price"}] * 2
    assert error_fields(core.get("/calls/call_drs", params={"filter": "nope eq 1"}), 400) == {
        "filter"
    }


def test_detail_records_are_read_only(core: httpx.Client, numbers: list[str]) -> None:
    sid = ok(core.get("/calls/call_drs", params={"limit": 1}))["items"][0]["dr_sid"]
    error_of(core.post("/calls/call_drs", json={}), 405)
    error_of(core.patch(f"/calls/call_drs/{sid}", json={"user_data": "x"}), 405)
    error_of(core.delete(f"/calls/call_drs/{sid}"), 405)
    body = error_of(core.get("/calls/call_drs/0b8e8f3c-0000-4000-8000-000000000000"), 404)
    assert body["errors"][0]["reference_sid"] == "0b8e8f3c-0000-4000-8000-000000000000"


# --- app records ---------------------------------------------------------------------------------


def test_conference_and_mediator_records(core: httpx.Client, numbers: list[str]) -> None:
    meetings = list_all(core, "/app/conference/meetings")
    calls = list_all(core, "/app/conference/calls")
    assert len(meetings) == MEETINGS
    by_meeting = {m["meeting_sid"]: m for m in meetings}
    for call in calls:
        meeting = by_meeting[call["meeting_sid"]]
        assert meeting["date_start"] <= call["date_start"] <= call["date_stop"]
        assert call["number_dst"] in numbers
    for meeting in meetings:
        legs = [c for c in calls if c["meeting_sid"] == meeting["meeting_sid"]]
        assert meeting["participants"] == len(legs) >= 2
        assert sum(1 for c in legs if c["role"] == "host") == 1
    call = calls[0]
    assert ok(core.get(f"/app/conference/calls/{call['call_sid']}")) == call
    meeting = meetings[0]
    assert ok(core.get(f"/app/conference/meetings/{meeting['meeting_sid']}")) == meeting
    after = ok(core.get("/app/conference/calls", params={"after": call["call_sid"]}))
    assert after["items"][0] == calls[1]
    error_of(core.get("/app/conference/calls/unknown"), 404)
    error_of(core.get("/app/conference/meetings/unknown"), 404)

    mediator = list_all(core, "/app/mediator/calls")
    assert len(mediator) == MEETINGS
    assert {m["endpoint_type"] for m in mediator} == {"mediator"}
    assert {m["number_redirect"] for m in mediator} <= set(numbers)
    # The Core reference lists no "Get Mediator CDR by SID".
    error_of(core.get(f"/app/mediator/calls/{mediator[0]['dr_sid']}"), 404)


def test_app_records_need_the_app_scope(
    sandbox: Sandbox, core: httpx.Client, numbers: list[str]
) -> None:
    # https://docs.carrierx.com/voice/core-api/apps/mediator-cdr/get (and …/conference-cdr/get):
    # "the partner must have one of the following scopes enabled: app.manage, app.read".
    paths = ("/app/mediator/calls", "/app/conference/calls", "/app/conference/meetings")
    for token, scopes in (("numbers-only", ("phonenumber.read",)), ("apps", ("app.read",))):
        sandbox.world.ensure_token(token, scopes=scopes)
    auth = {"Authorization": "Bearer numbers-only"}
    with httpx.Client(base_url=sandbox.core_url, headers=auth, timeout=10) as numbers_only:
        for path in paths:
            error_of(numbers_only.get(path), 403)
        meeting = ok(core.get("/app/conference/meetings", params={"limit": 1}))
        error_of(
            numbers_only.get(f"/app/conference/meetings/{meeting['items'][0]['meeting_sid']}"), 403
        )
    with httpx.Client(
        base_url=sandbox.core_url, headers={"Authorization": "Bearer apps"}, timeout=10
    ) as apps:
        for path in paths:
            assert ok(apps.get(path))["items"]


# --- invoices ----------------------------------------------------------------------------------


def test_invoices_total_this_months_records(
    core: httpx.Client, sandbox: Sandbox, numbers: list[str]
) -> None:
    listed = ok(core.get("/invoices"))
    assert listed["total"] == 2
    closed, current = listed["items"]
    assert (closed["status"], closed["paid"]) == ("closed", True)
    assert (current["status"], current["paid"]) == ("open", False)
    assert closed["balance_forward"] == current["balance_previous"]
    start, end = current["date_billing_period_start"], current["date_billing_period_end"]
    cdrs = [c for c in list_all(core, "/calls/call_drs") if start <= c["date_start"] <= end]
    items = {(i["type"], i.get("direction")): i for i in current["invoice_items"]}
    for direction in ("inbound", "outbound"):
        billed = sum(int(c["duration_billing"]) for c in cdrs if c["direction"] == direction)
        if billed:
            assert items["toll", direction]["usage"] == billed
    assert items["did", None]["usage"] >= len(numbers)
    total = sum(float(i["amount"]) for i in current["invoice_items"])
    assert float(current["amount"]) == pytest.approx(total, abs=0.01)
    sid = current["invoice_sid"]
    assert ok(core.get(f"/invoices/{sid}")) == current
    assert ok(core.get(f"/billing/invoices/{sid}")) == current
    assert ok(core.get("/invoices", params={"filter": "status eq open"}))["items"] == [current]
    error_of(core.get("/invoices/unknown"), 404)


def test_invoice_renderings_and_emails(core: httpx.Client, sandbox: Sandbox) -> None:
    sid = ok(core.get("/invoices", params={"filter": "status eq open"}))["items"][0]["invoice_sid"]
    page = core.get(f"/invoices/{sid}.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "CarrierX invoice 002" in page.text
    pdf = core.get(f"/billing/invoices/{sid}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    assert b"Total:" in pdf.content
    error_of(core.get("/invoices/unknown.pdf"), 404)

    before = len(stored(sandbox, "invoice_emails"))
    sent = core.post(f"/invoices/{sid}.pdf/emails", data={"emails": "a@example.com,b@example.org"})
    assert sent.status_code == 204 and sent.content == b""
    sent = core.post(f"/invoices/{sid}.html/emails", json={"emails": ["c@example.com"]})
    assert sent.status_code == 204
    emails = stored(sandbox, "invoice_emails")[before:]
    assert [(e["format"], e["emails"]) for e in emails] == [
        ("pdf", ["a@example.com", "b@example.org"]),
        ("html", ["c@example.com"]),
    ]
    assert error_fields(core.post(f"/invoices/{sid}.pdf/emails", data={"emails": "x"}), 422) == {
        "emails"
    }
    assert error_fields(core.post(f"/invoices/{sid}.html/emails", data={}), 422) == {"emails"}
    error_of(core.post("/invoices/unknown.pdf/emails", data={"emails": "a@example.com"}), 404)
    assert len(stored(sandbox, "invoice_emails")) == before + 2


# --- seeding -------------------------------------------------------------------------------------


def test_seeding_is_deterministic_and_adds_more(tmp_path: Path) -> None:
    def seeded(name: str) -> list[dict[str, Any]]:
        world = open_world(SandboxConfig(db=tmp_path / name, seed=5))
        try:
            assert seed_records(world, calls=4, messages=3) == {"call_drs": 4, "message_drs": 3}
            return world.store.find("call_drs")
        finally:
            world.store.close()

    dated = ("date_insert", "date_start", "date_stop", "date_talk")

    def undated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in dated} for r in rows]

    assert undated(seeded("a.db")) == undated(seeded("b.db"))
    world = open_world(SandboxConfig(db=tmp_path / "a.db"))
    try:
        assert seed_records(world, calls=4) == {"call_drs": 4}
        sids = [r["dr_sid"] for r in world.store.find("call_drs")]
    finally:
        world.store.close()
    assert len(sids) == len(set(sids)) == 8


def test_cli_seeds_records(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "seed", "--db", db, "--cdrs", "7", "--mdrs", "2"])
    assert result.exit_code == 0, result.output
    assert "7 call_drs" in result.output and "2 message_drs" in result.output
    world = open_world(SandboxConfig(db=db))
    try:
        counts = world.store.counts()
        assert (counts["call_drs"], counts["message_drs"]) == (7, 2)
    finally:
        world.store.close()
    nothing = runner.invoke(cli, ["sandbox", "seed", "--db", db])
    assert nothing.exit_code == 2 and "nothing to seed" in nothing.output
