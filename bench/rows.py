"""One benchmark row = one measurement of bulkx and one of a baseline, taken in the same run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    number: int
    title: str
    bulkx: str
    baseline: str
    ratio: str
    target: str
    #: True when every target of the row is met, False when one is missed, None: no target.
    met: bool | None
    peak_rss_mb: float | None = None
    #: What limits the figure, when a target is missed (or anything a reader must know).
    note: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.number,
            "title": self.title,
            "bulkx": self.bulkx,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "peak_rss_mb": self.peak_rss_mb,
            "note": self.note,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Sizes:
    """How big each row is; `quick` runs every row smaller (the whole table in < 2 minutes)."""

    name: str
    ops_at_50: int
    ops_at_500: int
    latency_ops: int
    sequential_ops: int
    validate_rows: int
    validate_baseline_rows: int
    diff_dids: int
    journal_ops: int
    resume_ops: int
    #: Row 9: the apply and resume at a small and a large size (the small one is the baseline).
    memory_ops: tuple[int, int]
    #: Row 10: rows of the plan and live DIDs.
    plan_dids: int
    #: Row 11: numbers whose E911 record is read (one GET each) at 50 requests/s.
    e911_numbers: int
    #: Row 10's baseline: the code of this git revision (before the streaming work).
    baseline_rev: str = "5af09d1"
    #: Row 12: numbers rented by each of the two runs (the issue's short job, at any size).
    remembered_ops: int = 1_500
    #: Row 1 at R = 500: how many runs (issue 18 asks for 10 of 10); every other one starts
    #: from the limit the run before it remembered.
    runs_at_500: int = 10


FULL = Sizes(
    name="full",
    ops_at_50=10_000,
    ops_at_500=10_000,
    latency_ops=5_000,
    sequential_ops=400,
    validate_rows=1_000_000,
    validate_baseline_rows=50_000,
    diff_dids=100_000,
    journal_ops=5_000,
    resume_ops=100_000,
    memory_ops=(20_000, 200_000),
    plan_dids=1_000_000,
    e911_numbers=2_000,
)
QUICK = Sizes(
    name="quick",
    ops_at_50=400,
    ops_at_500=2_500,
    latency_ops=2_000,
    sequential_ops=120,
    validate_rows=200_000,
    validate_baseline_rows=10_000,
    diff_dids=20_000,
    journal_ops=1_500,
    resume_ops=10_000,
    memory_ops=(2_000, 20_000),
    plan_dids=50_000,
    e911_numbers=300,
    runs_at_500=2,
)


def rate(ops: float, seconds: float) -> float:
    return ops / seconds if seconds > 0 else 0.0
