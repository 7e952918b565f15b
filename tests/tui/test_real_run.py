"""The monitor attached to a real `bulkx apply` in another process, against a served sandbox
slowed by latency: quitting detaches and leaves the run going; p, r and c (confirmed) pause,
resume and cancel it through the journal's control table; meanwhile the plain-text watch
follows it to the end and returns the run's exit code."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.cli.watch_commands import watch_status
from bulkx.errors import JournalError
from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread
from bulkx.tui.app import MonitorApp
from bulkx.tui.screens import ConfirmScreen
from tests.tui.conftest import until

REPO = Path(__file__).resolve().parents[2]


def _succeeded(home: Path) -> tuple[str | None, int]:
    runs = home / "runs"
    dbs = sorted(runs.glob("*.db")) if runs.exists() else []
    if not dbs:
        return None, 0
    try:
        with JournalReader.open(home, dbs[0].stem) as reader:
            return dbs[0].stem, reader.counts()["succeeded"]
    except JournalError:  # still being created
        return dbs[0].stem, 0


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    """`bulkx apply plans/new-site.yaml` (522 operations) running in another process against a
    sandbox that answers in about 40 ms: a run that lasts long enough to steer."""
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=2, faults="latency=40ms"))
    numbers, _ = read_ported_csv(tmp_path / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    with serve_in_thread(app) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bulkx",
                "apply",
                "plans/new-site.yaml",
                "--yes",
                "--concurrency",
                "2",
                "--base-url",
                f"{server.url}/core/v2",
            ],
            cwd=tmp_path,
            env={**os.environ, "CARRIERX_TOKEN": "sandbox-token"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        home = tmp_path / ".bulkx"
        try:
            deadline = time.monotonic() + 60
            run_id, done = _succeeded(home)
            while (run_id is None or done < 3) and proc.poll() is None:
                assert time.monotonic() < deadline, "the run did not start in 60 s"
                time.sleep(0.05)
                run_id, done = _succeeded(home)
            assert run_id is not None and proc.poll() is None, proc.stderr
            yield proc, home, run_id
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()


def _events(home: Path, run_id: str) -> list[str]:
    with JournalReader.open(home, run_id) as reader:
        return [e.message for e in reader.recent_events(50)]


def test_steering_a_run_in_another_process(
    live_run: tuple[subprocess.Popen[str], Path, str],
) -> None:
    proc, home, run_id = live_run
    # A plain watch follows along the whole time, as `bulkx status RUN_ID --watch` in a CI log.
    plain = io.StringIO()
    result: list[int] = []
    watcher = threading.Thread(
        target=lambda: result.append(watch_status(home, run_id, plain, interval=0.1))
    )
    watcher.start()

    async def detach() -> None:
        app = MonitorApp(home, run_id, poll_seconds=0.1)
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.numbers is not None and app.numbers.state == "running")
            await pilot.press("q")
        assert app.return_value is None

    asyncio.run(detach())
    assert proc.poll() is None  # quitting the monitor never stops the run

    app = MonitorApp(home, run_id, poll_seconds=0.1)

    def state() -> str | None:
        return app.numbers.state if app.numbers is not None else None

    async def steer() -> None:
        async with app.run_test() as pilot:
            await pilot.press("p")
            await until(pilot, lambda: state() == "paused")
            assert "paused" in _events(home, run_id)
            await pilot.press("r")
            await until(pilot, lambda: state() == "running")
            assert "resumed" in _events(home, run_id)
            await pilot.press("c")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: proc.poll() is not None, within=30)
            await until(pilot, lambda: (state() or "").startswith("cancelled"))

    asyncio.run(steer())
    assert proc.returncode == 130
    with JournalReader.open(home, run_id) as reader:
        assert reader.run().state == "cancelled"
        counts = reader.counts()
    assert counts["in_flight"] == 0 and counts["pending"] > 0  # stopped gracefully, resumable

    watcher.join(timeout=30)
    assert result == [130]  # the plain watch ends with the run, with its exit code
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith(f"run {run_id}: plans/new-site.yaml on a local API at http://")
    states = {line.split("  ", 1)[0].split(" ", 1)[1] for line in lines[1:-1]}
    assert {"paused", "resuming"} & states  # it saw the pause too
    assert "/522  in flight " in lines[1]
    assert lines[-1] == f"run {run_id} cancelled: exit 130"
