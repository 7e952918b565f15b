"""Client-side pacing: a token bucket whose rate is learned from 429s, honouring Retry-After.

A halve-on-429 sawtooth averages ~75% of a server's limit and keeps drawing 429s, and every
429 costs a whole Retry-After pause (at least a second) of sending nothing. So the limiter
learns the limit from a few 429s and then stays just under it.

**What a 429 says.** Each 429 ends a *spell*: sending from a full server bucket (after a
pause) until the bucket ran dry. A token bucket of limit R and burst B, full when the spell
began, is short of tokens at its end by its backlog: the most, over any earlier moment s, that
the requests admitted since s exceed R * (end - s) (Lindley's recursion). That backlog is the
burst. A lull in sending (a stalled client) refills the server's bucket, and the backlog
counts that as it happened. So for each candidate rate every spell implies a burst, and at the
server's limit they all imply the same one; spells that drained for different lengths of time
disagree at every other rate. Where they agree, within TOLERANCE tokens, is the limit. Times
are when requests were sent, not when their answers were handled: a busy client handles
answers late, and unevenly.

**How it learns.**
1. Unpaced until the first 429 (or paced at a given ceiling). One spell cannot tell the limit
   from the burst, so the first guess assumes a burst of ASSUMED_BURST_SECONDS.
2. A *learning spell*: the pace ramps up from just under the guess for LEARNING_SECONDS, then
   runs unpaced until the 429 comes. If the guess was close, the ramp crosses the limit and
   drains the server's bucket slowly, a long drain that the first spell's was not, so the two
   agree at one rate only.
3. Settle just under that rate. If the learning spell said too little, another one starts
   from a better guess while there is time (LEARN_BY); after that the pace settles under the
   guess, and is probed upward later. Past LEARN_BY another spell starts only if the guess
   is in doubt: the spells agree elsewhere, or the ramp never reached the limit. Spells that
   agree nowhere (a noisy first one) give the rate where they come closest, and a guess
   inside a loose agreement (`Agreement.close`) stands: each further spell's Retry-After
   pause is a second of sending nothing.
4. A 429 while settled ends a long spell: the agreement with it is narrow, and the pace is set
   from it again.

**What it keeps.** A limit learned for a target is remembered for the next run against it
(`on_learned`, `bulkx.journal.limits`), which begins settled under it (`start_from`) and goes on
learning from there. A ceiling (`--rate R`) holds in every second of arrivals at the server,
catch-up after a stall included (`bulkx.engine.ceiling`).

`bench/` measures it against the sandbox's limiter (rows 1 and 12); tests drive it on a fake
clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from bulkx.engine.ceiling import SlidingCap

#: Pace at this share of a limit the spells agree on.
FITTED_HEADROOM = 0.98
#: Pace at this share of a guess.
HEADROOM = 0.97
#: Spells agree at a rate when the bursts they imply differ by at most this many tokens, plus
#: this share of the rate (the jitter of send times, in requests).
TOLERANCE = 2.0
TOLERANCE_SHARE = 0.004
#: Agreement this narrow (share of the rate, plus twice TOLERANCE in requests/s) fixes the pace.
NARROW_SHARE = 0.04
#: Agreement this many times as wide confirms a guess inside it (`Agreement.close`).
CLOSE_TIMES_NARROW = 3
#: One spell cannot tell the limit from the burst: the first guess assumes a burst of this many
#: seconds of the limit (the benchmark's sandbox; a learning spell corrects a wrong guess).
ASSUMED_BURST_SECONDS = 0.1
#: A learning spell ramps up from this share of the guess, by this share of it per second, for
#: this long, then sends unpaced until the 429.
RAMP_START = 0.94
RAMP_SLOPE = 0.15
LEARNING_SECONDS = 1.2
#: At most this many learning spells; another one starts only if it ends (with its pause)
#: within LEARN_BY seconds of the first request, or the guess is in doubt (`_learn`).
LEARNING_SPELLS = 4
LEARN_BY = 5.0
#: A server that refused nothing in this many seconds of sending is not holding the client to
#: a pace it reaches: the client may send faster (`may_hurry`) while LEARN_BY runs out.
#: At R = 500 with a 0.1 s burst, the first 429 comes 0.15-0.2 s after the first request.
QUIET_SECONDS = 1.0
#: A learning spell whose ramp drained less than this share of the burst before its unpaced
#: end looks like the first spell: where the two agree then says little.
RAMPED_SHARE = 0.25
#: A pace settled on a guess, or on one of several rates the spells agree at, is probed upward
#: after PROBE_AFTER seconds, then every PROBE_EVERY, by PROBE_STEP doubling to PROBE_MAX.
PROBE_AFTER = 15.0
#: A limit remembered from an earlier run was fitted to its spells: it is probed upward only
#: after this long (the account's limit may have risen). Measured at R = 500 (10,000 ops),
#: probing after PROBE_AFTER crossed the limit at 19 s, and its second of Retry-After pause
#: cost the run 0.93 R instead of 0.98.
REMEMBERED_PROBE_AFTER = 60.0
#: A limit remembered as a guess (the spells did not agree narrowly) still came from an
#: earlier run's 429s: probed after this long, not PROBE_AFTER. Measured at R = 500: a
#: remembered guess paced at 486/s, was probed past the limit at 18 s, and the 429's pause
#: cost the run 0.92-0.93 R.
REMEMBERED_GUESS_PROBE_AFTER = 30.0
PROBE_EVERY = 3.0
PROBE_STEP = 0.02
PROBE_MAX = 0.16
#: Spells kept for the agreement; sends kept per spell.
SPELLS_KEPT = 6
SENDS_KEPT = 50_000
#: Pacing may catch up on this much time lost to stalls (a busy loop): at 500/s, 25 requests.
#: Never after a Retry-After pause (that time is the server's). Measured: 0.02 s of catch-up
#: got 476/s through at --rate 490 (with the journal's fsyncs on the event loop), 0.1 s got
#: 490/s but, with the concurrency window's requests queued behind a stalled server, could
#: exceed a burst of 50 (late 429s at a pace under the limit); 0.05 s did neither.
CATCH_UP_SECONDS = 0.05
#: With the server's burst known (learned, or remembered), up to this share of it: a stall of
#: a loaded client is caught up on, and the server's bucket keeps the rest for late requests.
CATCH_UP_BURST_SHARE = 0.4


class Spell:
    """Requests admitted from a full server bucket until the 429 that ended it, by send time."""

    def __init__(self, sent: list[float], end: float, unpaced_from: float | None = None) -> None:
        self.seconds = end - sent[0]
        self.count = len(sent)
        self._hull = _backlog_hull(sent, end)
        #: The part before an unpaced end (a learning spell's ramp), if there was one.
        self._ramp_hull = (
            _backlog_hull([t for t in sent if t < unpaced_from], unpaced_from)
            if unpaced_from is not None and unpaced_from > sent[0]
            else None
        )
        #: The rate of its unpaced part: the server's limit is under it.
        self.unpaced_rate: float | None = None
        if unpaced_from is not None:
            tail = sum(1 for t in sent if t >= unpaced_from)
            if tail >= 5 and end > unpaced_from:
                self.unpaced_rate = tail / (end - unpaced_from)

    @property
    def rate(self) -> float:
        return self.count / max(self.seconds, 0.05)

    def backlog(self, limit: float) -> float:
        """What a server admitting `limit`/s owed at the spell's end: its burst."""
        return max(admitted - limit * seconds for seconds, admitted in self._hull)

    def ramped_share(self, limit: float) -> float:
        """The share of that burst the ramp drained before the unpaced end (1: no ramp)."""
        if self._ramp_hull is None:
            return 1.0
        burst = self.backlog(limit)
        ramped = max(admitted - limit * seconds for seconds, admitted in self._ramp_hull)
        return ramped / burst if burst > 0 else 0.0


def _wire_times(
    admitted: list[tuple[float, float]], refused: tuple[float, float]
) -> tuple[list[float], float]:
    """When the admitted requests and the refused one of a run's first spell reached the wire,
    sorted, from (let go, answered) pairs. The first requests wait for connections after they
    are let go: each went no earlier than its answer less the spell's quick round trip (its
    tenth percentile). Measured on the sandbox at 500/s: the burst implied by a first spell
    was 45 of 50 from the times requests were let go, 49.4 from these."""
    if not admitted:
        return [], refused[0]
    trips = sorted(answered - sent for sent, answered in admitted)
    quick = trips[len(trips) // 10]
    times = sorted(max(sent, answered - quick) for sent, answered in admitted)
    return times, max(refused[0], refused[1] - quick, times[-1])


def _backlog_hull(sent: list[float], end: float) -> list[tuple[float, int]]:
    """(seconds before `end`, requests sent since) for each send, reduced to the upper convex
    hull: the backlog at any rate is the maximum over these points, which lies on the hull."""
    points = [(end - at, len(sent) - k) for k, at in enumerate(sent)]
    points.reverse()
    hull: list[tuple[float, int]] = [(0.0, 0)]
    for point in points:
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    return hull


def _turn(o: tuple[float, int], a: tuple[float, int], b: tuple[float, int]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


class Agreement(NamedTuple):
    """A range of rates at which the spells imply the same burst, and the rate they agree on
    best."""

    best: float
    low: float
    high: float

    @property
    def narrow(self) -> bool:
        return self.high - self.low <= NARROW_SHARE * self.best + 2 * TOLERANCE

    @property
    def close(self) -> bool:
        """Not narrow enough to fix the pace, but enough to confirm a guess inside it."""
        return self.high - self.low <= CLOSE_TIMES_NARROW * (
            NARROW_SHARE * self.best + 2 * TOLERANCE
        )


def agreements(spells: list[Spell], low: float, high: float) -> tuple[list[Agreement], float]:
    """Where, between `low` and `high` requests/s, the spells agree on the burst; and the rate
    at which they come closest to agreeing (their agreement at all, if they do not)."""
    if len(spells) < 2 or not 0 < low < high:
        return [], 0.0
    steps = _steps(low, high, 1.002)
    coarse = [low * (high / low) ** (i / steps) for i in range(steps + 1)]
    found, closest = _agreeing(spells, coarse)
    if not found:
        # A long drain makes the range of agreement narrower than a step: look closer.
        fine = [closest * (0.996 + 0.00004 * i) for i in range(201)]
        found, closest = _agreeing(spells, fine)
    return found, closest


def _steps(low: float, high: float, ratio: float) -> int:
    return max(2, math.ceil(math.log(high / low) / math.log(ratio)))


def _agreeing(spells: list[Spell], rates: list[float]) -> tuple[list[Agreement], float]:
    found: list[Agreement] = []
    current: Agreement | None = None
    tightest = closest = math.inf
    closest_rate = rates[0]
    for rate in rates:
        bursts = [spell.backlog(rate) for spell in spells]
        spread = (max(bursts) - min(bursts)) / (TOLERANCE + TOLERANCE_SHARE * rate)
        if spread < closest:
            closest, closest_rate = spread, rate
        if spread > 1:
            if current is not None:
                found.append(current)
                current = None
        elif current is None:
            current, tightest = Agreement(rate, rate, rate), spread
        elif spread < tightest:
            current, tightest = Agreement(rate, current.low, rate), spread
        else:
            current = current._replace(high=rate)
    if current is not None:
        found.append(current)
    return found, closest_rate


class AdaptiveLimiter:
    def __init__(
        self,
        ceiling: float | None = None,
        *,
        burst: int = 1,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        cap: SlidingCap | None = None,
    ) -> None:
        """`ceiling`: requests/s never exceeded in any second (None: unlimited until the server
        objects). `cap`: that second's count, shared with other limiters of the same target."""
        if ceiling is not None and not ceiling > 0:
            raise ValueError(f"a requests/s ceiling must be above 0, not {ceiling}")
        self.ceiling = ceiling
        self.rate: float | None = ceiling
        self._cap = (cap or SlidingCap(ceiling)) if ceiling else None
        #: The limit the pace is set from (None until the first 429).
        self.estimate: float | None = None
        self.burst = max(1, burst)
        self.min_rate = min_rate
        #: The server's burst at `estimate`, as the spells imply it (None: not learned).
        self.estimated_burst: float | None = None
        #: Called with (limit, burst, fitted) whenever a 429 taught a limit: it is remembered
        #: for the next run against the same target (`bulkx.journal.limits`), even if this one
        #: is killed. `fitted`: the spells agreed on it narrowly (else it is a guess).
        self.on_learned: Callable[[float, float | None, bool], None] | None = None
        self.throttled = 0
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._first: float | None = None
        self._paused_until = -math.inf
        # The current spell: sends admitted since `_spell_from` (the end of the last pause),
        # and the earliest refused send once a 429 has ended it.
        self._spell_from = -math.inf
        self._sent: deque[tuple[float, float]] = deque(maxlen=SENDS_KEPT)
        self._refused: tuple[float, float] | None = None
        self._spells: deque[Spell] = deque(maxlen=SPELLS_KEPT)
        self._first_spell_seconds: float | None = None
        self._guess: float | None = None
        # A learning spell: ramping from `_ramp_from` (set when it starts sending), then
        # unpaced from `_unpaced_at`.
        self._ramp_pace: float | None = None
        self._ramp_from: float | None = None
        self._unpaced_at: float | None = None
        self._unpaced_after: float | None = None
        self._learning_spells = 0
        self._settled = False
        self._probe_at = math.inf
        self._probes = 0

    def start_from(self, limit: float, burst: float | None = None, *, fitted: bool = False) -> None:
        """Begin settled just under a limit an earlier run learned for this target, instead of
        unpaced: no 429s to learn it again. Probed upward later (a guess after
        REMEMBERED_GUESS_PROBE_AFTER, a `fitted` limit after REMEMBERED_PROBE_AFTER), and a 429
        corrects it as it corrects any settled pace (the account's limit may have changed)."""
        self._first_spell_seconds = 0.0  # the next 429 ends a settled spell, not a first one
        self._guess = limit
        now = self._clock()
        self._settle(limit, limit * FITTED_HEADROOM, now, probe=True, learned=False)
        self._probe_at = now + (REMEMBERED_PROBE_AFTER if fitted else REMEMBERED_GUESS_PROBE_AFTER)
        self.estimated_burst = burst

    @property
    def learning(self) -> bool:
        """Whether the server's limit is being learned: no ceiling, not settled, and either a
        429 came or the first request went less than LEARN_BY ago (a server that refused
        nothing by then is taken as unlimited until it does). A stall of the client's own
        loop now blurs the spells' send times, and a busy client's spells look like a low
        limit (measured: a plan prepared beside its first spell settled at 0.58-0.73 of the
        limit), so work that can wait should (`bulkx.engine.pipeline`)."""
        if self._settled or self.ceiling is not None:
            return False
        return self.throttled > 0 or self._first is None or self._clock() - self._first < LEARN_BY

    @property
    def may_hurry(self) -> bool:
        """Whether the client may send faster than its workers' turns allow (take work ahead,
        `bulkx.engine.lookahead`): not while 429s teach the limit, since sends timed apart
        from their turns blur the spells it is read from. A server that refused nothing in
        the first QUIET_SECONDS is not teaching one: a 429 after that stops it again until
        the pace settles."""
        if not self.learning:
            return True
        first = self._first
        return self.throttled == 0 and first is not None and self._clock() - first >= QUIET_SECONDS

    @property
    def _known_burst(self) -> float:
        """Catch-up the server's own burst allows (0: not known)."""
        return CATCH_UP_BURST_SHARE * (self.estimated_burst or 0.0)

    async def acquire(self) -> float:
        """Wait for a pause to end and for a token; then the caller may send one request.
        Returns the time it may go (pass it to `on_success` / `on_throttled`)."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                if self._refused is not None:
                    self._learn(now)
                self._pace_for(now)
                if self._cap is not None and (held := self._cap.wait(now)) > 0:
                    await self._sleep(held)
                    continue
                if self.rate is None:
                    break
                # A Retry-After pause is the server's, not time to catch up on.
                self._stamp = max(self._stamp, self._paused_until)
                # A bucket of one token loses every sleep's overshoot for good; a few
                # milliseconds' worth lets pacing catch up without bursting at the server.
                burst = max(self.burst, self.rate * CATCH_UP_SECONDS, self._known_burst)
                self._tokens = min(burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens > 1.0 - 1e-9:  # not a sleep too short to move the clock
                    self._tokens -= 1.0
                    break
                await self._sleep((1.0 - self._tokens) / self.rate)
            now = self._clock()
            if self._cap is not None:
                self._cap.admit(now)
            if self._first is None:
                self._first = now
            return now

    async def wait_out_pause(self) -> float:
        """Sleep until a Retry-After pause that began after `acquire` returned is over; the
        time the request may go."""
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)
        return self._clock()

    def on_success(self, sent_at: float | None = None) -> None:
        """An answer that was not a 429 to a request let go at `sent_at` (default: now)."""
        now = self._clock()
        sent = now if sent_at is None else sent_at
        if self._cap is not None:
            self._cap.answered(sent, now)
        if sent < self._spell_from or (self._refused is not None and sent > self._refused[0]):
            return  # sent before the last pause, or after the 429 that ends this spell
        self._sent.append((sent, now))

    def on_throttled(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """A 429 to a request let go at `sent_at` (default: now): pause for Retry-After. The
        spell it ends is learned from when the pause is over (by then the answers to what was
        in flight are in)."""
        self.throttled += 1
        now = self._clock()
        self._paused_until = max(self._paused_until, now + (retry_after or 0.0))
        sent = now if sent_at is None else sent_at
        if self._cap is not None:
            self._cap.answered(sent, now)
        if sent >= self._spell_from and (self._refused is None or sent < self._refused[0]):
            self._refused = (sent, now)

    def _pace_for(self, now: float) -> None:
        if self._ramp_pace is not None and self._unpaced_at is None:
            if self._ramp_from is None:
                self._ramp_from = now
            ramped = now - self._ramp_from
            if ramped < LEARNING_SECONDS:
                self._set_rate(self._ramp_pace * (1 + RAMP_SLOPE * ramped), reset=False)
            else:
                self._unpaced_at, self._unpaced_after = now, self.rate
                self.rate = self.ceiling
        elif self.rate is not None and now >= self._probe_at:
            step = min(PROBE_MAX, PROBE_STEP * 2**self._probes)
            self._set_rate(self.rate * (1 + step), reset=False)
            self._probes += 1
            self._probe_at = now + PROBE_EVERY

    def _learn(self, now: float) -> None:
        """The pause after a 429 is over: learn from the spell it ended, and set the pace."""
        refused, self._refused = self._refused, None
        assert refused is not None
        first = self._first_spell_seconds is None
        ramp_pace, unpaced_at, unpaced_after = (
            self._ramp_pace,
            self._unpaced_at,
            self._unpaced_after,
        )
        sent, end = self._end_spell(refused, first)
        if not sent:
            # Nothing got through since the last pause: a 429 that says nothing about a rate
            # (a storm, a server catching its breath). Keep the pace; learn again.
            if ramp_pace is not None:
                self._start_learning(ramp_pace, now)
            return
        spell = Spell(sent, end, sent[0] if first and self.rate is None else unpaced_at)
        self._spells.append(spell)
        spells = list(self._spells)
        top = max(s.rate for s in spells) * 1.05
        found, closest = agreements(
            spells, top / 30, min([top, *(s.unpaced_rate or top for s in spells)])
        )
        guess = self._first_guess(spell, first, ramp_pace, unpaced_at, unpaced_after)
        # Refused while paced (not unpaced at its end): the limit is under that pace.
        under = self.rate if unpaced_at is None and self.rate is not None else math.inf
        credible = [
            a
            for a in found
            if a.low > a.high / 2 and a.best < under and spell.ramped_share(a.best) >= RAMPED_SHARE
        ]
        near = min(credible, key=lambda a: abs(math.log(a.best / guess)), default=None)
        if near is not None and near.narrow:
            self._settle(near.best, near.best * FITTED_HEADROOM, now, probe=False)
            return
        # Whether the guess is in doubt (then another spell is worth a pause after LEARN_BY):
        # the spells do not agree at it, unless they agree nowhere, or at it too loosely.
        doubtful = near is None or not near.low <= guess <= near.high
        if near is not None and doubtful:
            guess = near.best
        elif not found and closest:
            # The spells disagree everywhere (noise): where they come closest. In the model
            # (bench.limiter_sim) that was the limit within 2% where a noisy first spell
            # spoiled the agreement, and a further spell cost its pause after 5 s.
            guess, doubtful = closest, False
        elif near is None and unpaced_after is not None:
            # The ramp drained too little of the burst to fix the limit: unless the spells
            # agree closely at the guess all the same, the ramp never reached the limit.
            if any(a.close and a.low <= guess <= a.high and a.best < under for a in found):
                doubtful = False
            else:
                guess = max(guess, unpaced_after / RAMP_START)
        self._guess = min(guess, under * HEADROOM)
        self._next_pace(spell, sent[0], first, doubtful, now)

    def _end_spell(self, refused: tuple[float, float], first: bool) -> tuple[list[float], float]:
        """The send times of the spell a 429 ended, and when it ended; starts the next."""
        admitted = [pair for pair in self._sent if pair[0] <= refused[0]]
        if first:
            sent, end = _wire_times(admitted, refused)
        else:
            sent, end = sorted(at for at, _ in admitted), refused[0]
        self._sent.clear()
        self._spell_from = self._paused_until
        self._ramp_pace = self._ramp_from = self._unpaced_at = self._unpaced_after = None
        return sent, end

    def _first_guess(
        self,
        spell: Spell,
        first: bool,
        ramp_pace: float | None,
        unpaced_at: float | None,
        unpaced_after: float | None,
    ) -> float:
        """The limit as guessed before the spells' agreements are read."""
        if first:
            self._first_spell_seconds = spell.seconds
            # One spell cannot tell the limit from the burst: assume the burst.
            if spell.count >= 20 and spell.seconds >= 0.01:
                return spell.count / (spell.seconds + ASSUMED_BURST_SECONDS)
            return spell.rate / 2  # a few requests: the client's own burst, not a rate
        guess = self._guess or spell.rate
        paced = unpaced_after or self.rate
        if ramp_pace is not None and unpaced_at is None:
            guess = min(guess, ramp_pace * 0.9)  # refused while ramping: it began over
        elif ramp_pace is None and paced is not None:
            guess = min(guess, paced * HEADROOM)  # refused while settled
        return guess

    def _next_pace(
        self, spell: Spell, first_sent: float, first: bool, doubtful: bool, now: float
    ) -> None:
        """Learn once more from the guess (while there is time and spells left), or settle."""
        guess = self._guess or spell.rate
        started = self._first if self._first is not None else first_sent
        first_seconds = self._first_spell_seconds or spell.seconds
        done_by = self._paused_until - started + LEARNING_SECONDS + first_seconds + 1.0
        if (
            not self._settled
            and self._learning_spells < LEARNING_SPELLS
            and (done_by <= LEARN_BY or (doubtful and not first))
        ):
            self._start_learning(guess * RAMP_START, now)
        else:
            self._settle(guess, guess * HEADROOM, now, probe=True)

    def _start_learning(self, pace: float, now: float) -> None:
        self._learning_spells += 1
        self._ramp_pace = pace
        self._set_rate(pace)

    def _settle(
        self, limit: float, pace: float, now: float, *, probe: bool, learned: bool = True
    ) -> None:
        self.estimate = limit
        self._settled = True
        self._probes = 0
        self._probe_at = max(now, self._paused_until) + PROBE_AFTER if probe else math.inf
        self._set_rate(pace)
        if learned:
            # The least burst any spell implies at the limit: catching up within a share of it
            # leaves the server's bucket room.
            bursts = [spell.backlog(limit) for spell in self._spells]
            self.estimated_burst = max(0.0, min(bursts)) if bursts else None
            if self.on_learned is not None:
                self.on_learned(limit, self.estimated_burst, not probe)

    def _set_rate(self, rate: float, *, reset: bool = True) -> None:
        rate = max(self.min_rate, rate)
        self.rate = min(rate, self.ceiling) if self.ceiling else rate
        if reset:
            self._tokens = 0.0
            self._stamp = self._clock()


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
