"""Test-only crash hooks: `BULKX_CRASHPOINT=<point>:<n>` kills the process (SIGKILL, no cleanup)
the n-th time execution reaches `<point>`. The fault campaign walks every point with n = 1, 2, 3...
and checks that a resume repairs whatever the crash left behind.

Unset (the normal case) a crash point costs one attribute test.
"""

from __future__ import annotations

import os
import signal

#: Every point the engine marks, in the order one operation meets them (from its journaling).
POINTS = (
    "while_preparing",  # a chunk of the plan's operations is journaled, more are to come
    "before_intent_commit",  # the op's start is buffered, not yet durable
    "after_intent_commit",  # in_flight is durable, the request not yet sent
    "after_send_before_response",  # the server has executed it; the answer is not read yet
    "after_response_before_commit",  # the answer is read; its outcome is not durable yet
    "inside_result_txn",  # inside the transaction that records outcomes, before COMMIT
    "during_reconcile",  # looking up an unknown outcome
)

#: Points only a plan of more than one chunk reaches (the fault campaign's runs are smaller):
#: tests/test_pipelined_apply.py kills there.
LARGE_PLAN_POINTS = (
    # a chunk is journaled, more are to come, in a run sending while it prepares (some of
    # whose operations succeeded already)
    "while_preparing_and_sending",
)

ENV = "BULKX_CRASHPOINT"


class _CrashPlan:
    def __init__(self, spec: str | None) -> None:
        self.point: str | None = None
        self.at = 0
        self.seen = 0
        if not spec:
            return
        point, _, count = spec.partition(":")
        if point not in POINTS + LARGE_PLAN_POINTS:
            known = ", ".join(POINTS + LARGE_PLAN_POINTS)
            raise ValueError(f"{ENV}={spec!r}: the point must be one of {known}")
        self.point = point
        self.at = int(count or "1")

    def reach(self, point: str) -> None:
        if point != self.point:
            return
        self.seen += 1
        if self.seen == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


_plan = _CrashPlan(os.environ.get(ENV))


def armed(point: str) -> bool:
    """Whether the environment asked to die at `point` (a check worth skipping otherwise)."""
    return _plan.point == point


def crash_point(point: str) -> None:
    """Die here if the environment asked for it (see module doc)."""
    if _plan.point is not None:
        _plan.reach(point)
