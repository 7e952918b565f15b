"""What the monitor looks like (SVG snapshots; `pytest --snapshot-update` accepts a change, and
docs/screenshots/ holds copies for the README). The journal and the clock are fixed, so every
figure on screen is the same on every run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from bulkx.tui.app import MonitorApp
from bulkx.tui.screens import ItemScreen
from tests.tui.conftest import NOW, RUN_ID, SiteRun, until

SnapCompare = Callable[..., bool]


def monitor(run: SiteRun, tmp_path: Path) -> MonitorApp:
    return MonitorApp(run.root, RUN_ID, clock=lambda: NOW, export_dir=tmp_path)


def test_main_screen_at_80x24(snap_compare: SnapCompare, site_run: SiteRun, tmp_path: Path) -> None:
    assert snap_compare(monitor(site_run, tmp_path), terminal_size=(80, 24))


def test_main_screen_at_160x48(
    snap_compare: SnapCompare, site_run: SiteRun, tmp_path: Path
) -> None:
    assert snap_compare(monitor(site_run, tmp_path), terminal_size=(160, 48))


def test_failures_view(snap_compare: SnapCompare, site_run: SiteRun, tmp_path: Path) -> None:
    assert snap_compare(monitor(site_run, tmp_path), press=["f"], terminal_size=(100, 24))


def test_item_detail(snap_compare: SnapCompare, site_run: SiteRun, tmp_path: Path) -> None:
    async def open_the_retried_failure(pilot: Pilot[object]) -> None:
        await pilot.press("f", "down", "enter")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, ItemScreen) and pilot.app.screen.item is not None,
        )

    assert snap_compare(
        monitor(site_run, tmp_path), run_before=open_the_retried_failure, terminal_size=(100, 40)
    )
