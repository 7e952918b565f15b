"""`bulkx apply --yes` of a plan of many chunks sends while it prepares the rest, and stays as
safe as one prepared whole: killed (kill -9) while both preparing and sending, `bulkx resume`
prepares the rest from the journal's cursor and carries out everything left, each operation
once; a plan that needs a flag not given is refused before anything is sent; a change blocked
for another reason, found once sending began, stops the run with the reason. Against a served
sandbox on 127.0.0.1, with the real `bulkx` command."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxApp

#: 8,000 rows: four chunks of 2,000 (bulkx.diff.chunks.CHUNK_ROWS).
NUMBERS = [f"1201556{i:04d}" for i in range(8_000)]
#: Every 250th number gets a new name (8 in each chunk); the others have theirs already.
RENAMED = NUMBERS[::250]
#: The summary of the whole plan (the journal's header), as `bulkx plan` counts it.
SUMMARY = {"did": {"update": len(RENAMED), "noop": len(NUMBERS) - len(RENAMED)}}


def bulkx(cwd: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BULKX_HOME", "BULKX_CRASHPOINT")}
    if crash is not None:
        env["BULKX_CRASHPOINT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**env, "CARRIERX_TOKEN": "sandbox-token"},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def ported_numbers() -> list[str]:
    """What `served_ported` (tests/conftest.py) seeds."""
    return NUMBERS


def _plan(directory: Path, *, extra: str = "") -> Path:
    rows = [f"{n},{'renamed' if n in RENAMED else f'line {i}'}" for i, n in enumerate(NUMBERS)]
    path = directory / "names.csv"
    path.write_text("# kind: did\nphonenumber,name\n" + "\n".join(rows) + "\n" + extra)
    return path


def _preparation(db: Path) -> tuple[int, int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT step_index, row_offset, finished FROM preparation").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _patched(app: SandboxApp, since: int = 0) -> list[str]:
    entries = app.controls.log.entries(since, 1_000_000)
    return [e["path"] for e in entries if e["method"] == "PATCH"]


def test_an_apply_with_yes_sends_while_it_prepares_and_ends_with_the_whole_summary(
    tmp_path: Path, served_ported: tuple[SandboxApp, str]
) -> None:
    app, base = served_ported
    _plan(tmp_path)
    applied = bulkx(tmp_path, "apply", "names.csv", "--yes", "--base-url", base)
    assert applied.returncode == 0, applied.stderr
    # Started after the first chunk: its summary so far, then the run, then the rest.
    assert "So far: 2,000 of 8,000 plan items" in applied.stderr
    assert "grows while the rest of the plan is prepared" in applied.stderr
    assert "operations on a local API" in applied.stderr
    assert "all of the plan is prepared: 32 operation(s) (did: 32 update, 7,968 noop)" in (
        applied.stderr
    )
    patched = _patched(app)
    assert len(patched) == len(set(patched)) == len(RENAMED)
    (db,) = (tmp_path / ".bulkx" / "runs").glob("*.db")
    assert _preparation(db) == (1, 0, 1)
    with JournalReader.open(tmp_path / ".bulkx", db.stem) as reader:
        assert reader.run().state == "completed"
        assert reader.counts()["succeeded"] == len(RENAMED)
        assert reader.changeset()["summary"] == SUMMARY


def _sids(reader: JournalReader, state: str) -> set[str]:
    """The DIDs of the run's operations in `state` (each one's own sid: renames)."""
    return {f"/core/v2/phonenumber/dids/{op.change['sid']}" for op in reader.ops(state, limit=99)}


def test_a_kill_while_preparing_and_sending_is_resumed_none_lost_none_resent(
    tmp_path: Path, served_ported: tuple[SandboxApp, str]
) -> None:
    app, base = served_ported
    _plan(tmp_path)
    # Killed once a chunk more is journaled after some operations succeeded.
    crashed = bulkx(
        tmp_path,
        "apply",
        "names.csv",
        "--yes",
        "--base-url",
        base,
        crash="while_preparing_and_sending:1",
    )
    assert crashed.returncode == -9, crashed.stderr
    (db,) = (tmp_path / ".bulkx" / "runs").glob("*.db")
    run_id = db.stem
    cursor = _preparation(db)
    assert cursor[2] == 0  # not all prepared (at most every row, and not the end written)
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        assert reader.run().state == "interrupted"  # it was running, and nobody is
        counts = reader.counts()
        done, in_flight = _sids(reader, "succeeded"), _sids(reader, "in_flight")
    assert done and counts["succeeded"] == len(done)
    rows = len(NUMBERS) if cursor[0] else cursor[1]
    assert sum(counts.values()) == len(RENAMED[: rows // 250])
    sent_before = set(_patched(app))

    since = app.controls.log.last_seq
    resumed = bulkx(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert "preparing the rest" in resumed.stderr
    resent = set(_patched(app, since))
    # None lost: every number renamed, by one process or the other.
    assert len(sent_before | resent) == len(RENAMED)
    # None resent that the journal had as done; only a rename whose answer the kill lost is
    # sent again (the same desired state: `look_up_outcome` resends updates).
    assert not resent & done
    assert resent & sent_before <= in_flight
    assert _preparation(db)[2] == 1
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        assert reader.run().state == "completed"
        assert reader.counts()["succeeded"] == len(RENAMED)
        assert reader.changeset()["summary"] == SUMMARY
    renamed = app.world.store.rows(
        "SELECT count(*) FROM t_dids WHERE json_extract(data, '$.name') = 'renamed'"
    )
    assert renamed == [(len(RENAMED),)]


def test_a_plan_needing_a_flag_not_given_is_refused_before_anything_is_sent(
    tmp_path: Path, served_ported: tuple[SandboxApp, str]
) -> None:
    app, base = served_ported
    (tmp_path / "gone.csv").write_text(
        "# kind: did\nphonenumber,name,ensure\n"
        + "".join(f"{n},line {i},present\n" for i, n in enumerate(NUMBERS[:-1]))
        + f"{NUMBERS[-1]},,absent\n"
    )
    refused = bulkx(tmp_path, "apply", "gone.csv", "--yes", "--base-url", base)
    assert refused.returncode == 2, refused.stderr
    assert "would release this number" in refused.stderr and "So far" not in refused.stderr
    assert not _patched(app) and not list((tmp_path / ".bulkx" / "runs").glob("*.db"))


def test_a_change_blocked_in_a_later_chunk_fails_as_an_item_and_the_rest_goes_on(
    tmp_path: Path, served_ported: tuple[SandboxApp, str]
) -> None:
    app, base = served_ported
    (tmp_path / "adopt.csv").write_text(
        "# kind: did\nphonenumber,name,ensure\n"
        + "".join(
            f"{n},{'renamed' if n in RENAMED else f'line {i}'},adopted\n"
            for i, n in enumerate(NUMBERS)
        )
        + "12015579999,stray,adopted\n"  # not on the account: in the last chunk
    )
    applied = bulkx(tmp_path, "apply", "adopt.csv", "--yes", "--base-url", base)
    # Sending had begun when it was found: refusing the plan whole was no longer possible, so
    # it failed as an item the API refused would, and everything else was done.
    assert applied.returncode == 3, applied.stderr
    (db,) = (tmp_path / ".bulkx" / "runs").glob("*.db")
    assert _preparation(db) == (1, 0, 1)  # prepared to the end
    patched = _patched(app)
    assert len(patched) == len(set(patched)) == len(RENAMED)
    failed = bulkx(tmp_path, "report", db.stem, "--failed")
    assert "12015579999" in failed.stdout and "not on the account" in failed.stdout
    # Its history says so for good: a resume has nothing to do and still exits 3.
    resumed = bulkx(tmp_path, "resume", db.stem, "--yes")
    assert resumed.returncode == 3, resumed.stderr
    assert _patched(app) == patched
