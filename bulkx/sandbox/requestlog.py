"""The sandbox's request log: the last N requests, for tests, the bench and the chaos lab.

Entries hold a credential id, never a secret (see controls.SandboxControls).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode

REQUEST_LOG_CAPACITY: Final = 200_000
REQUESTS_PAGE_DEFAULT: Final = 1000
#: Query parameters whose names contain one of these have their values kept out of the log.
_SECRET_QUERY_WORDS: Final = ("token", "password", "secret", "api_key", "apikey", "authorization")
_REDACTED: Final = "REDACTED"


class RequestLog:
    """The last `capacity` requests, oldest first, each with a sequence number (`seq`) from 1.

    Sequence numbers keep counting across `clear()`, so a poller's `since` stays meaningful.
    """

    def __init__(
        self, capacity: int = REQUEST_LOG_CAPACITY, clock: Callable[[], float] = time.time
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._clock = clock
        # A ring over a list (not a deque) gives O(1) access by seq for `entries(since)`.
        self._slots: list[dict[str, Any]] = []
        self._base = 0  # seq of the last entry before the most recent clear()
        self._next_seq = 1

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def last_seq(self) -> int:
        """The seq of the most recent entry ever recorded (0 if none)."""
        return self._next_seq - 1

    def __len__(self) -> int:
        return self._next_seq - self._first_seq()

    def _first_seq(self) -> int:
        return max(self._base + 1, self._next_seq - self._capacity)

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        status: int,
        credential: str | None,
        fault: str | None,
        duration_ms: float,
        started_at: float | None = None,
    ) -> int:
        """Append one request; `credential` must be an id, never a secret. Returns its seq."""
        seq = self._next_seq
        self._next_seq = seq + 1
        entry: dict[str, Any] = {
            "seq": seq,
            "time": self._clock() if started_at is None else started_at,
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "credential": credential,
            "fault": fault,
            "duration_ms": duration_ms,
        }
        if len(self._slots) < self._capacity:
            self._slots.append(entry)
        else:
            self._slots[(seq - 1 - self._base) % self._capacity] = entry
        return seq

    def entries(
        self, since_seq: int = 0, limit: int = REQUESTS_PAGE_DEFAULT
    ) -> list[dict[str, Any]]:
        """Entries with seq > since_seq, oldest first, at most `limit` of them (copies)."""
        start = max(since_seq + 1, self._first_seq())
        end = min(self._next_seq, start + max(limit, 0))
        slots, base, capacity = self._slots, self._base, self._capacity
        return [dict(slots[(seq - 1 - base) % capacity]) for seq in range(start, end)]

    def clear(self) -> int:
        """Forget every entry; returns how many there were."""
        dropped = len(self)
        self._slots = []
        self._base = self._next_seq - 1
        return dropped


def loggable_query(raw: bytes) -> str:
    if not raw:
        return ""
    text = raw.decode("latin-1")
    decoded = unquote_plus(text).lower()
    if not any(word in decoded for word in _SECRET_QUERY_WORDS):
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode(
        [
            (name, _REDACTED if any(w in name.lower() for w in _SECRET_QUERY_WORDS) else value)
            for name, value in pairs
        ]
    )
