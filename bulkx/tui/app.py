"""The Textual monitor of a bulkx run.

Two ways in: attached to a run that another process drives (`bulkx watch`), where quitting only
detaches; or in-process (`bulkx apply --tui`), where the run is a worker of this app, so
quitting has to stop it first (gracefully, through the same control table a remote monitor
uses). Either way the app reads the run's journal and nothing else: it never imports the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from bulkx.errors import JournalError
from bulkx.tui.figures import RunFigures, figures
from bulkx.tui.screens import (
    ConfirmScreen,
    FailuresScreen,
    InProcessMonitorScreen,
    ItemScreen,
    MonitorScreen,
    RunPickerScreen,
    RunScreen,
)
from bulkx.tui.source import JournalSource, RunSnapshot
from bulkx.tui.style import STYLES

Job = Callable[[], Awaitable[int]]
#: Reads per second stay at or below 1 / POLL_SECONDS whatever the size of the run.
POLL_SECONDS = 0.5
#: The next read waits at least this many times as long as the last one took.
READ_COST_FACTOR = 5
_CONTROL_STATES = {
    "pause": frozenset({"running", "planned"}),
    "resume": frozenset({"paused", "pausing"}),
    "cancel": frozenset({"running", "planned", "paused", "pausing", "resuming"}),
}
_REQUESTED = {
    "pause": "pause requested: in-flight operations finish, nothing new starts",
    "resume": "resume requested",
    "cancel": "cancel requested: in-flight operations finish; `bulkx resume` continues later",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class MonitorApp(App[int | None]):
    TITLE = "bulkx monitor"
    CSS = STYLES

    def __init__(
        self,
        root: Path,
        run_id: str | None,
        *,
        job: Job | None = None,
        clock: Callable[[], datetime] = utc_now,
        poll_seconds: float = POLL_SECONDS,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        if job is not None and run_id is None:
            raise ValueError("an in-process run needs its run id")
        self.root = Path(root)
        self.run_id = run_id
        self.job = job
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.export_dir = export_dir or Path.cwd()
        self.source: JournalSource | None = None
        self.snapshot: RunSnapshot | None = None
        self.numbers: RunFigures | None = None
        self.job_exit: int | None = None
        self.job_error: BaseException | None = None
        self.job_done = False
        self.quitting = False
        self._last_read_error: str | None = None
        self._next_read = 0.0

    # -- attaching and reading ------------------------------------------------------------

    def on_mount(self) -> None:
        if self.run_id is None:
            self.push_screen(RunPickerScreen(self.root))
        else:
            self.attach(self.run_id)

    def attach(self, run_id: str) -> None:
        """Show `run_id`: read it once now (so the first frame has figures), then poll."""
        source = JournalSource(self.root, run_id)
        try:
            snapshot = source.read(self.clock())
        except JournalError as error:
            self.notify(str(error), title="cannot watch this run", severity="error")
            return
        self.run_id, self.source = run_id, source
        self.sub_title = run_id
        self._show(snapshot)
        screen = InProcessMonitorScreen() if self.job is not None else MonitorScreen()
        if isinstance(self.screen, RunPickerScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self.set_interval(self.poll_seconds, self.poll)
        if self.job is not None:
            self.run_worker(
                self._run_job(),
                name="run",
                group="job",
                exit_on_error=False,
                description=f"bulkx run {run_id}",
            )

    async def poll(self, *, now: bool = False) -> None:
        """One read, off the event loop; the interval timer never overlaps two. A read that
        took long (a journal of millions of operations) spaces out the next ones, so the
        monitor's share of the machine stays small whatever the size of the run."""
        if self.source is None or (not now and time.monotonic() < self._next_read):
            return
        started = time.monotonic()
        try:
            snapshot = await asyncio.to_thread(self.source.read, self.clock())
        except JournalError as error:
            # Usually passing (the writer held the file longer than the busy timeout): say so
            # once, keep showing the last figures, and try again at the next tick.
            if str(error) != self._last_read_error:
                self._last_read_error = str(error)
                self.notify(str(error), title="could not read the journal", severity="warning")
            return
        finally:
            self._next_read = started + READ_COST_FACTOR * (time.monotonic() - started)
        self._last_read_error = None
        self._show(snapshot)

    def _show(self, snapshot: RunSnapshot) -> None:
        before = self.numbers.state if self.numbers is not None else None
        self.snapshot, self.numbers = snapshot, figures(snapshot)
        for screen in self.screen_stack:
            if isinstance(screen, RunScreen) and screen.is_mounted:
                with suppress(NoMatches):  # a screen being torn down has lost its widgets
                    screen.show(snapshot, self.numbers)
        if self.numbers.state != before:
            self.refresh_bindings()

    # -- the in-process run ---------------------------------------------------------------

    async def _run_job(self) -> int:
        assert self.job is not None
        return await self.job()

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "job" or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            return
        self.job_done = True
        if event.state == WorkerState.SUCCESS:
            self.job_exit = worker.result
        elif event.state == WorkerState.ERROR:
            self.job_error = worker.error
        await self.poll(now=True)
        self.refresh_bindings()
        if self.quitting:
            self.exit(self.job_exit)
        elif self.job_error is not None:
            self.notify(
                f"the run stopped with an error: {self.job_error}; q closes the monitor",
                severity="error",
                timeout=30,
            )
        else:
            self.notify(
                f"the run has ended (exit {self.job_exit}); q closes the monitor", timeout=30
            )

    def outcome(self) -> int | None:
        """What `run_monitor` returns once the app has exited: the job's exit code (its
        exception is raised again here), or None when only watching."""
        if self.job_error is not None:
            raise self.job_error
        return self.job_exit

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = _CONTROL_STATES.get(action)
        if allowed is None:
            return True
        numbers = self.numbers
        if numbers is None or self.quitting or numbers.state not in allowed:
            return None  # shown dimmed in the footer
        return True

    async def _request(self, command: str) -> None:
        source = self.source
        if source is None:
            return
        if self.check_action(command, ()) is not True:
            state = self.numbers.state if self.numbers else "unknown"
            self.notify(f"cannot {command} a run that is {state}", severity="warning")
            return
        try:
            await asyncio.to_thread(source.request, command)
        except JournalError as error:
            self.notify(str(error), title=f"could not {command}", severity="error")
            return
        self.notify(_REQUESTED[command])
        await self.poll(now=True)

    async def action_pause(self) -> None:
        await self._request("pause")

    async def action_resume(self) -> None:
        await self._request("resume")

    def action_cancel(self) -> None:
        if self.check_action("cancel", ()) is not True:
            self.notify("the run is not running", severity="warning")
            return
        question = (
            f"Cancel run {self.run_id}?\n\nIn-flight operations finish and are journaled;"
            f" nothing new starts. `bulkx resume {self.run_id}` continues it later."
        )

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._request("cancel")

        self.push_screen(ConfirmScreen("cancel the run", question), answered)

    def action_failures(self) -> None:
        if self.source is not None and not isinstance(self.screen, FailuresScreen):
            self.push_screen(FailuresScreen())

    def show_item(self, op_id: int) -> None:
        self.push_screen(ItemScreen(op_id))

    async def action_export(self) -> None:
        """`e`: the failed items only, as `bulkx report RUN_ID --failed` writes them."""
        if self.source is not None:
            await self._export(self.source.export_failures, "failures", "nothing failed")

    async def action_export_not_attempted(self) -> None:
        """`n`: the items the run has not reached, as `bulkx report --not-attempted`."""
        if self.source is not None:
            await self._export(
                self.source.export_not_attempted, "items not attempted", "every item was attempted"
            )

    async def _export(self, export: Callable[[Path], list[Path]], what: str, none: str) -> None:
        try:
            written = await asyncio.to_thread(export, self.export_dir)
        except (JournalError, OSError) as error:
            self.notify(str(error), title="export failed", severity="error")
            return
        if not written:
            self.notify(f"nothing to export: {none}")
            return
        self.notify("\n".join(str(path) for path in written), title=f"{what} exported")

    async def action_quit(self) -> None:
        if self.job is None or self.source is None:
            self.exit(None)  # watching: the run goes on without us
            return
        if self.job_done:
            self.exit(self.job_exit)
            return
        if self.quitting:
            self.notify("waiting for in-flight operations to finish")
            return
        question = (
            "The run executes in this process: quitting stops it.\n\nCancel it gracefully"
            " (in-flight operations finish and are journaled) and quit when it has stopped?"
            f" `bulkx resume {self.run_id}` continues it later."
        )

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            already = self.numbers is not None and self.numbers.state == "stopping"
            if not already:
                await self._request("cancel")
            self.quitting = True
            self.refresh_bindings()

        self.push_screen(ConfirmScreen("quit and stop the run", question), answered)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.source is None:
            return
        yield SystemCommand(
            "Pause the run", "Nothing new starts until resumed (p)", self.action_pause
        )
        yield SystemCommand("Resume the run", "Carry on after a pause (r)", self.action_resume)
        yield SystemCommand(
            "Cancel the run", "Graceful stop, resumable; asks first (c)", self.action_cancel
        )
        yield SystemCommand(
            "Failures", "Every failed item; enter shows its history (f)", self.action_failures
        )
        yield SystemCommand(
            "Export failures to CSV",
            "The same as `bulkx report RUN_ID --failed`, into files (e)",
            self.action_export,
        )
        yield SystemCommand(
            "Export items not attempted to CSV",
            "The same as `bulkx report RUN_ID --not-attempted`, into files (n)",
            self.action_export_not_attempted,
        )
        if self.job is None:
            yield SystemCommand("Detach", "Stop watching; the run goes on (q)", self.action_quit)


def run_monitor(
    root: Path,
    run_id: str,
    *,
    job: Job | None = None,
) -> int | None:
    """Show the monitor of `run_id` until the user quits.

    Without `job`, watch a run driven by another process; quitting detaches and returns None.
    With `job`, the run executes here: `job()` is awaited as a worker in the app's event loop
    (it opens its own client and writes the journal) and its exit code is returned once it has
    ended and the user quits. Quitting while it runs asks, requests a graceful cancel through
    the journal's control table, and waits for the job. An exception from the job is raised
    again here, after the screen is restored; None with a job means the app itself stopped
    before the run ended.
    """
    app = MonitorApp(root, run_id, job=job)
    app.run()
    return app.outcome()
