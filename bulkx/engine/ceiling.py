"""A ceiling that holds at the server: `--rate R` (often a contracted limit) as at most
floor(R) requests in any 1-second window of their arrival, catch-up after a stall and all.

Pacing spaces *admissions* (the moment the limiter lets a request go). The server counts
*arrivals*, and between the two a request can be held up: the first requests of a run wait for
their connections, and an event loop busy with the journal sends a request late. Requests R
admissions apart, the first held up longer than the second, would then land less than a
second apart. So each admission counts from when it may have reached the wire at the latest,
as its answer tells: its round trip beyond the quickest one seen (time it spent waiting in
this client, or at worst in the server, never less than it was late at the wire), at most
MAX_LATE. Until FLOOR_AFTER answers have shown how quick a round trip is, the whole round trip
counts. A request not answered yet is waited for while it may still be on its way (out for less
than MAX_LATE beyond the quickest round trip); after that it counts as late as the latest
answered request of the window was (a slow answer is the server's, not a late send).

The cost: steady sending loses the spread of the round trips (on a loopback sandbox about 1% of
R), and each answer slower than the quickest by more than MAX_LATE can hold the next admission
up to MAX_LATE. What it does not cover: a client stalled longer than MAX_LATE between letting a
request go and sending it.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

#: A window of arrivals, and the jitter of the server's own clock reading on top of it.
WINDOW_SECONDS = 1.0
WINDOW_SLACK = 0.01
#: A request held up longer than this between its admission and the wire is not waited for
#: (a request not answered in time, a slow server): the pace would stall on every slow answer.
#: Measured on a 2-core machine at load 2: a run's first request held up 0.11 s (its
#: connection, the journal's first writes).
MAX_LATE = 0.4
#: While the admission a window back is unanswered, look again this often.
RECHECK_SECONDS = 0.005
#: The quickest round trip is taken for the network's and server's part of every round trip
#: once this many answers have come (the first ones may all have waited for a busy client).
FLOOR_AFTER = 20


class SlidingCap:
    """At most `count` admissions in any window of `seconds` (floor(R) per second; one per
    1/R seconds under 1/s), each counted from when it may have reached the wire."""

    def __init__(self, ceiling: float, slack: float = WINDOW_SLACK) -> None:
        self.count = max(1, math.floor(ceiling + 1e-9))
        self.seconds = max(WINDOW_SECONDS, self.count / ceiling) + slack
        #: The last `count` admissions, in order, and how late each reached the wire at the
        #: latest, as far as its answer tells (None: not answered yet).
        self._admitted: deque[float] = deque(maxlen=self.count)
        self._late: deque[float | None] = deque(maxlen=self.count)
        self._quickest = math.inf
        self._answers = 0

    @property
    def _floor(self) -> float:
        """The part of a round trip no request is late for: the network's and the server's."""
        return self._quickest if self._answers >= FLOOR_AFTER else 0.0

    def wait(self, now: float) -> float:
        """Seconds until one more admission keeps every window within `count`."""
        if len(self._admitted) < self.count:
            return 0.0
        first, late = self._admitted[0], self._late[0]
        if late is not None:
            return max(0.0, first + late + self.seconds - now)
        # Unanswered: it may be on its way still. Wait for its answer (or MAX_LATE), unless
        # round trips are this long anyway (a slow API: then it counts as on time).
        if now - first - self._floor < MAX_LATE:
            return min(RECHECK_SECONDS, first + MAX_LATE + self.seconds - now)
        answered = [late for late in self._late if late is not None]
        return max(0.0, first + max(answered, default=0.0) + self.seconds - now)

    def admit(self, now: float) -> None:
        self._admitted.append(now)
        self._late.append(None)

    def answered(self, sent_at: float, now: float) -> None:
        """The answer, at `now`, to the request let go at `sent_at` (its admission, or just
        after it)."""
        at = bisect.bisect_right(self._admitted, sent_at) - 1
        while at >= 0 and self._late[at] is not None:
            at -= 1  # another answered already: the latest one before it still out
        if at < 0:
            return  # admitted a window ago or more: it no longer counts
        trip = now - self._admitted[at]
        self._answers += 1
        self._quickest = min(self._quickest, trip)
        self._late[at] = min(MAX_LATE, trip - self._floor)
