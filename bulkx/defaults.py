"""Defaults that the library, the sandbox and the command line share. Free of bulkx imports on
purpose: every command reads them at start-up."""

import os
from pathlib import Path

#: Seconds of nothing but transient errors (5xx, resets, timeouts) before a run, or a read of
#: live state, stops (resumable) instead of failing item by item.
DEFAULT_OUTAGE_SECONDS = 60.0
#: A requests/s ceiling (`--rate`, a profile's `rate`) is at least this: 0 or less is no pace.
MIN_RATE = 0.01
#: Requests in flight at once (`--concurrency`, a profile's `concurrency`).
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 256
#: The embedded sandbox's world, unless told otherwise.
DEFAULT_SANDBOX_DB = Path(".bulkx") / "sandbox.db"


def journal_root() -> Path:
    """Where run journals live: `.bulkx` in the current directory, or $BULKX_HOME."""
    return Path(os.environ.get("BULKX_HOME", ".bulkx"))


def locate_run(name: str, root: Path) -> tuple[Path, str]:
    """(journal root, run id) for a run id under `root`, or for a journal's own path
    (`<root>/runs/<run_id>.db`)."""
    if not name.endswith(".db"):
        return root, name
    path = Path(name)
    if path.parent.name != "runs":
        from bulkx.errors import JournalError

        raise JournalError(
            f"{name} is not a run journal", hint="journals live in <BULKX_HOME>/runs/RUN_ID.db"
        )
    return path.parent.parent, path.stem
