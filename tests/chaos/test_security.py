"""T9, T10, T12, T13: the token never leaks, files are private whatever the umask, one writer
per run, and a monitor polling the journal does not hurt the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import scenarios


def test_the_token_appears_nowhere(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.token_canary(tmp_path, items=30, seed=seed, thorough=False)
    assert outcome.ok, str(outcome)


@pytest.mark.slow
def test_the_token_appears_nowhere_in_any_command(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.token_canary(tmp_path, items=60, seed=seed)
    assert outcome.ok, str(outcome)


@pytest.mark.slow
def test_files_are_private_under_umask_000(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.permissions(tmp_path, items=20, seed=seed)
    assert outcome.ok, str(outcome)


@pytest.mark.slow
def test_a_second_writer_is_refused(tmp_path: Path, seed: int) -> None:
    # Long enough (about 4 s at 40 ms a request, 2 at a time) that the second writer, which
    # pays its own start-up, still meets the first one at work on a quiet machine.
    outcome = scenarios.second_writer(tmp_path, items=200, seed=seed)
    assert outcome.ok, str(outcome)


@pytest.mark.slow
def test_a_monitor_keeps_the_wal_bounded(tmp_path: Path, seed: int) -> None:
    outcome = scenarios.monitored_run(tmp_path, dids=3000, seed=seed)
    assert outcome.ok, str(outcome)
