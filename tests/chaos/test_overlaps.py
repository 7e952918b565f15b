"""T15 and T16 at the default suite's size: concurrent applies of overlapping plans make
nothing twice and send nothing twice; a resume after its `-wal` was cut makes no duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import overlap_scenarios as scenarios


@pytest.mark.parametrize("runs", [2, 3])
def test_concurrent_applies_of_overlapping_plans(tmp_path: Path, seed: int, runs: int) -> None:
    outcome = scenarios.concurrent_applies(tmp_path, runs=runs, items=24, seed=seed)
    assert outcome.ok, str(outcome)
    assert "0 made twice, 0 sent twice" in outcome.notes[-1]


def test_a_resume_after_the_wal_was_cut(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.truncated_wal(tmp_path, items=30, seed=seed)
    assert outcome.ok, str(outcome)
