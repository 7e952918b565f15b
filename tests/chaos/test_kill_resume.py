"""T1 and T2: kill -9 at random moments, and at every named crash point; resume; check that
nothing was lost, repeated or invented (tests/chaos/checker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkx.engine.crashpoints import POINTS
from tests.chaos import scenarios


def test_killed_at_random_moments_with_faults_on_then_resumed(tmp_path: Path, seed: int) -> None:
    # Issue 4 asks for at least ten kills in CI; `make chaos` does twenty on 2,000 items.
    outcome = scenarios.kill_and_resume(tmp_path, items=200, kills=10, seed=seed, thorough=False)
    assert outcome.ok, str(outcome)
    assert outcome.verdict is not None and outcome.verdict.counts["ok"] > 0


@pytest.mark.slow
def test_killed_twenty_times_during_a_2000_item_run(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.kill_and_resume(tmp_path, items=2000, kills=20, seed=seed)
    assert outcome.ok, str(outcome)


def test_a_crash_while_reconciling_a_crash_after_a_send(tmp_path: Path, seed: int) -> None:
    """Two crash points in one: after_send_before_response leaves an unknown outcome; the
    resume dies while looking it up; the next resume settles it."""
    outcome = scenarios.crash_points(
        tmp_path, points=("during_reconcile",), max_n=1, items=6, seed=seed
    )
    assert outcome.ok, str(outcome)
    assert outcome.faults["crash during_reconcile"] == 1
    assert outcome.verdict is not None and outcome.verdict.counts["recovered"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_every_crash_point_three_times(tmp_path: Path, seed: int, point: str) -> None:
    outcome = scenarios.crash_points(tmp_path, points=(point,), max_n=3, items=10, seed=seed)
    assert outcome.ok, str(outcome)
    assert outcome.faults[f"crash {point}"] >= 1
