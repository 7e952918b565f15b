"""`run_monitor(..., job=...)`, the `apply --tui` shape: the run is a worker of the app.

The fake job plays the engine's part against a real journal: it finishes operations, polls the
control table and obeys a cancel the way the executor does (the real engine is wired in by
`bulkx apply --tui`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bulkx.journal import Journal
from bulkx.tui.app import Job, MonitorApp
from bulkx.tui.screens import ConfirmScreen, InProcessMonitorScreen
from bulkx.tui.widgets import RunHeader
from tests.tui.conftest import NOW, RUN_ID, SiteRun, until


def engine_like_job(journal: Journal, *, ops: int, pace: float = 0.01) -> Job:
    """Completes up to `ops` pending operations; a cancel request stops it (exit 130)."""

    async def job() -> int:
        for record in journal.ops("pending", limit=ops):
            for command in journal.pending_commands():
                journal.acknowledge(command.id)
                journal.event("info", f"{command.command} requested by pid {command.requested_by}")
                if command.command == "cancel":
                    journal.event("warning", "stopping: stop requested")
                    journal.set_run_state("cancelled", 130)
                    return 130
            assert record.op_id is not None
            journal.start([record.op_id])
            journal.succeed(record.op_id, f"sid-{record.op_id}")
            await asyncio.sleep(pace)
        journal.set_run_state("completed", 0)
        return 0

    return job


def in_process(run: SiteRun, tmp_path: Path, job: Job) -> MonitorApp:
    return MonitorApp(
        run.root, RUN_ID, job=job, clock=lambda: NOW, poll_seconds=0.05, export_dir=tmp_path
    )


def test_the_job_runs_in_the_app_and_its_exit_code_is_returned_on_quit(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = in_process(site_run, tmp_path, engine_like_job(site_run.journal, ops=5))

    async def scenario() -> None:
        async with app.run_test() as pilot:
            assert isinstance(app.screen, InProcessMonitorScreen)
            assert "quitting cancels the run" in str(app.screen.query_one(RunHeader).render())
            await until(pilot, lambda: app.job_done)
            await until(pilot, lambda: app.numbers is not None and app.numbers.finished)
            assert app.numbers is not None and app.numbers.state == "completed (exit 0)"
            await pilot.press("q")  # the run has ended: no question

    asyncio.run(scenario())
    assert app.return_value == 0 and app.outcome() == 0
    assert site_run.journal.counts()["succeeded"] == 117 + 5


def test_quitting_while_it_runs_asks_then_cancels_gracefully_and_waits(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = in_process(site_run, tmp_path, engine_like_job(site_run.journal, ops=10_000, pace=0.05))

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")  # changed their mind: the run goes on
            assert not app.job_done and isinstance(app.screen, InProcessMonitorScreen)
            await pilot.press("q")
            await pilot.press("y")
            await until(pilot, lambda: app.return_value is not None)

    asyncio.run(scenario())
    assert app.outcome() == 130
    journal = site_run.journal
    assert journal.run().state == "cancelled"
    assert journal.recent_events(2)[0].message.startswith("cancel requested by pid")
    assert journal.counts()["pending"] > 0  # stopped early: resumable, not finished


def test_a_job_that_raises_is_raised_again_after_the_app_closes(
    site_run: SiteRun, tmp_path: Path
) -> None:
    async def broken() -> int:
        raise RuntimeError("the API went away")

    app = in_process(site_run, tmp_path, broken)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.job_done)
            await pilot.press("q")

    asyncio.run(scenario())
    with pytest.raises(RuntimeError, match="the API went away"):
        app.outcome()


def test_an_in_process_monitor_needs_a_run_id(tmp_path: Path) -> None:
    async def job() -> int:
        return 0

    with pytest.raises(ValueError, match="run id"):
        MonitorApp(tmp_path, None, job=job)
