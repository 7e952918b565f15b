"""The event loop bulkx's requests run on: uvloop's where it is installed, asyncio's otherwise.

uvloop (installed with uvicorn[standard] on Linux and macOS) does the loop's and the sockets'
work in C: 0.04-0.05 ms less CPU per operation than asyncio's loop at 1,000 operations/s
(issue 18, bench row 5). Nothing in bulkx depends on which loop runs it; `BULKX_EVENT_LOOP=
asyncio` chooses asyncio's (to rule the loop out when chasing a problem).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None (asyncio's default) when it is missing or not wanted."""
    if os.environ.get("BULKX_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the chosen loop (Ctrl-C handled as asyncio.run handles it)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
