"""`bulkx report RUN_ID -o html`: what a run did, from its journal alone.

The run's header and outcome; items per step and state; throughput and 429s over time (an
inline SVG from the journal's samples); the failures with their error and plan position; and
what a revert could and could not undo, as `bulkx.engine.revert` classifies it from the journal
(live state is never read for the page: `bulkx revert` checks it when it writes the plan).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from bulkx.audit.chart import chart, throttled_total
from bulkx.audit.render import allowance_words, render_page
from bulkx.engine.revert import build_revert
from bulkx.journal import JournalView, Operation
from bulkx.kinds.model import Allowance
from bulkx.report import FAILED

#: Failures listed (all are counted); the CSV of `bulkx report --failed` has every one.
FAILURES = 200
#: Irreversible operations and kept fields listed (all are counted).
IRREVERSIBLE = 200
#: Samples the chart draws: the last ones, about a second apart.
SAMPLES = 3600
#: The order states are shown in.
STATES = ("succeeded", "failed", "skipped", "unknown", "in_flight", "pending", "cancelled")


def run_page(view: JournalView, allowances: Mapping[Allowance, str] | None = None) -> str:
    """The page; `allowances`: how it names what an apply must be allowed to do (the CLI
    gives its flags; `allowance_words`)."""
    return render_page("run.html.j2", run_context(view, allowances))


def run_context(
    view: JournalView, allowances: Mapping[Allowance, str] | None = None
) -> dict[str, Any]:
    info = view.run()
    counts = view.counts()
    by_step = view.counts_by_step()
    states = [s for s in STATES if counts.get(s)]
    samples = view.recent_samples(limit=SAMPLES)
    return {
        "title": f"bulkx run {info.run_id}",
        "info": info,
        "options": sorted((k, v) for k, v in info.options.items() if v not in (None, "", [])),
        "counts": counts,
        "total": sum(counts.values()),
        "states": states,
        "by_step": by_step,
        "chart": chart(samples),
        "throttled": throttled_total(samples),
        "failures": _failures(view),
        "failed_total": sum(counts.get(s, 0) for s in FAILED),
        "revert": _revert(view, info.target_label, allowance_words(allowances)),
        "events": [e for e in view.recent_events(limit=20) if e.level != "info"],
    }


def _failures(view: JournalView) -> list[Operation]:
    """The first `FAILURES` failed, skipped or unknown operations, in plan order."""
    found: list[Operation] = []
    for state in sorted(FAILED):
        found += view.ops(state, limit=FAILURES)
    return sorted(found, key=lambda op: op.op_id or 0)[:FAILURES]


def _revert(view: JournalView, target: str, words: Mapping[Allowance, str]) -> dict[str, Any]:
    revert = build_revert(view, target=target)
    removed = sum(1 for item in revert.items if item.releases)
    reasons = Counter(i.reason for i in revert.irreversible)
    return {
        "set_back": len(revert.items) - removed,
        "removed": removed,
        "irreversible": revert.irreversible[:IRREVERSIBLE],
        "irreversible_total": len(revert.irreversible),
        "reasons": reasons.most_common(),
        "kept": revert.kept[:IRREVERSIBLE],
        "kept_total": len(revert.kept),
        "unsettled": revert.unsettled,
        "needs": [words[allowance] for allowance in revert.allowances()],
    }
