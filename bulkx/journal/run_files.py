"""Where a run's files live, and who may write them.

A run is `<root>/runs/<run_id>.db` (its journal) beside `<run_id>.lock`. Run ids are checked so
they cannot name another path. One writer: it holds an advisory `flock` on the lock file for its
lifetime; the OS drops it when the process dies, so a resume after kill -9 just works.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from bulkx.errors import JournalError, JournalLocked
from bulkx.journal.schema import read_lock_pid

DEFAULT_ROOT = Path(".bulkx")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and readable: UTC time plus 4 random hex digits, e.g. 20261127-221503-ab12."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def runs_dir(root: str | Path = DEFAULT_ROOT) -> Path:
    return Path(root) / "runs"


def run_paths(root: str | Path, run_id: str) -> tuple[Path, Path]:
    """(database, lock file) of a run; the run id is checked so it cannot name another path."""
    if not _RUN_ID.match(run_id):
        raise JournalError(f"{run_id!r} is not a run id", hint="`bulkx runs` lists runs")
    directory = runs_dir(root)
    return directory / f"{run_id}.db", directory / f"{run_id}.lock"


def mkdir_private(path: Path) -> None:
    for directory in (path.parent, path):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise JournalError(f"cannot create {directory}: {exc.strerror}") from None


class WriterLock:
    """An exclusive, non-blocking flock. flock locks belong to the open file, so a second open
    in the same process is refused too, and the kernel releases the lock when the process dies."""

    def __init__(self, path: Path, run_id: str) -> None:
        try:
            # Python opens files non-inheritable, so a child process never keeps our lock alive.
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise JournalError(f"cannot open the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = read_lock_pid(path)
            by = f"another process (pid {pid})" if pid else "another process"
            raise JournalLocked(
                f"run {run_id} is being applied by {by}",
                run_id=run_id,
                pid=pid,
                hint=f"watch it with `bulkx watch {run_id}`",
            ) from None
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Forget our pid first, so a watcher never names a process that has finished.
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock
