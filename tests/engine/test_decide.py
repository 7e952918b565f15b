"""The executor's decision table, row by row: what each outcome of an attempt leads to."""

from __future__ import annotations

from dataclasses import replace
from typing import TypedDict

import pytest

from bulkx.engine.decide import (
    MAYBE_SENT,
    Context,
    Decision,
    Phase,
    Verdict,
    counts_toward_outage,
    decide,
)
from bulkx.engine.requests import UnresolvedReference
from bulkx.errors import (
    ApiError,
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TerminalError,
    TransportError,
)

#: A create's first send; each row changes only what it is about.
SEND = Context(
    phase=Phase.SEND,
    action="create",
    releasing=False,
    traceable=True,
    attempts=1,
    max_attempts=6,
)
PREPARE = replace(SEND, phase=Phase.PREPARE)
LOOKUP = replace(SEND, phase=Phase.LOOKUP)


class _Attempts(TypedDict):
    """The attempts field alone, typed so that `replace(ctx, **USED_UP)` type-checks."""

    attempts: int


USED_UP: _Attempts = {"attempts": 6}

BUSY = ServerError("busy", 503)
SLOW_DOWN = RateLimited("slow down", 429, retry_after=3.0)
LOST = OutcomeUnknown("connection reset after the request was sent")
TAKEN = Conflict("already rented", 409)

# fmt: off
ROWS = [
    # (what happened, error, context, decision)
    ("unresolved reference", UnresolvedReference("no trunk_group 'x'"), PREPARE,
     Decision(Verdict.FAIL)),
    ("unresolved reference even with attempts left", UnresolvedReference("x"), SEND,
     Decision(Verdict.FAIL)),
    ("429 to a send", SLOW_DOWN, SEND,
     Decision(Verdict.RETRY_THROTTLED, retry_after=3.0)),
    ("429 to a send without Retry-After", RateLimited("slow down", 429), SEND,
     Decision(Verdict.RETRY_THROTTLED)),
    ("429 to a send never uses up attempts", SLOW_DOWN, replace(SEND, **USED_UP),
     Decision(Verdict.RETRY_THROTTLED, retry_after=3.0)),
    ("429 to a send while the API is down", SLOW_DOWN, replace(SEND, api_down=True),
     Decision(Verdict.RETRY_THROTTLED, retry_after=3.0)),
    ("lost answer, traceable kind", LOST, SEND,
     Decision(Verdict.RECONCILE)),
    ("lost answer during an outage is still looked up", LOST, replace(SEND, api_down=True),
     Decision(Verdict.RECONCILE)),
    ("lost answer, attempts used up, is still looked up", LOST, replace(SEND, **USED_UP),
     Decision(Verdict.RECONCILE)),
    ("lost answer, untraceable send", LOST, replace(SEND, traceable=False),
     Decision(Verdict.FAIL, reason=f"{MAYBE_SENT} ({LOST})")),
    ("404 to a release: gone already", NotFound("no such DID", 404),
     replace(SEND, action="release", releasing=True),
     Decision(Verdict.SUCCEED)),
    ("404 to an update", NotFound("no such DID", 404), replace(SEND, action="update"),
     Decision(Verdict.FAIL)),
    ("409 to a rent: another number", TAKEN, replace(SEND, action="rent"),
     Decision(Verdict.RETRY_AT_ONCE, reason=f"{TAKEN}; trying another number")),
    ("409 to a create", TAKEN, SEND,
     Decision(Verdict.FAIL)),
    ("401 to a send", AuthError("token refused", 401), SEND,
     Decision(Verdict.STOP_AUTH)),
    ("403 to a release", AuthError("forbidden", 403), replace(SEND, releasing=True),
     Decision(Verdict.STOP_AUTH)),
    ("5xx, attempts left", BUSY, SEND,
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("connection refused before sending", TransportError("refused"), SEND,
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("5xx, last attempt", BUSY, replace(SEND, **USED_UP),
     Decision(Verdict.FAIL)),
    ("5xx, attempts used up but the whole API fails", BUSY,
     replace(SEND, attempts=40, api_suspect=True),
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("5xx that opened the breaker", BUSY, replace(SEND, api_down=True),
     Decision(Verdict.STOP_OUTAGE)),
    ("the breaker wins over used-up attempts", BUSY,
     replace(SEND, api_down=True, **USED_UP),
     Decision(Verdict.STOP_OUTAGE)),
    ("422 to a send", InvalidRequest("bad field", 422), SEND,
     Decision(Verdict.FAIL)),
    ("other terminal error", TerminalError("teapot", 418), SEND,
     Decision(Verdict.FAIL)),
    ("an API error of no class", ApiError("odd"), SEND,
     Decision(Verdict.FAIL)),
    ("listing numbers: 5xx", BUSY, PREPARE,
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("listing numbers: 5xx, last attempt", BUSY, replace(PREPARE, **USED_UP),
     Decision(Verdict.FAIL)),
    ("listing numbers: the API is down", BUSY, replace(PREPARE, api_down=True),
     Decision(Verdict.STOP_OUTAGE)),
    ("listing numbers: 429", SLOW_DOWN, PREPARE,
     Decision(Verdict.RETRY_THROTTLED, retry_after=3.0)),
    ("listing numbers: 429 on the last attempt", SLOW_DOWN, replace(PREPARE, **USED_UP),
     Decision(Verdict.FAIL)),
    ("listing numbers: a lost answer is only transient", LOST, PREPARE,
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("lookup: 5xx never runs out of attempts", BUSY, replace(LOOKUP, attempts=99),
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
    ("lookup: 429", SLOW_DOWN, LOOKUP,
     Decision(Verdict.RETRY_THROTTLED, retry_after=3.0)),
    ("lookup: the API is down", BUSY, replace(LOOKUP, api_down=True),
     Decision(Verdict.STOP_OUTAGE)),
    ("lookup: a lost answer is only transient", LOST, LOOKUP,
     Decision(Verdict.RETRY_AFTER_BACKOFF)),
]
# fmt: on


@pytest.mark.parametrize(
    ("error", "context", "expected"),
    [pytest.param(error, context, expected, id=name) for name, error, context, expected in ROWS],
)
def test_decide(error: Exception, context: Context, expected: Decision) -> None:
    assert decide(error, context) == expected


def test_every_verdict_has_a_row() -> None:
    assert {row[3].verdict for row in ROWS} == set(Verdict)


@pytest.mark.parametrize(
    ("error", "phase", "counts"),
    [
        pytest.param(BUSY, Phase.SEND, True, id="5xx to a send"),
        pytest.param(LOST, Phase.SEND, True, id="lost answer"),
        pytest.param(SLOW_DOWN, Phase.SEND, False, id="429 to a send: the server pacing us"),
        pytest.param(SLOW_DOWN, Phase.PREPARE, True, id="429 listing numbers"),
        pytest.param(SLOW_DOWN, Phase.LOOKUP, True, id="429 to a lookup"),
        pytest.param(BUSY, Phase.LOOKUP, True, id="5xx to a lookup"),
        pytest.param(NotFound("x", 404), Phase.SEND, False, id="404"),
        pytest.param(AuthError("x", 401), Phase.SEND, False, id="401"),
        pytest.param(UnresolvedReference("x"), Phase.PREPARE, False, id="unresolved"),
    ],
)
def test_what_the_outage_breaker_counts(error: Exception, phase: Phase, counts: bool) -> None:
    assert counts_toward_outage(error, phase) is counts
