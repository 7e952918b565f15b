"""The run report's chart as plain geometry for an inline SVG: throughput (operations settled
per second) as a line and 429 answers as bars, per interval between the journal's samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from bulkx.journal import Sample

WIDTH = 960
HEIGHT = 240
#: Room for the axis labels, left and below.
LEFT, BOTTOM, TOP, RIGHT = 56, 28, 12, 48
#: Samples closer than this (seconds) are one interval.
MIN_INTERVAL = 0.5


@dataclass
class Chart:
    """Everything the template draws; coordinates already in SVG units."""

    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # polyline points of throughput
    bars: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, w, h
    peak_rate: float = 0.0
    peak_throttled: int = 0
    throttled: int = 0
    seconds: float = 0.0
    intervals: int = 0
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _seconds(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def _delta(now: int, before: int) -> int:
    """How much a cumulative counter grew; a resumed run starts its counters again."""
    return now - before if now >= before else now


def throttled_total(samples: Sequence[Sample]) -> int:
    """429 answers over all `samples` (oldest first), counters restarted by resumes included."""
    return sum(_delta(s.throttled, p.throttled) for p, s in pairwise(samples))


def spaced(samples: Sequence[Sample]) -> list[Sample]:
    """The samples at least `MIN_INTERVAL` apart, first and last kept: the last one, written
    as the run ends, may come a moment after the one before, and a rate over a few
    milliseconds is noise. The counters are cumulative, so nothing is lost."""
    if len(samples) < 2:
        return list(samples)
    kept = [samples[0]]
    for sample in samples[1:-1]:
        if _seconds(sample.at) - _seconds(kept[-1].at) >= MIN_INTERVAL:
            kept.append(sample)
    if len(kept) > 1 and _seconds(samples[-1].at) - _seconds(kept[-1].at) < MIN_INTERVAL:
        kept.pop()
    return [*kept, samples[-1]]


def chart(all_samples: Sequence[Sample]) -> Chart:
    """The chart of `all_samples` (oldest first); empty without two intervals to draw."""
    drawn = Chart()
    samples = spaced(all_samples)
    if len(samples) < 3:
        return drawn
    start = _seconds(samples[0].at)
    points: list[tuple[float, float, int]] = []  # (seconds since start, rate, 429s)
    previous = samples[0]
    for sample in samples[1:]:
        elapsed = _seconds(sample.at) - _seconds(previous.at)
        settled = _delta(sample.done + sample.failed, previous.done + previous.failed)
        rate = settled / elapsed if elapsed > 0 else 0.0
        points.append(
            (_seconds(sample.at) - start, rate, _delta(sample.throttled, previous.throttled))
        )
        previous = sample
    drawn.seconds = max(points[-1][0], 1e-9)
    drawn.intervals = len(points)
    drawn.peak_rate = max(p[1] for p in points)
    drawn.peak_throttled = max(p[2] for p in points)
    drawn.throttled = throttled_total(all_samples)
    span_x, span_y = drawn.right - drawn.left, drawn.bottom - drawn.top

    def x(seconds: float) -> float:
        return round(drawn.left + span_x * seconds / drawn.seconds, 1)

    rate_top = drawn.peak_rate or 1.0
    drawn.line = " ".join(
        f"{x(s)},{round(drawn.bottom - span_y * r / rate_top, 1)}" for s, r, _ in points
    )
    throttled_top = drawn.peak_throttled or 1
    bar = max(1.0, round(span_x / len(points) * 0.8, 1))
    drawn.bars = [
        (
            round(x(s) - bar, 1),
            round(drawn.bottom - span_y * n / throttled_top, 1),
            bar,
            round(span_y * n / throttled_top, 1),
        )
        for s, _, n in points
        if n
    ]
    return drawn
