"""How much one client may take from the sandbox: body sizes, timeouts, connections, query time.

These are the sandbox's own limits, not CarrierX behaviour (the docs name none of them); they
keep one bad or hostile client from freezing or exhausting a sandbox that others share.
`SandboxConfig(limits=...)` and `serve_in_thread(..., limits=...)` take other values (tests use
tiny ones); docs/sandbox.md lists them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import ErrorAnswer, FieldError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    #: A JSON (or form) request body larger than this answers 413 without being read.
    max_body_bytes: int = 8 * MIB
    #: A request body must arrive within this many seconds of its headers (else 408).
    body_timeout_s: float = 30.0
    #: A GET that computes longer than this stops with `assumptions.QUERY_TIMEOUT_STATUS`.
    query_timeout_s: float = 10.0
    #: A connection must deliver a complete request head within this many seconds of opening
    #: (or of its previous response); else it is closed (408 if it had sent anything).
    header_timeout_s: float = 10.0
    #: A request head (request line and headers) larger than this answers 431 and closes.
    max_header_bytes: int = 64 * 1024
    #: An idle keep-alive connection is closed after this many seconds (uvicorn's setting).
    keep_alive_s: int = 10
    #: Connections and requests in flight beyond this answer 503 at once (uvicorn's
    #: limit_concurrency); a client retries, the sandbox does not run out of descriptors.
    max_connections: int = 1000


DEFAULT_LIMITS = Limits()


# --- the deadline of the query being computed on this thread -----------------------------------

_local = threading.local()


@contextmanager
def query_deadline(seconds: float | None) -> Iterator[None]:
    """Bound the work done on this thread inside the block (None: no bound)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = None if seconds is None else time.monotonic() + seconds
    _local.seconds = seconds
    try:
        yield
    finally:
        _local.deadline = previous


def deadline_passed() -> bool:
    """True once the deadline of this thread's query has passed (never without one)."""
    deadline: float | None = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() > deadline


def check_deadline() -> None:
    """Raise the query-timeout error when the deadline of this thread's query has passed."""
    if deadline_passed():
        raise query_timeout_error(getattr(_local, "seconds", None))


def query_timeout_error(seconds: float | None, field: str | None = "filter") -> ErrorAnswer:
    limit = f"{seconds:g} s" if seconds is not None else "its time limit"
    why = (
        f"the query ran longer than {limit} and was stopped; narrow it (a filter on a"
        ' phonenumber prefix, such as phonenumber like "1516%", is answered from an index)'
    )
    return ErrorAnswer(
        assumptions.QUERY_TIMEOUT_STATUS, "the query took too long", [FieldError(field, why)]
    )
