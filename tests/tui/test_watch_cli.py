"""`bulkx watch` and the plain-text watch loop (`watch_status`, behind `status --watch`)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as cli
from bulkx.cli.watch_commands import run_exit_code, watch_status
from bulkx.journal import RunInfo
from tests.tui.conftest import RUN_ID, FrozenClock, SiteRun, build_site_run


def _info(state: str, exit_code: int | None = None) -> RunInfo:
    return RunInfo("r", "t", "p", "d", "l", True, state, exit_code, {}, None)


@pytest.mark.parametrize(
    ("state", "exit_code", "counts", "expected"),
    [
        ("completed", None, {}, 0),
        ("completed", None, {"failed": 2}, 3),
        ("completed", None, {"skipped": 1}, 3),
        ("failed", None, {}, 3),
        ("cancelled", None, {}, 130),
        ("interrupted", None, {}, 5),
        ("interrupted", 4, {}, 4),  # what the run recorded wins (here: credentials refused)
    ],
)
def test_the_exit_code_of_a_finished_run(
    state: str, exit_code: int | None, counts: dict[str, int], expected: int
) -> None:
    assert run_exit_code(_info(state, exit_code), counts) == expected


def test_a_finished_run_prints_its_figures_and_returns_its_code(
    tmp_path: Path, journal_clock: FrozenClock
) -> None:
    run = build_site_run(tmp_path, journal_clock, finish=True)
    run.journal.close()
    out = io.StringIO()
    assert watch_status(tmp_path, RUN_ID, out, interval=0.01) == 130
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"run {RUN_ID}: plans/new-site.yaml on the embedded sandbox"
        " (.bulkx/sandbox.db), started 2026-11-27T22:15:03.000Z"
    )
    assert (
        "cancelled (exit 130)  done 117/322  in flight 4  queued 176  failed 5  skipped 20"
        in (lines[1])
    )
    assert lines[-1] == f"run {RUN_ID} cancelled: exit 130"


def test_a_live_run_is_followed_to_its_end(site_run: SiteRun) -> None:
    out = io.StringIO()
    result: list[int] = []
    watcher = threading.Thread(
        target=lambda: result.append(watch_status(site_run.root, RUN_ID, out, interval=0.02))
    )
    watcher.start()
    journal = site_run.journal
    journal.event("info", "nearly there")  # the watcher goes on while the run does
    journal.set_run_state("completed")  # no exit code recorded: 5 failures make it partial
    watcher.join(timeout=30)
    assert result == [3]
    assert out.getvalue().splitlines()[-1] == f"run {RUN_ID} completed: exit 3"


def test_a_run_whose_process_died_ends_the_watch_as_resumable(
    tmp_path: Path, journal_clock: FrozenClock
) -> None:
    run = build_site_run(tmp_path, journal_clock)
    run.journal.close()  # the writer is gone; the run says "running" for ever
    out = io.StringIO()
    assert watch_status(tmp_path, RUN_ID, out, interval=0.01) == 5
    assert f"`bulkx resume {RUN_ID}` continues it" in out.getvalue()


def test_watch_command_without_a_terminal_prints_figures(
    tmp_path: Path, journal_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_site_run(tmp_path, journal_clock, finish=True).journal.close()
    monkeypatch.setenv("BULKX_HOME", str(tmp_path))
    runner = CliRunner()
    plain = runner.invoke(cli, ["watch", RUN_ID, "--plain"])
    assert plain.exit_code == 130
    assert plain.stdout.splitlines()[-1] == f"run {RUN_ID} cancelled: exit 130"
    unnamed = runner.invoke(cli, ["watch"])
    assert unnamed.exit_code == 2
    assert "name a run: bulkx watch RUN_ID" in unnamed.stderr and RUN_ID in unnamed.stderr
    missing = runner.invoke(cli, ["watch", "20200101-000000-dead"])
    assert missing.exit_code == 2 and "no run 20200101-000000-dead" in missing.stderr
