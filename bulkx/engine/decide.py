"""What the executor does after an operation's attempt went wrong: one pure table.

`decide(error, context)` looks only at the error and at facts the executor gathered (which
phase of the attempt failed, how many tries so far, whether the API looks down); it sends
nothing, sleeps nowhere and records nothing, so every row is tested on its own
(tests/engine/test_decide.py). The executor carries the `Decision` out.

The rows, first match wins:

| error                        | when                              | decision            |
|------------------------------|-----------------------------------|---------------------|
| UnresolvedReference          | any phase                         | fail                |
| RateLimited                  | the request was sent              | retry throttled     |
| OutcomeUnknown               | sent, the kind can be looked up   | reconcile           |
| OutcomeUnknown               | sent, the kind cannot             | fail (maybe sent)   |
| NotFound                     | sent, a release                   | succeed             |
| Conflict                     | sent, a rent by criteria          | retry at once       |
| TransientError               | the API counts as down            | stop (outage)       |
| TransientError               | not a lookup, attempts used up,   | fail                |
|                              | the API not suspected down        |                     |
| RateLimited                  | building the request, or a lookup | retry throttled     |
| TransientError               | otherwise                         | retry after backoff |
| AuthError                    | any phase                         | stop (credentials)  |
| TerminalError, ApiError, ... | otherwise                         | fail                |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bulkx.engine.requests import UnresolvedReference
from bulkx.errors import (
    AuthError,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)

#: Why an untraceable send whose answer was lost is not sent again (see `Kind.traceable`).
MAYBE_SENT = (
    "outcome unknown: it may have been sent, and the API keeps nothing to look it up by;"
    " not sent again (at most once). Check whether it arrived; to send it anyway, give it a"
    " new ref"
)


class Phase(Enum):
    """Where in an attempt the error came from."""

    #: Building the request: resolving references, fetching candidate numbers. Nothing sent.
    PREPARE = "prepare"
    #: The request itself: it went out (its start is in the ledger).
    SEND = "send"
    #: Looking up whether a send whose answer was lost happened.
    LOOKUP = "lookup"


class Verdict(Enum):
    #: What the plan wants holds already (a release whose object is gone).
    SUCCEED = "succeed"
    FAIL = "fail"
    #: Send again after the backoff.
    RETRY_AFTER_BACKOFF = "retry_after_backoff"
    #: A 429: the limiter pauses for Retry-After and slows the run; no wait of its own.
    RETRY_THROTTLED = "retry_throttled"
    #: Nothing to wait for: the next attempt is a different request (another number).
    RETRY_AT_ONCE = "retry_at_once"
    #: Look the object up before anything is sent again.
    RECONCILE = "reconcile"
    #: The credentials were refused: stop the run, resumable.
    STOP_AUTH = "stop_auth"
    #: The API is down: stop the run, resumable, and leave this operation to the resume.
    STOP_OUTAGE = "stop_outage"


@dataclass(frozen=True)
class Context:
    """The facts about one failed attempt that the decision depends on."""

    phase: Phase
    #: The operation's action (`Operation.action`): "rent", "create", "update", "release".
    action: str
    #: A release (the plan wants the object absent).
    releasing: bool
    #: The API keeps something to look this kind's objects up by (`Kind.traceable`).
    traceable: bool
    #: Tries of this operation so far, this one included.
    attempts: int
    max_attempts: int
    #: Counting this error opened the outage breaker (or the run is stopping already).
    api_down: bool = False
    #: Nothing but errors lately (`OutageBreaker.suspect`): while the whole API fails, an
    #: operation's own attempts do not run out; it waits for the API or for the breaker.
    api_suspect: bool = False


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    #: The error as the ledger should record it, when not the exception's own text.
    reason: str | None = None
    #: For RETRY_THROTTLED: the server's Retry-After, seconds.
    retry_after: float | None = None


def counts_toward_outage(error: Exception, phase: Phase) -> bool:
    """Whether the outage breaker counts `error`: every transient error, except a 429 to a
    send (the server pacing this run, which the limiter answers, not an API failing)."""
    if not isinstance(error, TransientError):
        return False
    return not (phase is Phase.SEND and isinstance(error, RateLimited))


def decide(error: Exception, context: Context) -> Decision:
    """What to do after `error`, in `context` (the table in this module's docstring)."""
    if isinstance(error, UnresolvedReference):
        return Decision(Verdict.FAIL)
    if context.phase is Phase.SEND:
        after_send = _after_a_send(error, context)
        if after_send is not None:
            return after_send
    if isinstance(error, TransientError):
        return _transient(error, context)
    if isinstance(error, AuthError):
        return Decision(Verdict.STOP_AUTH)
    return Decision(Verdict.FAIL)


def _after_a_send(error: Exception, context: Context) -> Decision | None:
    """The rows only a request that went out can hit; None when none applies."""
    if isinstance(error, RateLimited):
        return Decision(Verdict.RETRY_THROTTLED, retry_after=error.retry_after)
    if isinstance(error, OutcomeUnknown):
        # The breaker has counted it, but even an outage does not stop the lookup: it is what
        # keeps the resume from sending it twice.
        if context.traceable:
            return Decision(Verdict.RECONCILE)
        return Decision(Verdict.FAIL, reason=f"{MAYBE_SENT} ({error})")
    if isinstance(error, NotFound) and context.releasing:
        # Gone already: an earlier attempt's answer was lost, or someone else deleted it.
        # Either way what the plan wants (absent) holds.
        return Decision(Verdict.SUCCEED)
    if isinstance(error, Conflict) and context.action == "rent":
        # Someone took the number between the listing and the rent: take the next one.
        return Decision(Verdict.RETRY_AT_ONCE, reason=f"{error}; trying another number")
    return None


def _transient(error: TransientError, context: Context) -> Decision:
    if context.api_down:
        return Decision(Verdict.STOP_OUTAGE)
    # A lookup has no attempts to run out of: until it gets an answer, resending is unsafe.
    used_up = context.phase is not Phase.LOOKUP and context.attempts >= context.max_attempts
    if used_up and not context.api_suspect:
        return Decision(Verdict.FAIL)
    if isinstance(error, RateLimited):
        return Decision(Verdict.RETRY_THROTTLED, retry_after=error.retry_after)
    return Decision(Verdict.RETRY_AFTER_BACKOFF)
