"""`bulkx apply`, `resume`, `runs`, `status` as an operator runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as bulkx_app
from bulkx.errors import JournalError
from bulkx.journal import Journal, JournalReader
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def bulkx(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def seed(cwd: Path) -> None:
    """`bulkx sandbox seed --ported samples/ported-numbers.csv` in `cwd`, run in-process: it is
    the setting, not the command under test (tests/test_cli.py runs it as a process)."""
    ported, db = cwd / "samples" / "ported-numbers.csv", cwd / ".bulkx" / "sandbox.db"
    seeded = CliRunner().invoke(
        bulkx_app, ["sandbox", "seed", "--ported", str(ported), "--db", str(db)]
    )
    assert seeded.exit_code == 0, seeded.output


def _succeeded(workdir: Path, run_id: str) -> int:
    """Operations done so far, or 0 while the journal is still being created."""
    try:
        with JournalReader.open(workdir / ".bulkx", run_id) as reader:
            return reader.counts().get("succeeded", 0)
    except JournalError:
        return 0


TOKEN_ENV = {"CARRIERX_TOKEN": "sandbox-token"}


def start_apply(workdir: Path, base: str, stderr: int | None) -> subprocess.Popen[str]:
    """`bulkx apply plans/port-in.yaml` in the background against `base`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bulkx",
            "apply",
            "plans/port-in.yaml",
            "--yes",
            "--concurrency",
            "2",
            "--base-url",
            base,
        ],
        cwd=workdir,
        env={**os.environ, **TOKEN_ENV},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def wait_for_progress(workdir: Path, done: int) -> str:
    """The run id, once its journal shows `done` operations succeeded."""
    runs = workdir / ".bulkx" / "runs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dbs = list(runs.glob("*.db")) if runs.exists() else []
        if dbs and _succeeded(workdir, dbs[0].stem) >= done:
            return dbs[0].stem
        time.sleep(0.05)
    raise AssertionError(f"the run did not reach {done} operations in 60 s")


def run_id_of(result: subprocess.CompletedProcess[str]) -> str:
    line = next(x for x in result.stderr.splitlines() if x.startswith("run id: "))
    return line.removeprefix("run id: ")


def test_apply_refuses_without_a_terminal_or_yes(workdir: Path) -> None:
    seed(workdir)
    result = bulkx(workdir, "apply", "plans/port-in.yaml")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert not (workdir / ".bulkx" / "runs").exists()


def test_apply_then_nothing_left_to_do(workdir: Path) -> None:
    seed(workdir)
    first = bulkx(workdir, "apply", "plans/port-in.yaml", "--yes")
    assert first.returncode == 0, first.stderr
    assert "123 succeeded, 0 failed, 0 skipped of 123" in first.stderr
    run_id = run_id_of(first)
    assert bulkx(workdir, "audit", "plans/port-in.yaml").returncode == 0
    again = bulkx(workdir, "apply", "plans/port-in.yaml", "--yes")
    assert again.returncode == 0
    assert "Nothing to do" in again.stderr
    status = json.loads(bulkx(workdir, "status", run_id, "-o", "json").stdout)
    assert status["state"] == "completed"
    assert status["counts"]["succeeded"] == 123
    assert run_id in bulkx(workdir, "runs").stdout
    db = workdir / ".bulkx" / "runs" / f"{run_id}.db"
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert b"sandbox-token" not in db.read_bytes()


def test_a_saved_changeset_applies_only_what_has_not_drifted(workdir: Path) -> None:
    seed(workdir)
    saved = workdir / "port-in.json"
    assert (
        bulkx(workdir, "plan", "plans/e911-correction.yaml", "--save", str(saved)).returncode == 0
    )
    document = json.loads(saved.read_text())
    drifted_number = document["changes"][0]["key"]
    app = create_app(SandboxConfig(db=workdir / ".bulkx" / "sandbox.db"))
    with (
        serve_in_thread(app) as server,
        httpx.Client(
            base_url=f"{server.url}/core/v2", headers={"Authorization": "Bearer sandbox-token"}
        ) as core,
    ):
        did = core.get("/phonenumber/dids", params={"filter": f'phonenumber eq "{drifted_number}"'})
        sid = did.json()["items"][0]["did_sid"]
        location = {
            "address_1": "9 Elsewhere Rd",
            "city": "Albany",
            "state": "NY",
            "zip": "12207",
            "country_code": "USA",
        }
        moved = core.patch(f"/phonenumber/dids/{sid}/emergency", json={"locations": [location]})
        assert moved.status_code == 200
    app.world.store.close()
    result = bulkx(workdir, "apply", str(saved), "--yes")
    assert result.returncode == 0, result.stderr
    assert "1 saved change(s) drifted since planning and will NOT be applied" in result.stderr
    assert f"did_emergency {drifted_number}" in result.stderr
    assert "11 succeeded" in result.stderr


@pytest.mark.parametrize(
    "damage",
    [
        {"action": "frobnicate"},  # an action this bulkx does not know: not a quiet no-op
        {"values": None, "changes": None},  # an update whose fields are gone
    ],
)
def test_a_damaged_saved_changeset_is_refused_with_nothing_sent(
    workdir: Path, damage: dict[str, object]
) -> None:
    seed(workdir)
    seeded_runs = sorted(p.stem for p in (workdir / ".bulkx" / "runs").glob("*.db"))
    saved = workdir / "e911.json"
    assert (
        bulkx(workdir, "plan", "plans/e911-correction.yaml", "--save", str(saved)).returncode == 0
    )
    document = json.loads(saved.read_text())
    document["changes"][0].update(damage)
    saved.write_text(json.dumps(document))
    result = bulkx(workdir, "apply", str(saved), "--yes")
    assert result.returncode == 1, result.stderr  # as for a file that is no saved changeset
    assert "the saved changeset has a change bulkx cannot read" in result.stderr
    assert "bulkx plan --save" in result.stderr and "Traceback" not in result.stderr
    # Refused while the changes were being compared, before any run was opened.
    assert sorted(p.stem for p in (workdir / ".bulkx" / "runs").glob("*.db")) == seeded_runs


def test_a_killed_apply_resumes_without_repeating_work(workdir: Path) -> None:
    app = create_app(SandboxConfig(db=workdir / "served.db", seed=2, faults="latency=40ms"))
    numbers, _ = read_ported_csv(workdir / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    env = TOKEN_ENV
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        proc = start_apply(workdir, base, subprocess.DEVNULL)
        run_id = wait_for_progress(workdir, 20)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        app.controls.clear_faults()  # the latency was to kill it mid-run; the rest need none
        resumed = bulkx(workdir, "resume", run_id, "--yes", env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert "0 failed" in resumed.stderr
        check = bulkx(workdir, "audit", "plans/port-in.yaml", "--base-url", base, env=env)
        assert check.returncode == 0, check.stdout
        log = app.controls.log.entries(0, 100_000)
    creates = [e for e in log if e["method"] == "POST" and e["status"] == 200]
    # One endpoint, one trunk group, one trunk: never created twice across the kill.
    assert len(creates) == 3
    with JournalReader.open(workdir / ".bulkx", run_id) as reader:
        assert reader.counts()["succeeded"] == 123
        assert reader.integrity_check() == "ok"


def test_a_second_process_cannot_drive_the_same_run(workdir: Path) -> None:
    seed(workdir)
    first = bulkx(workdir, "apply", "plans/e911-correction.yaml", "--yes")
    run_id = run_id_of(first)
    with Journal.open(workdir / ".bulkx", run_id):
        refused = bulkx(workdir, "resume", run_id, "--yes")
    assert refused.returncode == 6
    assert f"bulkx watch {run_id}" in refused.stderr


def test_failures_are_reported_and_retry_as_a_plan(workdir: Path) -> None:
    plan = workdir / "numbers.csv"
    plan.write_text("# kind: did\nphonenumber,name\n+1 (212) 555-0199,fax\n")
    result = bulkx(workdir, "apply", str(plan), "--yes")
    assert result.returncode == 3
    run_id = run_id_of(result)
    everything = bulkx(workdir, "report", run_id).stdout.splitlines()
    assert everything[0] == "step,kind,key,action,state,sid,position,error,result"
    assert "12125550199,create,failed" in everything[1]
    failed = bulkx(workdir, "report", run_id, "--failed").stdout.splitlines()
    assert failed[:2] == ["# kind: did", "phonenumber,name,error"]
    assert failed[2].startswith("12125550199,fax,") and "not in the inventory" in failed[2]
    retry = workdir / "retry.csv"
    retry.write_text(bulkx(workdir, "report", run_id, "--retry").stdout)
    assert retry.read_text() == "# kind: did\nphonenumber,name\n12125550199,fax\n"
    assert bulkx(workdir, "validate", str(retry)).returncode == 0
    as_json = json.loads(bulkx(workdir, "report", run_id, "-o", "json").stdout)
    assert as_json["items"][0]["state"] == "failed"


def test_sigterm_stops_gracefully_and_the_run_resumes(workdir: Path) -> None:
    app = create_app(SandboxConfig(db=workdir / "served.db", seed=2, faults="latency=30ms"))
    numbers, _ = read_ported_csv(workdir / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    env = TOKEN_ENV
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        proc = start_apply(workdir, base, subprocess.PIPE)
        run_id = wait_for_progress(workdir, 10)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        app.controls.clear_faults()  # the latency was to stop it mid-run; the rest need none
        assert "bulkx resume" in err
        with JournalReader.open(workdir / ".bulkx", run_id) as reader:
            counts = reader.counts()
            assert counts["in_flight"] == 0  # everything sent was journaled before exiting
            assert counts["pending"] > 0
        resumed = bulkx(workdir, "resume", run_id, "--yes", env=env)
        assert resumed.returncode == 0, resumed.stderr
        again = bulkx(workdir, "resume", run_id, "--yes", env=env)
        assert "Nothing left to do" in again.stderr
