"""The monitor's panels. Each shows one part of a `RunSnapshot` and keeps no history of its own:
the journal is the memory, so a panel's size is bounded by what one read brings back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static

from bulkx.escaping import printable
from bulkx.journal import JournalEvent, Operation
from bulkx.tui.figures import RunFigures, StepFigures, Tone, clock_time, duration, wall_time
from bulkx.tui.source import RunSnapshot

TONE_STYLES = {
    Tone.ACTIVE: "bold green",
    Tone.PAUSED: "bold yellow",
    Tone.WARNING: "bold yellow",
    Tone.GOOD: "bold green",
    Tone.BAD: "bold red",
}
LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "red"}
BAR_WIDTH = 12


def _lines(lines: Sequence[Text]) -> Text:
    """One Text of whole lines, each cut with an ellipsis rather than wrapped."""
    return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)


class RunHeader(Static):
    """Which run, where, how far along; the target is loud when it is a live API."""

    def __init__(self, mode: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = mode
        self._shown: object = None

    def show(self, snapshot: RunSnapshot, numbers: RunFigures) -> None:
        info = snapshot.info
        # Redraw only when something on it changed: most reads at a quiet moment change nothing.
        shown = (
            info,
            numbers.state,
            numbers.note,
            numbers.total,
            round(numbers.elapsed),
            None if numbers.eta is None else round(numbers.eta),
        )
        if shown == self._shown:
            return
        self._shown = shown
        state = Text(f" {numbers.state.upper()} ", style=f"reverse {TONE_STYLES[numbers.tone]}")
        first = Text.assemble(("run ", "dim"), (info.run_id, "bold"), "  ", state, "  ")
        first.append(numbers.note or self.mode, style="italic dim" if not numbers.note else "")
        # Paths, labels, keys and errors are data: Rich passes ESC through to the terminal.
        label = printable(info.target_label)
        if numbers.live_api:
            label = label if label.upper().startswith("LIVE API") else f"LIVE API: {label}"
            target = Text(f" ⚠ {label} ", style="bold reverse red")
        else:
            target = Text(label, style="green")
        plan = printable(info.plan_path)
        second = Text.assemble(("plan ", "dim"), plan, ("  target ", "dim"), target)
        total = numbers.total
        share = f" ({100 * total.done / total.total:.0f}%)" if total.total else ""
        third = Text.assemble(
            ("started ", "dim"),
            wall_time(info.created_at),
            ("  elapsed ", "dim"),
            duration(numbers.elapsed),
            ("  ETA ", "dim"),
            duration(numbers.eta),
            "  ",
            f"{total.done:,}/{total.total:,}{share}",
            (" done", "dim"),
        )
        self.update(_lines([first, second, third]))


def _bar(step: StepFigures, width: int) -> Text:
    """Done, failed, skipped and in flight as shares of a fixed-width bar."""
    bar = Text()
    total = step.total or 1
    used = 0
    for count, style in (
        (step.done, "green"),
        (step.failed, "red"),
        (step.skipped, "magenta"),
        (step.in_flight, "yellow"),
    ):
        cells = min(round(width * count / total), width - used)
        bar.append("█" * cells, style=style)
        used += cells
    bar.append("·" * (width - used), style="dim")
    return bar


class StepsView(Static):
    """Per step: done / in flight / queued / failed / skipped, and a total row."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._numbers: RunFigures | None = None
        self._shown: object = None

    def show(self, numbers: RunFigures) -> None:
        self._numbers = numbers
        # The bar grows with the terminal, so a wide screen does not strand it at the far right.
        bar_width = min(48, max(BAR_WIDTH, (self.size.width - 64) // 2))
        shown = (numbers.steps, numbers.total, bar_width)
        if shown == self._shown:
            return
        self._shown = shown
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column("step", ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column("", width=bar_width, no_wrap=True)
        for name in ("done", "in flight", "queued", "failed", "skipped"):
            table.add_column(name, justify="right", no_wrap=True)
        rows = [*numbers.steps, numbers.total] if len(numbers.steps) != 1 else [numbers.total]
        for step in rows:
            table.add_row(
                Text(printable(step.step), style="bold" if step is numbers.total else ""),
                _bar(step, bar_width),
                f"{step.done:,}",
                f"{step.in_flight:,}",
                f"{step.queued:,}",
                Text(f"{step.failed:,}", style="bold red" if step.failed else ""),
                f"{step.skipped:,}",
            )
        self.update(table)

    def on_resize(self) -> None:
        if self._numbers is not None:
            self.show(self._numbers)


_EIGHTHS = " ▁▂▃▄▅▆▇█"


def rate_chart(rates: Sequence[float], throttled: Sequence[bool], width: int, height: int) -> Text:
    """Bars from zero (not from the minimum, so a halved rate looks halved), one column per
    sample, newest at the right; a column where the API answered 429 is drawn in red."""
    rates, throttled = rates[-width:], throttled[-width:]
    top = max(rates, default=0.0) or 1.0
    # A 429 column shows even when nothing finished in it (Retry-After stops the run).
    eighths = [
        max(hot, round(rate / top * height * 8)) for rate, hot in zip(rates, throttled, strict=True)
    ]
    pad = width - len(rates)
    rows = []
    for row in range(height - 1, -1, -1):
        line = Text(" " * pad)
        cells = "".join(_EIGHTHS[min(8, max(0, filled - row * 8))] for filled in eighths)
        # One styled span per run of same-coloured columns, not one per column: cheap to draw.
        start = 0
        for end in range(1, len(cells) + 1):
            if end == len(cells) or throttled[end] != throttled[start]:
                line.append(cells[start:end], style="red" if throttled[start] else "green")
                start = end
        rows.append(line)
    return _lines(rows)


class ThroughputView(Widget):
    """Operations per second over the last minutes; the figures ride in the border title."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rates: tuple[float, ...] = ()
        self._throttled: tuple[bool, ...] = ()

    def show(self, numbers: RunFigures) -> None:
        flow = numbers.throughput
        if (flow.rates, flow.throttled) != (self._rates, self._throttled):
            self._rates, self._throttled = flow.rates, flow.throttled
            self.refresh()
        parts = ["throughput"]
        if flow.current is not None and not numbers.finished:
            parts.append(f"{flow.current:.1f} ops/s")
        if flow.rates:
            parts.append(f"peak {max(flow.rates):.1f}")
        if flow.rate_limit:
            parts.append(f"limit {flow.rate_limit:.1f}/s")
        parts.append(f"last min: 429s {flow.throttled_recently}, retries {flow.retries_recently}")
        title = " · ".join(parts)
        if title != self.border_title:  # setting it, even unchanged, redraws the panel
            self.border_title = title

    def render(self) -> RenderResult:
        if not self._rates:
            return Text("no samples yet", style="dim italic")
        width, height = max(1, self.size.width), max(1, self.size.height)
        return rate_chart(self._rates, self._throttled, width, height)


def _row_of(position: str) -> str:
    """`file:line` with the file's directory dropped: the name and line are what people scan."""
    return position.rsplit("/", 1)[-1]


class FailuresTable(DataTable[str]):
    """Failed operations, newest first: the plan row, the key, the error, the attempts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=False)
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: tuple[int, ...] = ()

    def on_mount(self) -> None:
        self.add_column("row", key="row")
        self.add_column("key", key="key")
        self.add_column("error", key="error")
        self.add_column("attempts", key="attempts")

    def show(self, failures: Sequence[Operation]) -> None:
        ids = tuple(op.op_id or 0 for op in failures)
        if ids == self._shown:
            return
        keep = self.cursor_row
        selected = self._shown[keep] if keep < len(self._shown) else None
        self.clear()
        for op in failures:
            error = printable((op.error or "").replace("\n", " "))
            self.add_row(
                printable(_row_of(op.position)),
                printable(f"{op.kind} {op.key}"),
                error,
                str(op.attempts),
                key=str(op.op_id),
            )
        self._shown = ids
        self._fit_error_column()
        if selected is not None and selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    def on_resize(self) -> None:
        self._fit_error_column()

    def _fit_error_column(self) -> None:
        """The error takes the width the other columns leave, cut rather than scrolled."""
        if "error" not in self.columns:
            return
        others = sum(c.get_render_width(self) for k, c in self.columns.items() if k != "error")
        error = self.columns["error"]  # type: ignore[index]
        error.auto_width = False
        error.width = max(12, self.scrollable_content_region.width - others - 2 * self.cell_padding)
        self.refresh()


class LogTail(Widget):
    """The newest journal events that fit, oldest at the top, one line each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._events: tuple[JournalEvent, ...] = ()

    def show(self, events: Sequence[JournalEvent]) -> None:
        if tuple(events) != self._events:
            self._events = tuple(events)
            self.refresh()

    def render(self) -> RenderResult:
        height = max(1, self.size.height)
        lines = []
        for event in self._events[-height:]:
            lines.append(
                Text.assemble(
                    (clock_time(event.at), "dim"),
                    " ",
                    (f"{event.level:<7}", LEVEL_STYLES.get(event.level, "")),
                    " ",
                    printable(event.message.replace("\n", " ")),
                )
            )
        if not lines:
            return Text("nothing logged yet", style="dim italic")
        return _lines(lines)
