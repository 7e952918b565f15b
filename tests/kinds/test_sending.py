"""Sending kinds: nothing goes out without --allow-send, each message exactly once (lost answers
and re-runs included), and each sending number at its own pace."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.engine.throttle import KeyedPacer
from bulkx.kinds import KINDS
from bulkx.kinds.model import SEND, Kind, PlanField, Sending
from bulkx.sandbox.app import SandboxConfig
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from tests.conftest import TOKEN, Sandbox, serve_sandbox

REPO = Path(__file__).resolve().parents[2]


def _bulkx(cwd: Path, sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARRIERX_TOKEN": TOKEN, "BULKX_HOME": str(cwd / ".bulkx")}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args, "--base-url", sandbox.core_url],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_messages_go_out_once_each_and_only_when_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    numbers, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(sandbox.world, numbers)
    plan = "plans/sms-notice.yaml"
    store = sandbox.world.store

    refused = _bulkx(tmp_path, sandbox, "apply", plan, "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "the plan would send this sms.message" in refused.stderr
    assert store.counts().get("sms_messages", 0) == 0

    faults = f"{sandbox.url}/_sandbox/faults"
    auth = sandbox.admin_headers
    spec = {"spec": "execute_then_reset=0.5", "seed": 3}
    assert httpx.put(faults, json=spec, headers=auth).is_success
    sent = _bulkx(tmp_path, sandbox, "apply", plan, "--yes", "--allow-send", "--send-rate", "20")
    assert httpx.delete(faults, headers=auth).is_success
    assert sent.returncode == 0, sent.stderr
    assert "reconciled" in sent.stderr
    refs = store.scalar(
        "SELECT count(DISTINCT json_extract(data, '$.user_data')) FROM t_sms_messages"
    )
    assert store.counts()["sms_messages"] == refs == 6  # lost answers were looked up, not resent

    again = _bulkx(tmp_path, sandbox, "apply", plan, "--yes", "--allow-send")
    assert again.returncode == 0 and "Nothing to do" in again.stderr
    assert store.counts()["sms_messages"] == 6


def test_sms_notice_rehearses_as_its_header_says_enabling_its_number_first(
    tmp_path: Path,
) -> None:
    """plans/sms-notice.yaml, rehearsed the way its header says (seed the ported numbers, then
    apply) on a served sandbox: it enables the sending number's messaging, then texts. Without
    that step the same texts are refused, as CarrierX refuses them ("to send messages from a
    rented DID you need to enable SMS/MMS messaging on that DID first":
    https://docs.carrierx.com/voice/core-api/sms/sms/send)."""
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    db = tmp_path / ".bulkx" / "sandbox.db"
    seeded = _run(
        tmp_path, "sandbox", "seed", "--ported", "samples/ported-numbers.csv", "--db", str(db)
    )
    assert seeded.returncode == 0, seeded.stderr
    config = SandboxConfig(db=db, token=TOKEN)  # the seed the `seed` command gave it
    for sandbox in serve_sandbox(config):
        valid = _run(tmp_path, "validate", "plans/sms-notice.yaml")
        assert valid.returncode == 0 and "BX130" not in valid.stdout + valid.stderr, valid.stdout
        planned = _bulkx(
            tmp_path, sandbox, "plan", "plans/sms-notice.yaml", "--allow-send", "-o", "json"
        )
        changes = json.loads(planned.stdout)["changes"]
        assert [(c["kind"], c["action"]) for c in changes if c["kind"] == "did_messaging"] == [
            ("did_messaging", "update")
        ]
        _assert_sms_notice_enables_then_texts(tmp_path, sandbox)
        _assert_texts_from_an_unenabled_number_are_refused(tmp_path, sandbox)


def _assert_sms_notice_enables_then_texts(tmp_path: Path, sandbox: Sandbox) -> None:
    """The apply texts 6 recipients, having enabled the sending number first; run again, it
    has nothing to do."""
    store = sandbox.world.store
    applied = _bulkx(
        tmp_path,
        sandbox,
        "apply",
        "plans/sms-notice.yaml",
        "--yes",
        "--allow-send",
        "--send-rate",
        "5",
    )
    assert applied.returncode == 0, applied.stderr
    assert store.counts()["sms_messages"] == 6
    (enabled,) = [json.loads(data) for (data,) in store.rows("SELECT data FROM t_did_messaging")]
    assert (enabled["enabled"], enabled["status"]) == (True, "enabled")
    with sandbox.admin() as admin:
        log = admin.get("/_sandbox/requests").json()["items"]
    posts = [(e["path"], e["status"]) for e in log if e["method"] == "POST"]
    enable = posts.index((f"/core/v2/phonenumber/dids/{enabled['did_sid']}/messaging", 200))
    texts = [i for i, (path, _) in enumerate(posts) if path == "/core/v2/sms/messages"]
    assert texts and enable < min(texts)  # enabled before the first text went out
    again = _bulkx(tmp_path, sandbox, "apply", "plans/sms-notice.yaml", "--yes", "--allow-send")
    assert again.returncode == 0 and "Nothing to do" in again.stderr


def _assert_texts_from_an_unenabled_number_are_refused(tmp_path: Path, sandbox: Sandbox) -> None:
    """The texts alone, from a ported number nobody enabled: validate warns, the API refuses
    (and nothing more is sent than the 6 texts sent before)."""
    texts_only = tmp_path / "plans" / "texts-only.yaml"
    texts_only.write_text(
        "version: 1\nsteps:\n  - kind: sms.message\n    name: unenabled\n"
        "    source: ../samples/sms-recipients.csv\n    defaults:\n"
        "      ref: 'other-{customer_id}'\n      from: 631-428-2286\n"
        "      message: 'Hi {first_name}'\n"
    )
    warned = _run(tmp_path, "validate", str(texts_only))
    assert "BX130" in warned.stdout + warned.stderr and "did_messaging" in warned.stdout
    refused = _bulkx(tmp_path, sandbox, "apply", str(texts_only), "--yes", "--allow-send")
    assert refused.returncode != 0
    report = _run(tmp_path, "report", _run_id(refused), "-o", "json")
    items = json.loads(report.stdout)["items"]
    assert len(items) == 6 and all(i["state"] == "failed" for i in items)
    assert all("messaging is not enabled" in i["error"] for i in items)
    assert sandbox.world.store.counts()["sms_messages"] == 6


def test_one_sending_number_is_paced_on_its_own() -> None:
    now = 0.0
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        nonlocal now
        slept.append(seconds)

    pacer = KeyedPacer(2.0, clock=lambda: now, sleep=sleep)

    async def scenario() -> None:
        await asyncio.gather(*(pacer.acquire("15550001") for _ in range(3)))
        await pacer.acquire("15550002")  # another number is not held back

    asyncio.run(scenario())
    assert slept == [0.5, 1.0]


def test_a_sending_kind_must_be_create_only_and_confirmed() -> None:
    assert KINDS["sms.message"].sends and KINDS["sms.message"].confirmation == SEND
    assert SEND.permission == "send"  # the CLI spells it --allow-send
    with pytest.raises(ValueError, match="sending kind"):
        Kind(
            name="x.send",
            api="core",
            path="/x",
            sid_field="x_sid",
            key="ref",
            doc="",
            fields=(PlanField("ref"),),
            sending=Sending(),
        )
    with pytest.raises(ValueError, match="paced_by names 'sender', which is no field"):
        Kind(
            name="x.send",
            api="core",
            path="/x",
            sid_field="x_sid",
            key="ref",
            doc="",
            fields=(PlanField("ref"),),
            sending=Sending(paced_by="sender"),
            operations=frozenset({"create"}),
            confirmation=SEND,
        )
    with pytest.raises(ValueError, match="key is plan-only"):
        Kind(
            name="x.send",
            api="core",
            path="/x",
            sid_field="x_sid",
            key="ref",
            doc="",
            fields=(PlanField("ref"),),
            sending=Sending(traceable=False),
            operations=frozenset({"create"}),
            confirmation=SEND,
        )


def test_dial_outs_are_placed_once_each(sandbox: Sandbox, tmp_path: Path) -> None:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    numbers, _ = read_ported_csv(REPO / "samples" / "app-numbers.csv")
    seed_ported(sandbox.world, numbers)
    ivr = _bulkx(tmp_path, sandbox, "apply", "plans/flexml.yaml", "--yes")
    assert ivr.returncode == 0, ivr.stderr
    calls = tmp_path / "calls.yaml"
    calls.write_text(
        "version: 1\nsteps:\n  - kind: flexml.call\n    name: reminders\n    defaults:\n"
        "      endpoint: acme-ivr\n      calling_did: 212-555-0101\n"
        "      url: https://ivr.acme.example/reminder\n      ref: 'reminder-{called_did}'\n"
        "    items:\n" + "".join(f"      - called_did: '+1646555{n:04d}'\n" for n in range(3))
    )
    faults = f"{sandbox.url}/_sandbox/faults"
    auth = sandbox.admin_headers
    spec = {"spec": "execute_then_reset=0.5", "seed": 5}
    assert httpx.put(faults, json=spec, headers=auth).is_success
    placed = _bulkx(
        tmp_path, sandbox, "apply", str(calls), "--yes", "--allow-send", "--send-rate", "50"
    )
    assert httpx.delete(faults, headers=auth).is_success
    assert placed.returncode == 0, placed.stderr
    again = _bulkx(tmp_path, sandbox, "plan", str(calls), "--allow-send")
    assert "0 to create" in again.stdout and "3 unchanged" in again.stdout
    assert sandbox.world.store.counts()["flexml_calls"] == 3


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`bulkx ARGS` for commands that take no target (report, resume)."""
    env = {**os.environ, "CARRIERX_TOKEN": TOKEN, "BULKX_HOME": str(cwd / ".bulkx")}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _run_id(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.split("run id: ")[1].split()[0]


def _sent(store: Any) -> dict[str, int]:
    counts = store.counts()
    return {
        name: counts.get(name, 0) for name in ("push_notifications", "verifications", "tts_texts")
    }


NOTICES = {"push_notifications": 2, "verifications": 6, "tts_texts": 2}


def _notices_ready(sandbox: Sandbox, tmp_path: Path) -> None:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    numbers, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(sandbox.world, numbers)


def test_untraceable_sends_go_out_at_most_once_lost_answers_included(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Push notifications, verification SMS and TTS texts leave nothing to look up: a lost
    answer (the request ran) is reported, never resent; a re-run sends none of them again."""
    _notices_ready(sandbox, tmp_path)
    plan = "plans/notices.yaml"
    store = sandbox.world.store
    refused = _bulkx(tmp_path, sandbox, "apply", plan, "--yes")
    assert (
        refused.returncode == 2 and "the plan would send this push.notification" in refused.stderr
    )
    assert _sent(store) == {name: 0 for name in NOTICES}

    faults = f"{sandbox.url}/_sandbox/faults"
    auth = sandbox.admin_headers
    spec = {"spec": "execute_then_reset=0.4", "seed": 11}
    assert httpx.put(faults, json=spec, headers=auth).is_success
    sent = _bulkx(tmp_path, sandbox, "apply", plan, "--yes", "--allow-send", "--send-rate", "50")
    assert httpx.delete(faults, headers=auth).is_success
    assert _sent(store) == NOTICES  # every request ran exactly once: none was resent
    report = _run(tmp_path, "report", _run_id(sent), "-o", "json")
    items = json.loads(report.stdout)["items"]
    lost = [i for i in items if i["state"] == "failed"]
    assert lost, "the seed is chosen so that some answers are lost"
    assert sent.returncode == 3, sent.stderr
    assert all("may have been sent" in i["error"] and "at most once" in i["error"] for i in lost)
    assert all(i["state"] == "succeeded" for i in items if i not in lost)
    codes = [
        i["result"]["code"]
        for i in items
        if i["kind"] == "verification.sms" and i["state"] == "succeeded"
    ]
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    stored = store.rows("SELECT json_extract(data, '$.code') FROM t_verifications")
    assert {code for (code,) in stored} >= set(codes)

    again = _bulkx(tmp_path, sandbox, "plan", plan, "--allow-send", "-o", "json")
    changes = json.loads(again.stdout)["changes"]
    blocked = {c["key"] for c in changes if c["action"] == "blocked"}
    assert blocked == {i["key"] for i in lost}
    assert all("may have sent it" in c["reason"] for c in changes if c["action"] == "blocked")
    assert {c["action"] for c in changes} <= {"noop", "blocked"}
    resent = _bulkx(tmp_path, sandbox, "apply", plan, "--yes", "--allow-send")
    assert resent.returncode == 2
    assert _sent(store) == NOTICES


def test_a_send_cut_off_by_a_crash_is_reported_by_the_resume_not_resent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _notices_ready(sandbox, tmp_path)
    # The 6th answer: past the first wave (the push application, the container and the sending
    # number's messaging, which the verification codes wait for), among the sends.
    env = {**os.environ, "BULKX_CRASHPOINT": "after_send_before_response:6"}
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkx",
            "apply",
            "plans/notices.yaml",
            "--yes",
            "--allow-send",
            "--base-url",
            sandbox.core_url,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**env, "CARRIERX_TOKEN": TOKEN, "BULKX_HOME": str(tmp_path / ".bulkx")},
    )
    assert crashed.returncode == -9
    run_id = max((tmp_path / ".bulkx" / "runs").glob("*.db")).stem
    resumed = _run(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 3, resumed.stderr
    report = json.loads(_run(tmp_path, "report", run_id, "-o", "json").stdout)
    sends = [i for i in report["items"] if KINDS[i["kind"]].sends]
    done = [i for i in sends if i["state"] == "succeeded"]
    maybe = [i for i in sends if i["state"] != "succeeded"]
    assert all(i["state"] == "succeeded" for i in report["items"] if i not in sends)
    # The crash cut off a send (and any others under way): reported, never resent.
    assert maybe and all("may have been sent" in i["error"] for i in maybe)
    store = sandbox.world.store
    assert len(done) <= sum(_sent(store).values()) <= len(done) + len(maybe)
    recipients = [
        to for (to,) in store.rows("SELECT json_extract(data, '$.to') FROM t_verifications")
    ]
    assert len(recipients) == len(set(recipients))  # nobody got a second code
    again = _run(tmp_path, "resume", run_id, "--yes")
    # Its history holds items that may have been sent: exit 3 however often it is resumed.
    assert again.returncode == 3 and "Nothing left to do" in again.stderr
    assert len(done) <= sum(_sent(store).values()) <= len(done) + len(maybe)
