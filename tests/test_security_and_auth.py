"""Tokens never leak (T9), and an expired credential mid-run stops the run, resumably (T6)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]
CANARY = "bulkx-canary-4f9c2e7a1b"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args], cwd=cwd, capture_output=True, text=True,
        timeout=180, env={**os.environ, "CARRIERX_TOKEN": CANARY}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_the_token_appears_in_no_output_journal_or_report(workdir: Path) -> None:
    app = create_app(SandboxConfig(db=workdir / "w.db", seed=3, token=CANARY,
                                   faults="http_5xx=0.05", fault_seed=3))  # fmt: skip
    numbers, _ = read_ported_csv(workdir / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    outputs: list[str] = []
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        for args in (
            ("plan", "plans/port-in.yaml", "--base-url", base, "-o", "json"),
            ("apply", "plans/port-in.yaml", "--yes", "--base-url", base),
            ("plan", "plans/port-in.yaml", "--base-url", base.replace(CANARY, "")),
            ("export", "did", "--base-url", base),
        ):
            result = _run(workdir, *args)
            outputs += [result.stdout, result.stderr]
        # A wrong token, and an unreachable API: their errors must not echo anything either.
        outputs.append(_run(workdir, "plan", "plans/port-in.yaml", "--base-url",
                            "http://127.0.0.1:9/core/v2").stderr)  # fmt: skip
        log = str(app.controls.log.entries(0, 100_000))
    run_id = next((workdir / ".bulkx" / "runs").glob("*.db")).stem
    for args in (("report", run_id), ("report", run_id, "-o", "json"), ("status", run_id)):
        result = _run(workdir, *args)
        outputs += [result.stdout, result.stderr]
    dump = "\n".join(sqlite3.connect(workdir / ".bulkx" / "runs" / f"{run_id}.db").iterdump())
    assert "succeeded" in dump
    for text in [*outputs, log, dump]:
        assert CANARY not in text


def test_a_credential_expiring_mid_run_stops_it_resumably(workdir: Path) -> None:
    app = create_app(SandboxConfig(db=workdir / "w.db", seed=3, token=CANARY))
    numbers, _ = read_ported_csv(workdir / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        app.controls.set_faults("unauthorized_after=150", seed=1)
        stopped = _run(workdir, "apply", "plans/port-in.yaml", "--yes", "--base-url", base,
                       "--concurrency", "4")  # fmt: skip
        assert stopped.returncode == 4, stopped.stderr
        assert "bulkx resume" in stopped.stderr
        run_id = next((workdir / ".bulkx" / "runs").glob("*.db")).stem
        with JournalReader.open(workdir / ".bulkx", run_id) as reader:
            counts = reader.counts()
        assert counts["failed"] == 0  # nothing is marked failed because of authentication
        assert counts["pending"] + counts["unknown"] > 0
        app.controls.clear_faults()  # "a new token": the credential works again
        resumed = _run(workdir, "resume", run_id, "--yes")
        assert resumed.returncode == 0, resumed.stderr
        audit = _run(workdir, "audit", "plans/port-in.yaml", "--base-url", base)
        assert audit.returncode == 0, audit.stdout
