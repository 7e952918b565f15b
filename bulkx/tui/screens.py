"""The monitor's screens: the run at a glance, all failures, one item's history, the run
picker, and the yes/no question asked before anything that stops a run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Footer, Static

from bulkx.errors import JournalError
from bulkx.escaping import printable
from bulkx.journal import list_runs
from bulkx.tui.figures import RunFigures, clock_time
from bulkx.tui.redact import redact
from bulkx.tui.source import ItemHistory, RunSnapshot
from bulkx.tui.widgets import FailuresTable, LogTail, RunHeader, StepsView, ThroughputView

if TYPE_CHECKING:
    from bulkx.tui.app import MonitorApp


class RunScreen(Screen[None]):
    """A screen that shows the latest snapshot whenever the app reads one."""

    @property
    def monitor(self) -> MonitorApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        app = self.monitor
        if app.snapshot is not None and app.numbers is not None:
            self.show(app.snapshot, app.numbers)

    def show(self, snapshot: RunSnapshot, numbers: RunFigures) -> None:
        raise NotImplementedError


def _failures_title(snapshot: RunSnapshot, hint: str) -> str:
    total = snapshot.counts.get("failed", 0)
    shown = len(snapshot.failures)
    more = f", newest {shown} shown" if total > shown else ""
    return f"failures: {total:,}{more}" + (f" · {hint}" if total else "")


def _set_title(widget: Widget, title: str) -> None:
    if widget.border_title != title:  # setting it, even unchanged, redraws the widget
        widget.border_title = title


class MonitorScreen(RunScreen):
    """The run at a glance. Attached to a run in another process: quitting only detaches."""

    MODE = "attached: q detaches, the run goes on"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "app.pause", "Pause"),
        Binding("r", "app.resume", "Resume"),
        Binding("c", "app.cancel", "Cancel"),
        Binding("f", "app.failures", "Failures"),
        Binding("e", "app.export", "Export"),
        # Off the footer (it is full at 80 columns); in the command palette.
        Binding("n", "app.export_not_attempted", "Export not attempted", show=False),
        Binding("q", "app.quit", "Detach"),
    ]
    # Not ClassVar-annotated: Textual declares it as an optional instance attribute.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        yield RunHeader(self.MODE, id="header")
        yield StepsView(id="steps")
        yield ThroughputView(id="throughput")
        yield FailuresTable(id="failures")
        yield LogTail(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#steps").border_title = "steps"
        self.query_one("#log").border_title = "log"
        super().on_mount()

    def show(self, snapshot: RunSnapshot, numbers: RunFigures) -> None:
        self.query_one(RunHeader).show(snapshot, numbers)
        self.query_one(StepsView).show(numbers)
        self.query_one(ThroughputView).show(numbers)
        failures = self.query_one(FailuresTable)
        failures.show(snapshot.failures)
        _set_title(failures, _failures_title(snapshot, "enter: details, f: all"))
        self.query_one(LogTail).show(snapshot.events)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.monitor.show_item(int(event.row_key.value))


class InProcessMonitorScreen(MonitorScreen):
    """The run executes in this process (`apply --tui`): quitting has to stop it first."""

    MODE = "in this process: quitting cancels the run (resumable)"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit")]


class AllFailuresTable(FailuresTable):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Details")]


class FailuresScreen(RunScreen):
    """Every failure the last read brought back, with room for the error text."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("e", "app.export", "Export"),
        Binding("n", "app.export_not_attempted", "Export not attempted", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield AllFailuresTable(id="all-failures")
        yield Footer()

    def show(self, snapshot: RunSnapshot, numbers: RunFigures) -> None:
        table = self.query_one(FailuresTable)
        table.show(snapshot.failures)
        title = _failures_title(snapshot, "enter: details, e: export all to CSV")
        _set_title(table, f"run {snapshot.info.run_id} · {title}")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.monitor.show_item(int(event.row_key.value))


def _json_block(value: Any) -> str:
    if value is None or value == {}:
        return "—"
    return json.dumps(redact(value), indent=2, sort_keys=True, default=str)


def item_text(item: ItemHistory) -> Text:
    """An operation's story: what it is, its error, every state change, its request and what
    came back (credentials redacted)."""
    op = item.op
    text = Text()
    # Keys, errors and details are data: Rich passes ESC through to the terminal.
    text.append(printable(f"{op.kind} {op.key}"), style="bold")
    text.append(f"  {op.action} · {op.state} · {op.attempts} attempt(s)\n")
    for label, value in (
        ("row", op.position),
        ("step", op.step),
        ("op key", op.op_key),
        ("sid", op.remote_sid or "—"),
        ("depends on", ", ".join(op.depends_on) or "—"),
    ):
        text.append(f"{label:<11}", style="dim")
        text.append(f"{printable(str(value))}\n")
    if op.error:
        text.append("\nerror\n", style="bold red")
        text.append(printable(op.error, keep_newlines=True) + "\n")
    text.append("\nhistory\n", style="bold")
    for change in item.history:
        source = change.from_state or "—"
        text.append(f"{clock_time(change.at)}  ", style="dim")
        text.append(f"{source:>9} → {change.to_state:<10}")
        text.append(f"  {printable(change.detail or '')}\n")
    text.append("\nrequest (credentials redacted)\n", style="bold")
    text.append(_json_block(op.change) + "\n")
    text.append("\nresponse (credentials redacted)\n", style="bold")
    text.append(_json_block(op.result) + "\n")
    return text


class ItemScreen(Screen[None]):
    """One operation's history, read once when opened."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, op_id: int) -> None:
        super().__init__()
        self.op_id = op_id
        self.item: ItemHistory | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="item"):
            yield Static(Text("reading…", style="dim"), id="item-body")
        yield Footer()

    async def on_mount(self) -> None:
        monitor: MonitorApp = self.app  # type: ignore[assignment]
        scroll = self.query_one("#item", VerticalScroll)
        scroll.border_title = f"operation {self.op_id}"
        body = self.query_one("#item-body", Static)
        if monitor.source is None:
            return
        try:
            item = await asyncio.to_thread(monitor.source.item, self.op_id)
        except JournalError as error:
            body.update(Text(str(error), style="red"))
            return
        if item is None:
            body.update(Text(f"run has no operation {self.op_id}", style="red"))
            return
        self.item = item
        scroll.border_title = printable(f"operation {self.op_id} · {item.op.step}")
        body.update(item_text(item))


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; no is the default (escape, n, or the focused button)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.question), id="question")
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self.title_text
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RunPickerScreen(Screen[None]):
    """`bulkx watch` without a run id: the journaled runs, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "app.quit", "Quit")]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        yield DataTable[str](id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        runs = list(reversed(list_runs(self.root)))
        table.border_title = (
            f"runs under {self.root}: enter watches one"
            if runs
            else (f"no runs under {self.root} (bulkx apply starts one)")
        )
        table.add_columns("run", "state", "done", "failed", "plan", "target")
        for run in runs:
            if run.error:
                table.add_row(
                    run.run_id, "unreadable", "", "", printable(run.error), "", key=run.run_id
                )
                continue
            counts = run.counts or {}
            done = f"{counts.get('succeeded', 0):,}/{sum(counts.values()):,}"
            table.add_row(
                run.run_id,
                run.state or "",
                done,
                f"{counts.get('failed', 0):,}",
                printable(run.plan_path or ""),
                printable(run.target_label or ""),
                key=run.run_id,
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            monitor: MonitorApp = self.app  # type: ignore[assignment]
            monitor.attach(event.row_key.value)
