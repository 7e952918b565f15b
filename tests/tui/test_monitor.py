"""The monitor driven with Pilot against a journal with fixed contents: keys, the command
palette, the failures view and an item's history, export, NO_COLOR, picking a run."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from typer.testing import CliRunner

from bulkx.cli.main import app as cli
from bulkx.journal import JournalReader
from bulkx.report import failed_csv, failed_ops, not_attempted_ops
from bulkx.tui.app import MonitorApp
from bulkx.tui.screens import (
    ConfirmScreen,
    FailuresScreen,
    ItemScreen,
    MonitorScreen,
    RunPickerScreen,
)
from bulkx.tui.widgets import RunHeader
from tests.tui.conftest import NOW, RUN_ID, FrozenClock, SiteRun, build_site_run, until


def monitor(run: SiteRun, tmp_path: Path, run_id: str | None = RUN_ID) -> MonitorApp:
    return MonitorApp(run.root, run_id, clock=lambda: NOW, poll_seconds=0.05, export_dir=tmp_path)


def current(app: MonitorApp) -> Screen[Any]:
    """The screen on top (a call, so a type checker does not keep an earlier narrowing)."""
    return app.screen


def requested(run: SiteRun) -> list[str]:
    return [c.command for c in run.journal.pending_commands()]


def header_text(app: MonitorApp) -> str:
    return str(app.screen.query_one(RunHeader).render())


def test_pause_and_resume_keys_write_control_requests_the_writer_obeys(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = monitor(site_run, tmp_path)
    journal = site_run.journal

    async def scenario() -> None:
        async with app.run_test() as pilot:
            assert isinstance(app.screen, MonitorScreen)
            assert app.check_action("resume", ()) is None  # not paused: shown dimmed
            await pilot.press("p")
            await until(pilot, lambda: requested(site_run) == ["pause"])
            await until(pilot, lambda: app.numbers is not None and app.numbers.state == "pausing")
            # The writer picks the request up and says so in the log (as the engine does).
            for command in journal.pending_commands():
                journal.acknowledge(command.id)
            journal.event("info", "paused")
            await until(pilot, lambda: app.numbers is not None and app.numbers.state == "paused")
            assert "PAUSED" in header_text(app)
            assert app.check_action("pause", ()) is None
            await pilot.press("p")  # disabled while paused: nothing written
            await pilot.press("r")
            await until(pilot, lambda: requested(site_run) == ["resume"])

    asyncio.run(scenario())


def test_cancel_asks_first_and_no_means_nothing_is_written(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = monitor(site_run, tmp_path)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await pilot.press("c")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert isinstance(app.screen, MonitorScreen)
            assert requested(site_run) == []
            await pilot.press("c")
            await pilot.press("y")
            await until(pilot, lambda: requested(site_run) == ["cancel"])
            await until(pilot, lambda: app.numbers is not None and app.numbers.state == "stopping")

    asyncio.run(scenario())


def test_the_command_palette_offers_the_run_controls(site_run: SiteRun, tmp_path: Path) -> None:
    app = monitor(site_run, tmp_path)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            titles = [command.title for command in app.get_system_commands(app.screen)]
            for title in (
                "Pause the run",
                "Resume the run",
                "Cancel the run",
                "Failures",
                "Export failures to CSV",
                "Detach",
            ):
                assert title in titles
            await pilot.press("ctrl+p")
            await pilot.press(*"pause")
            await pilot.pause(0.3)  # the palette searches in the background
            await pilot.press("enter")
            await until(pilot, lambda: requested(site_run) == ["pause"])

    asyncio.run(scenario())


def test_failures_view_and_an_items_history_with_credentials_redacted(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = monitor(site_run, tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f")
            assert isinstance(app.screen, FailuresScreen)
            await pilot.press("down", "enter")  # the second newest failure: retried twice
            screen = current(app)
            assert isinstance(screen, ItemScreen)
            await until(pilot, lambda: screen.item is not None)
            assert screen.item is not None
            assert screen.item.op.key == "15165550041" and screen.item.op.attempts == 3
            assert [t.to_state for t in screen.item.history] == [
                "pending",
                "in_flight",
                "pending",
                "in_flight",
                "pending",
                "in_flight",
                "failed",
            ]
            await pilot.press("escape")
            assert isinstance(app.screen, FailuresScreen)
            await pilot.press("escape")
            assert isinstance(app.screen, MonitorScreen)
            # The endpoint's response carries its generated credentials: never on screen.
            app.show_item(site_run.id_of("site-516-rooms"))
            await pilot.pause()
            detail = current(app)
            assert isinstance(detail, ItemScreen)
            await until(pilot, lambda: detail.item is not None)
            shown = str(detail.query_one("#item-body").render())
            assert "ep-77a0" in shown and "***" in shown
            assert "s3cr3t!" not in shown and 'site-516"' not in shown

    asyncio.run(scenario())


def test_e_exports_only_the_failures_and_n_the_items_not_attempted(
    site_run: SiteRun, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = monitor(site_run, out)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await pilot.press("e")
            await until(pilot, lambda: (out / f"{RUN_ID}-failed.csv").exists())
            await pilot.press("n")
            await until(pilot, lambda: len(list(out.glob("*-not-attempted-*.csv"))) == 2)

    asyncio.run(scenario())
    with JournalReader.open(site_run.root, RUN_ID) as reader:
        failures, unreached = failed_ops(reader), not_attempted_ops(reader)
    # The queued numbers and rooms are not failures: `e` writes the five that failed, only.
    assert [r.state for r in failures] == ["failed"] * 5
    assert (out / f"{RUN_ID}-failed.csv").read_text() == failed_csv(failures)
    did_csv = (out / f"{RUN_ID}-failed.csv").read_text().splitlines()
    assert did_csv[:2] == ["# kind: did", "phonenumber,name,trunk_group,error"]
    assert "15165550007,desk 7,site-516-sip,422 phonenumber" in did_csv[2]
    assert len(did_csv) == 2 + 5
    assert {r.state for r in unreached} == {"pending"}
    for kind in ("did", "conference_v2.meeting_room"):
        name = f"{RUN_ID}-not-attempted-{kind.replace('.', '_')}.csv"
        expected = failed_csv([r for r in unreached if r.kind == kind])
        assert (out / name).read_text() == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            f"{RUN_ID}-failed.csv",
            f"{RUN_ID}-not-attempted-did.csv",
            f"{RUN_ID}-not-attempted-conference_v2_meeting_room.csv",
        ]
    )


def test_export_of_a_one_kind_run_is_byte_for_byte_report_failed(
    tmp_path: Path, journal_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = build_site_run(tmp_path / "home", journal_clock)
    journal = run.journal
    # Only did items failed, so `report --failed` (one kind per CSV) can print them.
    journal.start([run.id_of(f"room-{n:02d}") for n in range(20)])
    for n in range(20):
        journal.succeed(run.id_of(f"room-{n:02d}"), f"room-{n}")
    journal.close()
    monkeypatch.setenv("BULKX_HOME", str(run.root))
    printed = CliRunner().invoke(cli, ["report", RUN_ID, "--failed"])
    assert printed.exit_code == 0, printed.output
    app = monitor(run, tmp_path)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await pilot.press("e")
            await until(pilot, lambda: (tmp_path / f"{RUN_ID}-failed.csv").exists())

    asyncio.run(scenario())
    assert (tmp_path / f"{RUN_ID}-failed.csv").read_text() == printed.stdout


def test_a_live_api_target_is_loud(tmp_path: Path, journal_clock: FrozenClock) -> None:
    run = build_site_run(tmp_path / "home", journal_clock, live=True)
    app = monitor(run, tmp_path)

    async def scenario() -> None:
        async with app.run_test():
            assert " ⚠ LIVE API https://api.carrierx.com/core/v2 " in header_text(app)

    asyncio.run(scenario())
    run.journal.close()


def test_no_color_turns_the_screen_monochrome(
    site_run: SiteRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = monitor(site_run, tmp_path)

    async def scenario() -> str:
        async with app.run_test() as pilot:
            await pilot.pause()
            return app.export_screenshot()

    svg = asyncio.run(scenario())
    assert app.no_color
    colours = set(re.findall(r"#([0-9a-f]{6})\b", svg))
    assert colours, "the screenshot names its colours"
    # Monochrome: every colour is a grey (the window chrome aside, which Rich draws itself).
    chrome = {"ff5f57", "febc2e", "28c840", "c5c8c6"}
    assert all(c[0:2] == c[2:4] == c[4:6] for c in colours - chrome), colours - chrome


def test_quitting_a_watch_detaches_and_leaves_the_run_alone(
    site_run: SiteRun, tmp_path: Path
) -> None:
    app = monitor(site_run, tmp_path)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            await pilot.press("q")

    asyncio.run(scenario())
    assert app.return_value is None and app.outcome() is None
    assert requested(site_run) == []
    assert site_run.journal.run().state == "running"


def test_watch_without_a_run_id_offers_the_runs(site_run: SiteRun, tmp_path: Path) -> None:
    app = monitor(site_run, tmp_path, run_id=None)

    async def scenario() -> None:
        async with app.run_test() as pilot:
            assert isinstance(app.screen, RunPickerScreen)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MonitorScreen))
            assert app.run_id == RUN_ID
            assert RUN_ID in header_text(app)

    asyncio.run(scenario())
