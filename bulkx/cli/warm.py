"""The imports a command is about to need, made on a thread while the main one waits on disk.

`bulkx resume` checks its journal first (`integrity.damage`, 0.2-0.4 s at 100,000 operations)
and takes over its claims; SQLite lets go of the GIL meanwhile. The engine and the HTTP client
take ~0.5 s to import on this machine (a resume needs no polars): imported beside the check
instead of after it, they no longer stand between a resume and its first request.

The main thread joins the warm-up before it imports any of them itself, so two threads never
import the same modules at once.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def beside(job: Callable[[], None], name: str) -> Iterator[None]:
    """`job` on a thread of its own for the length of the block, waited for at its end."""
    thread = threading.Thread(target=job, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def warmed(*modules: str) -> contextlib.AbstractContextManager[None]:
    """Import `modules` on a thread for the length of the block, then wait for it. A module
    that fails to import fails again, with its real error, where it is imported for use."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the importer for use reports it
                return

    return beside(load, "bulkx-warm-imports")
