"""A crash (kill -9) while apply prepares a plan a chunk at a time loses nothing and runs no half
plan: the chunks journaled stay, nothing is sent, and `bulkx resume` prepares the rest from
the journal's cursor (reading live state for those rows only), then carries the whole plan out.
Against a served sandbox on 127.0.0.1, with the real `bulkx` command."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxApp

#: 4,500 rows: chunks of 2,000, 2,000 and 500 (bulkx.diff.chunks.CHUNK_ROWS).
NUMBERS = [f"1201555{i:04d}" for i in range(4_500)]
#: Every 500th number gets a new name; the others already have theirs (nothing to do).
RENAMED = NUMBERS[::500]


def bulkx(cwd: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BULKX_HOME", "BULKX_CRASHPOINT")}
    if crash is not None:
        env["BULKX_CRASHPOINT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        env={**env, "CARRIERX_TOKEN": "sandbox-token"},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def ported_numbers() -> list[str]:
    """What `served_ported` (tests/conftest.py) seeds."""
    return NUMBERS


def _preparation(db: Path) -> tuple[int, int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT step_index, row_offset, finished FROM preparation").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _keys_read(entries: list[dict[str, Any]]) -> int:
    """Numbers named by the `in (...)` filters of the DID reads logged."""
    reads = [e for e in entries if e["method"] == "GET" and e["path"].endswith("/phonenumber/dids")]
    return sum(len(re.findall(r'"(\d+)"', unquote_plus(str(e["query"])))) for e in reads)


def test_a_kill_while_preparing_loses_nothing_and_resume_prepares_the_rest(
    tmp_path: Path, served_ported: tuple[SandboxApp, str]
) -> None:
    app, base = served_ported
    rows = [f"{n},{'renamed' if n in RENAMED else f'line {i}'}" for i, n in enumerate(NUMBERS)]
    (tmp_path / "names.csv").write_text("# kind: did\nphonenumber,name\n" + "\n".join(rows))

    # Killed once the second chunk is journaled: 4,000 rows prepared, 500 not. Without --yes:
    # a run to confirm is prepared whole before anything is sent (with --yes it would send
    # while preparing: tests/test_pipelined_apply.py).
    crashed = bulkx(tmp_path, "apply", "names.csv", "--base-url", base, crash="while_preparing:2")
    assert crashed.returncode == -9, crashed.stderr
    log = app.controls.log.entries(0, 1_000_000)
    assert not [e for e in log if e["method"] != "GET"]  # nothing was sent
    (db,) = (tmp_path / ".bulkx" / "runs").glob("*.db")
    run_id = db.stem
    assert _preparation(db) == (0, 4_000, 0)
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        assert reader.run().state == "interrupted"  # it was preparing, and nobody is
        counts = reader.counts()
    assert counts["pending"] == len(RENAMED[:8]) == sum(counts.values())
    assert run_id in bulkx(tmp_path, "runs").stdout

    since = app.controls.log.last_seq
    resumed = bulkx(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert "preparing the rest" in resumed.stderr
    entries = app.controls.log.entries(since, 1_000_000)
    assert _keys_read(entries) == 500  # live state of the rows not prepared, only
    patched = [e["path"] for e in entries if e["method"] == "PATCH"]
    assert len(patched) == len(set(patched)) == len(RENAMED)  # the whole plan, each once
    assert _preparation(db)[2] == 1
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        assert reader.run().state == "completed"
        assert reader.counts()["succeeded"] == len(RENAMED)
        assert reader.changeset()["summary"] == {"did": {"noop": 4_491, "update": 9}}
        # Prepared by two processes, named alike: the resume's plan came from the journal.
        positions = [op.position for op in reader.ops(limit=100)]
    assert positions == [f"names.csv:{NUMBERS.index(n) + 3}" for n in RENAMED]
