"""The key figures of a run, computed from a `RunSnapshot`: plain data and plain text, shared
by the Textual monitor and `bulkx status --watch` so both always tell the same story."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bulkx.journal import JournalEvent, RunInfo, Sample
from bulkx.tui.source import RunSnapshot

#: The run states in which a run has ended (the journal sets `finished_at` on entering one).
FINISHED = frozenset({"completed", "failed", "cancelled", "interrupted"})
#: Throughput "now" is the average over this many seconds of samples.
RATE_WINDOW = 10.0
#: 429s and retries are counted over this many seconds.
RECENT_WINDOW = 60.0


@dataclass(frozen=True)
class StepFigures:
    """One step's operations in the monitor's five columns. An operation whose outcome is being
    looked up (`unknown`) counts as in flight; one never sent because the run was cancelled
    counts as skipped."""

    step: str
    done: int
    in_flight: int
    queued: int
    failed: int
    skipped: int

    @property
    def total(self) -> int:
        return self.done + self.in_flight + self.queued + self.failed + self.skipped

    @property
    def left(self) -> int:
        return self.in_flight + self.queued

    @classmethod
    def of(cls, step: str, counts: Mapping[str, int]) -> StepFigures:
        return cls(
            step,
            done=counts.get("succeeded", 0),
            in_flight=counts.get("in_flight", 0) + counts.get("unknown", 0),
            queued=counts.get("pending", 0),
            failed=counts.get("failed", 0),
            skipped=counts.get("skipped", 0) + counts.get("cancelled", 0),
        )


@dataclass(frozen=True)
class Throughput:
    #: Operations finished per second between consecutive samples, oldest first.
    rates: tuple[float, ...]
    #: Per rate: whether the API answered 429 in that interval.
    throttled: tuple[bool, ...]
    #: Operations per second over the last RATE_WINDOW seconds; None before two samples.
    current: float | None
    rate_limit: float | None
    throttled_recently: int
    retries_recently: int


class Tone(StrEnum):
    """How a state should look; also the CSS class the monitor gives it."""

    ACTIVE = "active"
    PAUSED = "paused"
    WARNING = "warning"
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True)
class RunFigures:
    state: str
    tone: Tone
    #: A sentence for the header when the state needs explaining (stalled, stopping, ...).
    note: str | None
    total: StepFigures
    steps: tuple[StepFigures, ...]
    throughput: Throughput
    elapsed: float
    eta: float | None
    live_api: bool
    finished: bool


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def clock_time(text: str) -> str:
    """`HH:MM:SS` of a journal timestamp (journal times are UTC)."""
    return parse_time(text).strftime("%H:%M:%S")


def wall_time(text: str) -> str:
    return parse_time(text).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def is_live_api(info: RunInfo) -> bool:
    """True unless the run targets the embedded sandbox or an API on this machine (a served
    sandbox). When unsure, say live: the loud label is the safe mistake."""
    if info.is_sandbox:
        return False
    base_url = info.options.get("base_url")
    if not isinstance(base_url, str):
        return True
    from bulkx.api.target import is_loopback

    return not is_loopback(urllib.parse.urlsplit(base_url).hostname or "")


def _finished_ops(sample: Sample) -> int:
    return sample.done + sample.failed


def throughput(samples: Sequence[Sample]) -> Throughput:
    """Rates from the writer's cumulative samples. A resumed run's counters start again from
    zero: a pair of samples whose counts went down is a restart, not a negative rate."""
    if not samples:
        return Throughput((), (), None, None, 0, 0)
    times = [parse_time(s.at).timestamp() for s in samples]
    rates: list[float] = []
    hot: list[bool] = []
    window_ops = 0
    window_seconds = 0.0
    last_time = times[-1]
    for i in range(1, len(samples)):
        dt = times[i] - times[i - 1]
        delta = _finished_ops(samples[i]) - _finished_ops(samples[i - 1])
        if dt <= 0 or delta < 0:
            continue
        rates.append(delta / dt)
        hot.append(samples[i].throttled > samples[i - 1].throttled)
        if times[i] >= last_time - RATE_WINDOW:
            window_ops += delta
            window_seconds += dt
    current = window_ops / window_seconds if window_seconds > 0 else None
    # The oldest sample of the last minute that belongs to the same process as the newest.
    base = len(samples) - 1
    while (
        base > 0
        and times[base - 1] >= last_time - RECENT_WINDOW
        and _finished_ops(samples[base - 1]) <= _finished_ops(samples[base])
        and samples[base - 1].throttled <= samples[base].throttled
    ):
        base -= 1
    newest = samples[-1]
    return Throughput(
        rates=tuple(rates),
        throttled=tuple(hot),
        current=current,
        rate_limit=newest.rate_limit,
        throttled_recently=max(0, newest.throttled - samples[base].throttled),
        retries_recently=max(0, newest.retries - samples[base].retries),
    )


def _paused(events: Sequence[JournalEvent]) -> bool:
    """The writer logs `paused` and `resumed`; a process that reopens the run starts unpaused."""
    for event in reversed(events):
        if event.message in ("paused", "resumed") or event.message.startswith("reopened by"):
            return event.message == "paused"
    return False


def _stopping(events: Sequence[JournalEvent]) -> bool:
    for event in reversed(events):
        if event.message.startswith("stopping"):
            return True
        if event.message.startswith(("reopened by", "executing")):
            return False
    return False


def _state(snapshot: RunSnapshot) -> tuple[str, Tone, str | None]:
    info = snapshot.info
    state = info.state
    if state in FINISHED:
        tone = {"completed": Tone.GOOD, "cancelled": Tone.WARNING}.get(state, Tone.BAD)
        if state == "completed" and snapshot.counts.get("failed", 0):
            tone = Tone.WARNING
        code = "" if info.exit_code is None else f" (exit {info.exit_code})"
        return state + code, tone, None
    if not snapshot.writer_alive:
        return (
            "stalled",
            Tone.BAD,
            f"no process is driving this run; `bulkx resume {info.run_id}` continues it",
        )
    asked = {c.command for c in snapshot.pending_commands}
    if "cancel" in asked or _stopping(snapshot.events):
        return "stopping", Tone.WARNING, "in-flight operations finish; nothing new starts"
    paused = state == "paused" or _paused(snapshot.events)
    if paused:
        if "resume" in asked:
            return "resuming", Tone.PAUSED, None
        return "paused", Tone.PAUSED, "nothing new starts until resumed (r)"
    if "pause" in asked:
        return "pausing", Tone.PAUSED, None
    return state, Tone.ACTIVE, None


def figures(snapshot: RunSnapshot) -> RunFigures:
    info = snapshot.info
    state, tone, note = _state(snapshot)
    finished = info.state in FINISHED
    total = StepFigures.of("total", snapshot.counts)
    flow = throughput(snapshot.samples)
    end = parse_time(info.finished_at) if info.finished_at else snapshot.read_at
    elapsed = (end - parse_time(info.created_at)).total_seconds()
    eta: float | None = None
    if not finished and state == "running" and flow.current and total.left:
        eta = total.left / flow.current
    return RunFigures(
        state=state,
        tone=tone,
        note=note,
        total=total,
        steps=tuple(StepFigures.of(step, c) for step, c in sorted(snapshot.by_step.items())),
        throughput=flow,
        elapsed=elapsed,
        eta=eta,
        live_api=is_live_api(info),
        finished=finished,
    )


def status_line(snapshot: RunSnapshot, numbers: RunFigures | None = None) -> str:
    """The key figures on one line, for `bulkx status --watch` in a terminal or a CI log."""
    f = numbers or figures(snapshot)
    t, flow = f.total, f.throughput
    rate = "" if flow.current is None or f.finished else f"  {flow.current:.1f} ops/s"
    limit = f"  limit {flow.rate_limit:.1f}/s" if flow.rate_limit and not f.finished else ""
    recent = ""
    if flow.throttled_recently or flow.retries_recently:
        recent = f"  429s {flow.throttled_recently}  retries {flow.retries_recently} (last min)"
    eta = f"  ETA {duration(f.eta)}" if f.eta is not None else ""
    return (
        f"{f.state}  done {t.done}/{t.total}  in flight {t.in_flight}  queued {t.queued}"
        f"  failed {t.failed}  skipped {t.skipped}{rate}{limit}{recent}"
        f"  elapsed {duration(f.elapsed)}{eta}"
    )
