"""Client-side pacing: a token bucket whose rate is learned from 429s, honouring Retry-After.

A halve-on-429 sawtooth averages ~75% of a server's limit and keeps drawing 429s, and every
429 costs a whole Retry-After pause (at least a second) of sending nothing. So the limiter
learns the limit in a few 429s and then stays just under it:

* Each 429 ends a *spell* of sending that began with the server's bucket full (after a pause).
  A token-bucket server admits `burst + limit * seconds` in a spell, so two spells of
  different lengths give the limit without knowing the burst: a least-squares fit.
* After the first 429 the pace is under what got through (COLD_HEADROOM), so that the next
  spell is clearly longer than the first, and the two fit; or the pace is under the
  limit, and then, once it has held 3 s, it is raised 10% at a time. Each raise starts a
  spell (the server's bucket is full), so the raise that is refused gives a fit too; without
  one the pace goes back to the last that held.
* Until spells differ enough to fit, the pace steps down: a little after a long spell (the
  pace was nearly right), more after a short one (far too fast), which also makes the next
  spell longer and the fit possible. A stepped pace is probed upward once, by 1%.
* A fitted pace is never probed above: that would only find the limit again, and a pace
  just over the limit drains the server's burst slowly, into a 429 long after the fit.
* One 429 episode changes the rate once (the other 429s of the same burst only extend the
  pause); a storm that admits nothing says nothing about a rate and keeps the pace.

`bench/` measures it against the sandbox's limiter (row 1); tests drive it on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

#: Pace at this share of an estimated server limit.
HEADROOM = 0.97
#: Pace at this share of a limit fitted from spells (see the module doc).
FITTED_HEADROOM = 0.985
#: After the first 429, pace at this share of what got through before it: over the limit
#: unless the client is barely faster than it, so the next spell ends soon, longer than the
#: first, and the two fit. Measured at R = 500 (clients at 700-850/s): 0.7 left the pace just
#: under the limit, to be found by the cold probe only after 5 s, in 5 of 13 runs; 0.85 gave
#: >= 0.95 R in 18 of 25 runs.
COLD_HEADROOM = 0.85
#: Spells kept for the fit, and how much their lengths must differ (seconds, and share of the
#: longest) before the fit is used at all.
SPELLS_KEPT = 4
SPELL_SPREAD_SECONDS = 0.25
SPELL_SPREAD_SHARE = 0.25
#: A first spell shorter than this is too few answers to count on.
FIRST_SPELL_MIN_SECONDS = 0.1
#: After a paced spell ended in a 429 with no fit yet: (spell seconds at least, step).
SPELL_STEPS = ((1.0, HEADROOM), (0.2, 0.85), (0.0, 0.7))
#: A stepped pace is probed this often, by this step, at most this many times (a guess just
#: under the limit must not be pushed over it: measured, two 2% probes did, into late 429s).
GUESS_PROBE_EVERY = 2.0
GUESS_PROBE_STEP = 0.01
GUESS_PROBES = 1
#: The pace set by the first 429 may be under the limit (a client still cold, or one barely
#: faster than the limit). If it goes this long without a 429 it was: probe up by this step
#: each time, to this multiple of the first estimate at most.
COLD_PROBE_EVERY = 3.0
COLD_PROBE_STEP = 0.1
COLD_PROBE_CAP = 2.0
#: Pacing may catch up on this much time lost to stalls (a busy loop): at 500/s, 25 requests.
#: Never after a Retry-After pause (that time is the server's). Measured: 0.02 s of catch-up
#: got 476/s through at --rate 490 (with the journal's fsyncs on the event loop), 0.1 s got
#: 490/s but, with the concurrency window's requests queued behind a stalled server, could
#: exceed a burst of 50 (late 429s at a pace under the limit); 0.05 s did neither.
CATCH_UP_SECONDS = 0.05


class AdaptiveLimiter:
    def __init__(
        self,
        ceiling: float | None = None,
        *,
        burst: int = 1,
        probe_every: float = 10.0,
        probe_step: float = 0.01,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`ceiling`: requests/s never exceeded (None: unlimited until the server objects)."""
        self.ceiling = ceiling
        self.rate: float | None = ceiling
        self.estimate: float | None = None
        self.burst = max(1, burst)
        self.probe_every = probe_every
        self.probe_step = probe_step
        self.min_rate = min_rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._first: float | None = None
        self._paused_until = 0.0
        self._episode_until = 0.0
        self._resumed_at = 0.0
        self._last_change = clock()
        self._admitted: deque[float] = deque()
        #: Sending spells, each from its first answer after a pause (a full server bucket) to
        #: the 429 that ended it: (seconds, requests admitted). A token bucket admits burst +
        #: limit * seconds in each, so spells of different lengths give the limit without
        #: knowing the burst.
        self._spells: deque[tuple[float, int]] = deque(maxlen=SPELLS_KEPT)
        self._spell_start: float | None = None
        self._spell_admitted = 0
        #: Quick probes above a guessed pace (see `_probe`).
        self._guess_probes = 0
        self._guess_probes_allowed = 0
        self._probe_cap: float | None = None
        self._cold = False
        #: The last cold pace that held COLD_PROBE_EVERY without a 429, once probed above.
        self._held_rate: float | None = None
        self._lock = asyncio.Lock()
        self.throttled = 0

    async def acquire(self) -> None:
        """Wait for a pause to end and for a token; then the caller may send one request."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                self._probe(now)
                if self.rate is None:
                    break
                # A Retry-After pause is the server's, not time to catch up on.
                self._stamp = max(self._stamp, self._paused_until)
                # A bucket of one token loses every sleep's overshoot for good; a few
                # milliseconds' worth lets pacing catch up without bursting at the server.
                burst = max(self.burst, self.rate * CATCH_UP_SECONDS)
                self._tokens = min(burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens > 1.0 - 1e-9:  # not a sleep too short to move the clock
                    self._tokens -= 1.0
                    break
                await self._sleep((1.0 - self._tokens) / self.rate)
            if self._first is None:
                self._first = self._clock()

    async def wait_out_pause(self) -> None:
        """Sleep until a Retry-After pause that began after `acquire` returned is over."""
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)

    def on_success(self) -> None:
        """An answer that was not a 429: the server admitted the request."""
        now = self._clock()
        if self._first is None:
            self._first = now
        if self._spell_start is None and now >= self._paused_until:
            # A spell is timed from its first answer, as it ends at one: what came before it
            # (a cold start, the journal, waking workers after a pause) admitted nothing.
            self._spell_start = now
        if self._spell_start is not None:
            self._spell_admitted += 1
        self._admitted.append(now)
        while self._admitted and self._admitted[0] < now - 1.0:
            self._admitted.popleft()

    def _probe(self, now: float) -> None:
        """After a quiet spell, a little faster: never above the estimate or the ceiling. A pace
        stepped down on a guess is probed sooner, once: if it was low, that wins back some of
        the difference; if not, the spell the next 429 ends is long, and the fit from it is
        good. A cold pace is probed in bigger steps (see COLD_PROBE_EVERY)."""
        if self.rate is None:
            return
        if self._cold:
            if now - self._last_change >= COLD_PROBE_EVERY and self._probe_cap:
                cap = min(self._probe_cap, self.ceiling or self._probe_cap)
                self._held_rate = self.rate
                self.rate = max(self.rate, min(self.rate * (1 + COLD_PROBE_STEP), cap))
                self._last_change = now
                # The pace held, so it was under the limit and the server's bucket is full: a
                # new spell starts here (what came before it admitted less than the bucket).
                self._spell_start, self._spell_admitted = now, 0
            return
        guessing = self._guess_probes < self._guess_probes_allowed
        if now - self._last_change < (GUESS_PROBE_EVERY if guessing else self.probe_every):
            return
        limit = min(x for x in (self._probe_cap, self.ceiling, float("inf")) if x is not None)
        step = GUESS_PROBE_STEP if guessing else self.probe_step
        self.rate = max(self.rate, min(self.rate * (1 + step), limit))
        self._last_change = now
        self._guess_probes += guessing

    def on_throttled(self, retry_after: float | None) -> None:
        """A 429: pause for Retry-After; the first of an episode sets the rate."""
        self.throttled += 1
        now = self._clock()
        pause_end = now + (retry_after or 0.0)
        self._paused_until = max(self._paused_until, pause_end)
        if now < self._episode_until:
            return
        # Count only time spent sending: a Retry-After pause admits nothing and would make the
        # server's limit look lower than it is.
        since = max(self._first or now, self._resumed_at)
        window = min(1.0, max(0.05, now - since))
        admitted = sum(1 for t in self._admitted if t >= now - window) / window
        self._episode_until = max(pause_end, now + 0.5)
        self._resumed_at = self._paused_until
        if admitted <= 0:
            # Nothing got through since the last pause: a 429 that says nothing about a rate
            # (a storm, a server catching its breath). Wait it out; keep the pace.
            return
        spell = self._close_spell(now)
        fit = self._fit()
        paced = self.rate
        held, self._held_rate = self._held_rate, None
        if self._cold and held is not None and paced is not None and fit is None:
            # A cold pace held and a step above it did not: the limit lies between the two.
            # Go back to the pace that held; creep up from it only slowly (each 429 costs a
            # whole pause, and the step up is at most COLD_PROBE_STEP away).
            self._cold = False
            self.estimate = self.rate = held
            self._probe_cap = max(held, paced * HEADROOM)
            self._guess_probes = self._guess_probes_allowed = 0
            self._tokens, self._stamp, self._last_change = 0.0, now, self._paused_until
            return
        headroom = HEADROOM
        self._guess_probes = 0
        self._guess_probes_allowed = 0
        self._cold = paced is None
        if paced is None:
            # The first 429 of a run that was not paced: what got through is the first guess,
            # an upper bound when the client was warm. Pace under it, so that the next
            # spell is clearly longer than this one (a fit needs spells of different lengths)
            # or the pace is under the limit (and the cold probe finds it).
            # What got through in the spell itself is the better measure: the last second
            # also holds the wait for the first answer.
            estimate = pace = max(admitted, spell[1] / spell[0] if spell else 0.0)
            headroom = COLD_HEADROOM
        else:
            # Paced at `paced` and still refused: the limit is below it, whatever the server's
            # refilled burst let through right after the last pause. A short spell means far
            # too fast: step down further, which also makes the next spell longer, so that a
            # fit can tell the limit from the burst.
            estimate = min(admitted, paced * HEADROOM)
            pace = min(estimate, paced * _step_for(spell[0] if spell else 0.0))
            self._guess_probes_allowed = GUESS_PROBES
            if fit is not None:  # measured, not guessed: pace closer to it
                estimate = pace = min(fit, paced)
                headroom = FITTED_HEADROOM
                # Measured, even when weakly: probing above a fit only finds the limit again.
                self._guess_probes_allowed = 0
        self.estimate = estimate
        rate = max(self.min_rate, pace * headroom)
        # A fitted pace is where to stay: probing above it would only find the limit again.
        self._probe_cap = rate if self._guess_probes_allowed == 0 and paced else estimate
        if self._cold:
            self._probe_cap = estimate * COLD_PROBE_CAP
        self.rate = min(rate, self.ceiling) if self.ceiling else rate
        self._tokens = 0.0
        self._stamp = now
        # Probes count time spent sending, not the pause.
        self._last_change = self._paused_until if self._cold else now

    def _close_spell(self, now: float) -> tuple[float, int] | None:
        """Close the sending spell a 429 ended and keep it (seconds, answers admitted); None
        for a first spell too short to count on."""
        start = self._spell_start
        self._spell_start = None
        admitted, self._spell_admitted = self._spell_admitted, 0
        if start is None or now <= start:
            return None
        spell = (now - start, admitted)
        if self.rate is None and spell[0] < FIRST_SPELL_MIN_SECONDS:
            return None
        self._spells.append(spell)
        return spell

    def _fit(self) -> float | None:
        """The limit the spells imply; None while they are too alike in length to tell the
        limit from the burst."""
        if len(self._spells) < 2:
            return None
        times = [t for t, _ in self._spells]
        spread = max(times) - min(times)
        if spread < SPELL_SPREAD_SECONDS or spread < SPELL_SPREAD_SHARE * max(times):
            return None
        mean_t = sum(times) / len(times)
        mean_n = sum(n for _, n in self._spells) / len(self._spells)
        slope = sum((t - mean_t) * (n - mean_n) for t, n in self._spells) / sum(
            (t - mean_t) ** 2 for t in times
        )
        burst = mean_n - slope * mean_t
        return slope if slope > 0 and burst >= 0 else None


def _step_for(spell: float) -> float:
    """How far to slow down after a paced spell of `spell` seconds ended in a 429."""
    for at_least, step in SPELL_STEPS:
        if spell >= at_least:
            return step
    return SPELL_STEPS[-1][1]


class KeyedPacer:
    """At most `rate` requests per second for each key (a sending number), keys independent.

    Each caller reserves the key's next free slot before it sleeps, so concurrent callers
    line up one interval apart instead of waking together."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def acquire(self, key: str) -> None:
        now = self._clock()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)
