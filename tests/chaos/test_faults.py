"""T3-T6 at the default suite's size: lost answers, a 429 storm, an outage, a credential that
expires mid-run. Each ends with the checker (tests/chaos/checker.py) finding only ok and
recovered items."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import scenarios


def test_lost_answers_are_looked_up_not_repeated(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.lost_answers(tmp_path, items=30, seed=seed, thorough=False)
    assert outcome.ok, str(outcome)
    assert outcome.faults["answer lost (chosen)"] >= 10


def test_a_429_storm_is_waited_out_as_retry_after_says(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.storm(tmp_path, items=30, seed=seed, seconds=2, thorough=False)
    assert outcome.ok, str(outcome)
    assert outcome.faults["throttle"] > 0


def test_an_outage_stops_the_run_resumably_and_resume_finishes_it(
    tmp_path: Path, seed: int
) -> None:
    outcome = scenarios.outage(
        tmp_path, items=40, seed=seed, seconds=4, stop_after=1, thorough=False
    )
    assert outcome.ok, str(outcome)
    assert outcome.faults["outage"] > 0


def test_a_credential_expiring_mid_run_stops_it_resumably(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.expired_credentials(tmp_path, items=40, seed=seed, thorough=False)
    assert outcome.ok, str(outcome)
    assert outcome.faults["unauthorized"] > 0


@pytest.mark.slow
def test_the_rate_ceiling_holds_in_every_second(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.rate_ceiling(tmp_path, items=120, rate=40, seed=seed)
    assert outcome.ok, str(outcome)
