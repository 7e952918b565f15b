"""A run is its journal: resume needs no plan file, no directory and no option typed again; a
run never gets stuck; its state and exit code say what happened. Against a served sandbox on
127.0.0.1, with the real `bulkx` command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]
TOKEN_ENV = {"CARRIERX_TOKEN": "sandbox-token"}


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BULKX_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        env={**env, **TOKEN_ENV},
        stdin=subprocess.DEVNULL,
    )


def start(cwd: Path, *args: str, stderr: int | None = subprocess.DEVNULL) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "BULKX_HOME"}
    return subprocess.Popen(
        [sys.executable, "-m", "bulkx", *args],
        cwd=cwd,
        env={**env, **TOKEN_ENV},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def counts(workdir: Path, run_id: str) -> dict[str, int]:
    with JournalReader.open(workdir / ".bulkx", run_id) as reader:
        return reader.counts()


def wait_for(workdir: Path, done: int) -> str:
    """The run id, once its journal shows `done` operations finished."""
    runs = workdir / ".bulkx" / "runs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dbs = sorted(runs.glob("*.db")) if runs.exists() else []
        if dbs:
            try:
                now = counts(workdir, dbs[-1].stem)
            except Exception:  # still being created
                now = {}
            if now.get("succeeded", 0) + now.get("failed", 0) >= done:
                return dbs[-1].stem
        time.sleep(0.05)
    raise AssertionError(f"the run did not reach {done} operations in 60 s")


def killed_apply(cwd: Path, done: int, *args: str) -> str:
    """`bulkx apply ARGS` in the background, killed (-9) once `done` operations finished."""
    proc = start(cwd, "apply", *args)
    run_id = wait_for(cwd, done)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return run_id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxApp, str, list[str]]]:
    """A sandbox on 127.0.0.1 holding the ported numbers, each request 60 ms slow."""
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=2, faults="latency=60ms"))
    ported, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(app.world, ported)
    numbers = [
        str(n)
        for (n,) in app.world.store.rows(
            "SELECT json_extract(data, '$.phonenumber') FROM t_dids ORDER BY seq"
        )
    ]
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2", numbers


def rename_csv(path: Path, numbers: list[str], *, bad_first: bool = False) -> Path:
    """A CSV plan with no `# kind:` line (it needs --kind did) renaming every number."""
    rows = ["phonenumber,name"]
    if bad_first:
        rows.append("+1 (212) 555-0199,not-ours")  # not on the account nor in the inventory
    rows += [f"{n},renamed-{i}" for i, n in enumerate(numbers)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_killed_kind_csv_run_resumes_from_its_journal_alone(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    app, base, numbers = served
    workdir = tmp_path / "work"
    workdir.mkdir()
    plan = rename_csv(workdir / "d.csv", numbers)
    run_id = killed_apply(
        workdir,
        10,
        "d.csv",
        "--kind",
        "did",
        "--yes",
        "--base-url",
        base,
        "--rate",
        "25",
        "--concurrency",
        "2",
    )
    app.controls.clear_faults()  # the latency was to kill it mid-run; the resume needs none

    listed = bulkx(workdir, "runs").stdout
    assert run_id in listed and "interrupted" in listed  # not "running": its process is dead
    assert "interrupted" in bulkx(workdir, "status", run_id).stdout.splitlines()[0]

    plan.unlink()  # the plan is gone, and the resume runs from elsewhere by the journal's path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    journal = workdir / ".bulkx" / "runs" / f"{run_id}.db"
    since = app.controls.log.last_seq
    resumed = bulkx(elsewhere, "resume", str(journal), "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert counts(workdir, run_id) == {
        **dict.fromkeys(counts(workdir, run_id), 0),
        "succeeded": len(numbers),
    }

    # --rate 25 was kept: the resume's writes came at most that fast (plus a small burst).
    writes = [e for e in app.controls.log.entries(since, 100_000) if e["method"] == "PATCH"]
    assert len(writes) >= 20
    span = writes[-1]["time"] - writes[0]["time"]
    assert (len(writes) - 1) / span <= 25 * 1.2
    with JournalReader.open(workdir / ".bulkx", run_id) as reader:
        options = reader.run().options
        assert (options["kind"], options["rate"], options["concurrency"]) == ("did", 25, 2)
        assert [path for path, _ in reader.sources()] == ["d.csv"]  # the plan, kept whole
        assert reader.sources()[0][1].decode().startswith("phonenumber,name\n")


def test_options_given_to_resume_override_and_are_recorded(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    app, base, numbers = served
    rename_csv(tmp_path / "d.csv", numbers)
    run_id = killed_apply(
        tmp_path,
        5,
        "d.csv",
        "--kind",
        "did",
        "--yes",
        "--base-url",
        base,
        "--rate",
        "20",
        "--concurrency",
        "1",
    )
    app.controls.clear_faults()  # the latency was to kill it mid-run; the resume needs none
    resumed = bulkx(tmp_path, "resume", run_id, "--yes", "--rate", "200")
    assert resumed.returncode == 0, resumed.stderr
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        assert reader.run().options["rate"] == 200
        assert reader.run().options["concurrency"] == 1  # not given: as applied
        assert any("resumed with rate=200" in e.message for e in reader.recent_events(50))


def test_a_count_with_no_inventory_fails_cleanly_not_stuck(tmp_path: Path) -> None:
    """Regression: `operation 1 cannot go from pending to failed`, exit 5, for ever."""
    plan = tmp_path / "rent.yaml"
    plan.write_text(
        "steps:\n  - kind: did\n    name: utah\n    count: 3\n    criteria: {npa: 385}\n"
    )
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=2))
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        applied = bulkx(tmp_path, "apply", "rent.yaml", "--yes", "--base-url", base)
        assert applied.returncode == 3, applied.stderr
        assert "cannot go from" not in applied.stderr
        run_id = applied.stderr.split("run id: ")[1].split()[0]
        assert counts(tmp_path, run_id)["failed"] == 3
        again = bulkx(tmp_path, "resume", run_id, "--yes")
        assert again.returncode == 3 and "Nothing left to do" in again.stderr


def test_a_resumed_run_with_one_failure_exits_3(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    app, base, numbers = served
    rename_csv(tmp_path / "d.csv", numbers, bad_first=True)
    run_id = killed_apply(
        tmp_path, 8, "d.csv", "--kind", "did", "--yes", "--base-url", base, "--concurrency", "1"
    )
    app.controls.clear_faults()  # the latency was to kill it mid-run; the resume needs none
    assert counts(tmp_path, run_id)["failed"] == 1  # the number that is not ours, first
    resumed = bulkx(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 3, resumed.stderr  # the failure before the kill still counts
    status = json.loads(bulkx(tmp_path, "status", run_id, "-o", "json").stdout)
    assert (status["state"], status["exit_code"], status["counts"]["failed"]) == ("failed", 3, 1)
    assert "1 failed" in bulkx(tmp_path, "status", run_id).stdout


def test_ctrl_c_stops_a_run_whose_stderr_pipe_is_gone(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    """Regression: the handler printed before it stopped, so a dead stderr kept it going."""
    _, base, numbers = served
    rename_csv(tmp_path / "d.csv", numbers)
    proc = start(
        tmp_path,
        "apply",
        "d.csv",
        "--kind",
        "did",
        "--yes",
        "--base-url",
        base,
        "--concurrency",
        "2",
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    run_id = wait_for(tmp_path, 10)
    proc.stderr.close()  # as `bulkx apply ... 2>&1 | tail` once Ctrl-C has killed the tail
    os.killpg(proc.pid, signal.SIGINT)
    at_signal = counts(tmp_path, run_id)["succeeded"]
    proc.wait(timeout=30)
    after = counts(tmp_path, run_id)
    assert after["in_flight"] == 0 and after["pending"] > 0  # it stopped, and cleanly
    assert after["succeeded"] - at_signal <= 4  # what was in flight, nothing new


def test_a_journal_without_refs_resolves_them_live_on_resume(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    """A journal written before runs kept `refs` (schema 2): the resume reads the objects its
    remaining operations name live (`read_named`), then finishes the run."""
    app, base, _ = served
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    run_id = killed_apply(
        tmp_path, 20, "plans/port-in.yaml", "--yes", "--base-url", base, "--concurrency", "2"
    )
    app.controls.clear_faults()  # the latency was to kill it mid-run; the resume needs none
    with sqlite3.connect(tmp_path / ".bulkx" / "runs" / f"{run_id}.db") as db:
        assert db.execute("DELETE FROM refs").rowcount > 0
    resumed = bulkx(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert bulkx(tmp_path, "audit", "plans/port-in.yaml", "--base-url", base).returncode == 0
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        refs = reader.refs()
    # The ported DIDs the remaining E911 records name were found live, and kept; the trunk
    # group was this run's own create, resolved from its journal.
    assert refs and {kind for kind, _ in refs} == {"did"}
