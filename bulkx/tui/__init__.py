"""The Textual monitor of a run: `bulkx apply --tui` (in-process) and `bulkx watch` (attached).

Importing this package does not import Textual: `run_monitor` loads the app when called, so
the plain-text figures (`bulkx.tui.figures`, used by `bulkx status --watch`) stay light.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["run_monitor"]


def run_monitor(
    root: Path,
    run_id: str,
    *,
    job: Callable[[], Awaitable[int]] | None = None,
) -> int | None:
    """Show the monitor of `run_id` until the user quits; see `bulkx.tui.app.run_monitor`."""
    from bulkx.tui.app import run_monitor as run

    return run(root, run_id, job=job)
