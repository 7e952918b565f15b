"""Seeded HTTP fault injection for the sandbox, described by a short text spec.

The vocabulary follows toxiproxy (latency, jitter, reset) plus the HTTP-level faults a TCP proxy
cannot produce (5xx answers, outages, credentials that stop working, and the dangerous
"execute then reset" whose effect is applied but whose response is lost). The same text form,
e.g. ``latency=20ms,jitter=10ms,http_5xx=0.02,outage=10s@30s``, is used on the command line, in
the admin endpoint and in tests, so a failing schedule can be replayed from its spec and seed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

#: Every name `parse_fault_spec` accepts, in the order `FaultSpec.to_text` writes them.
FAULT_NAMES: Final = (
    "latency",
    "jitter",
    "http_5xx",
    "reset",
    "execute_then_reset",
    "outage",
    "throttle",
    "retry_after",
    "unauthorized_after",
)
_REPEATABLE: Final = frozenset({"outage", "throttle"})
_VALID_NAMES_TEXT: Final = ", ".join(FAULT_NAMES)

#: Statuses a `http_5xx` fault picks from, uniformly.
HTTP_5XX_STATUSES: Final = (500, 502, 503, 504)


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed or holds an out-of-range value."""


@dataclass(frozen=True)
class FaultSpec:
    """Which faults to inject. All probabilities are per request and independent."""

    latency_s: float = 0.0
    jitter_s: float = 0.0
    http_5xx: float = 0.0
    #: Connection dropped before the app sees the request: a definite failure, safe to retry.
    reset: float = 0.0
    #: The app processes (and commits) the request, then the response is lost: unknown outcome.
    execute_then_reset: float = 0.0
    #: (start_s, duration_s) windows, relative to when the spec was activated.
    outages: tuple[tuple[float, float], ...] = ()
    #: (start_s, duration_s) windows of a 429 storm: every request is answered 429 with
    #: `Retry-After: retry_after_s`, whatever the rate limit.
    throttles: tuple[tuple[float, float], ...] = ()
    retry_after_s: float = 2.0
    #: After this many requests by one credential, that credential is answered 401. Requests
    #: refused earlier (rate limit, outage) do not count: they never reached authentication.
    unauthorized_after: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("latency", self.latency_s), ("jitter", self.jitter_s)):
            _check_duration(name, value)
        for name, value in (
            ("http_5xx", self.http_5xx),
            ("reset", self.reset),
            ("execute_then_reset", self.execute_then_reset),
        ):
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise FaultSpecError(
                    f"{name}={value!r}: a probability must be between 0 and 1; "
                    f"valid names: {_VALID_NAMES_TEXT}"
                )
        for start, duration in (*self.outages, *self.throttles):
            _check_duration("window start", start)
            _check_duration("window duration", duration)
        _check_duration("retry_after", self.retry_after_s)
        if self.unauthorized_after is not None and self.unauthorized_after < 0:
            raise FaultSpecError(
                f"unauthorized_after={self.unauthorized_after}: must be a whole number >= 0; "
                f"valid names: {_VALID_NAMES_TEXT}"
            )

    @property
    def is_empty(self) -> bool:
        return self == _NO_FAULTS

    def to_text(self) -> str:
        """The canonical text form; `parse_fault_spec(spec.to_text()) == spec`."""
        items: list[str] = []
        if self.latency_s:
            items.append(f"latency={_format_duration(self.latency_s)}")
        if self.jitter_s:
            items.append(f"jitter={_format_duration(self.jitter_s)}")
        for name, value in (
            ("http_5xx", self.http_5xx),
            ("reset", self.reset),
            ("execute_then_reset", self.execute_then_reset),
        ):
            if value:
                items.append(f"{name}={value!r}")
        for start, duration in self.outages:
            items.append(f"outage={_format_duration(duration)}@{_format_duration(start)}")
        for start, duration in self.throttles:
            items.append(f"throttle={_format_duration(duration)}@{_format_duration(start)}")
        if self.retry_after_s != _NO_FAULTS.retry_after_s:
            items.append(f"retry_after={_format_duration(self.retry_after_s)}")
        if self.unauthorized_after is not None:
            items.append(f"unauthorized_after={self.unauthorized_after}")
        return ",".join(items)


def _check_duration(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise FaultSpecError(
            f"{name}={value!r}: a duration must be a finite number of seconds >= 0; "
            f"valid names: {_VALID_NAMES_TEXT}"
        )


_NO_FAULTS: Final = FaultSpec()


def _format_duration(seconds: float) -> str:
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    millis = round(seconds * 1000)
    # Milliseconds read better, but only when parsing them back gives the very same float.
    if millis / 1000 == seconds:
        return f"{millis}ms"
    return f"{seconds!r}s"


def _parse_duration(text: str) -> float:
    """`20ms`, `1.5s` or a bare number of seconds; raises ValueError."""
    text = text.strip().lower()
    scale = 1.0
    if text.endswith("ms"):
        text, scale = text[:-2], 1000.0
    elif text.endswith("s"):
        text = text[:-1]
    value = float(text.strip())
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value / scale


def _parse_probability(text: str) -> float:
    value = float(text.strip())
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(text)
    return value


def _bad(item: str, expected: str) -> FaultSpecError:
    return FaultSpecError(
        f"bad fault {item!r}: expected {expected}; valid names: {_VALID_NAMES_TEXT}"
    )


_DURATION_HINT: Final = "a duration such as 20ms, 1.5s or 2 (seconds)"
_PROBABILITY_HINT: Final = "a probability between 0 and 1, such as 0.02"


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse `name=value,name=value`; see the module docstring. Empty text means no faults."""
    seen: set[str] = set()
    values: dict[str, float] = {}
    windows: dict[str, list[tuple[float, float]]] = {"outage": [], "throttle": []}
    unauthorized_after: int | None = None
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            # Tolerate stray commas ("latency=5ms,") as shells and YAML make them easy to type.
            continue
        name, value = _fault_item(item, seen)
        try:
            if name in ("latency", "jitter", "retry_after"):
                values[name] = _parse_duration(value)
            elif name in windows:
                windows[name].append(_parse_window(value))
            elif name == "unauthorized_after":
                unauthorized_after = _parse_count(value)
            else:
                values[name] = _parse_probability(value)
        except ValueError:
            raise _bad(item, _VALUE_HINTS.get(name, _PROBABILITY_HINT)) from None
    return FaultSpec(
        latency_s=values.get("latency", 0.0),
        jitter_s=values.get("jitter", 0.0),
        http_5xx=values.get("http_5xx", 0.0),
        reset=values.get("reset", 0.0),
        execute_then_reset=values.get("execute_then_reset", 0.0),
        outages=tuple(windows["outage"]),
        throttles=tuple(windows["throttle"]),
        retry_after_s=values.get("retry_after", 2.0),
        unauthorized_after=unauthorized_after,
    )


#: What to write for a fault whose value cannot be read (a probability otherwise).
_VALUE_HINTS: Final = {
    "latency": _DURATION_HINT,
    "jitter": _DURATION_HINT,
    "outage": "DURATION@START, such as 10s@30s (a 10 s outage 30 s in)",
    "throttle": "DURATION@START, such as 10s@5s (10 s of 429s, 5 s in)",
    "retry_after": _DURATION_HINT,
    "unauthorized_after": "a whole number of requests >= 0",
}


def _fault_item(item: str, seen: set[str]) -> tuple[str, str]:
    """The name and value of one `name=value` item, its name checked (and added to `seen`)."""
    name, sep, value = item.partition("=")
    name = name.strip()
    if not sep:
        raise FaultSpecError(
            f"bad fault {item!r}: expected name=value; valid names: {_VALID_NAMES_TEXT}"
        )
    if name not in FAULT_NAMES:
        raise FaultSpecError(
            f"unknown fault {name!r} in {item!r}; valid names: {_VALID_NAMES_TEXT}"
        )
    if name in seen and name not in _REPEATABLE:
        raise FaultSpecError(
            f"duplicate fault {item!r}: {name} may be given once (only outage and"
            f" throttle repeat); "
            f"valid names: {_VALID_NAMES_TEXT}"
        )
    seen.add(name)
    return name, value


def _parse_window(value: str) -> tuple[float, float]:
    """`DURATION@START` as (start_s, duration_s)."""
    duration, at, start = value.partition("@")
    if not at:
        raise ValueError(value)
    return _parse_duration(start), _parse_duration(duration)


def _parse_count(value: str) -> int:
    count = int(value.strip())
    if count < 0:
        raise ValueError(value)
    return count


class FaultKind(StrEnum):
    NONE = "none"
    OUTAGE = "outage"
    THROTTLE = "throttle"
    UNAUTHORIZED = "unauthorized"
    HTTP_5XX = "http_5xx"
    RESET = "reset"
    EXECUTE_THEN_RESET = "execute_then_reset"


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request: sleep `latency_s`, then act on `kind`."""

    kind: FaultKind = FaultKind.NONE
    latency_s: float = 0.0
    #: The status to answer for HTTP_5XX (one of HTTP_5XX_STATUSES), else None.
    status: int | None = None


NO_FAULT: Final = FaultDecision()


class FaultInjector:
    """Decides each request's fault from a `FaultSpec`, reproducibly for a seed.

    Every decision draws the same number of random values whatever the outcome, so the n-th
    request gets the same random fate in every run with the same seed, even when an outage
    window (which depends on the clock) happens to cover a slightly different set of requests.
    Concurrent clients make the request order, and so the pairing of requests to fates, vary.
    """

    def __init__(
        self, spec: FaultSpec, seed: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.replace(spec, seed)

    @property
    def spec(self) -> FaultSpec:
        return self._spec

    @property
    def seed(self) -> int:
        return self._seed

    def replace(self, spec: FaultSpec, seed: int) -> None:
        """Switch to a new spec and seed; outage windows and 401 counters start afresh."""
        self._spec = spec
        self._empty = spec.is_empty
        self._seed = seed
        self._random = random.Random(seed)
        self._activated_at = self._clock()
        self._requests_by_credential: dict[str, int] = {}

    def decide(self, credential_id: str | None) -> FaultDecision:
        if self._empty:
            return NO_FAULT
        spec = self._spec
        rnd = self._random.random
        jitter_draw, p_5xx, status_draw, p_reset, p_execute = rnd(), rnd(), rnd(), rnd(), rnd()

        if spec.outages or spec.throttles:
            elapsed = self._clock() - self._activated_at
            for start, duration in spec.outages:
                if start <= elapsed < start + duration:
                    return FaultDecision(FaultKind.OUTAGE)
            for start, duration in spec.throttles:
                if start <= elapsed < start + duration:
                    return FaultDecision(FaultKind.THROTTLE)

        if spec.unauthorized_after is not None and credential_id is not None:
            count = self._requests_by_credential.get(credential_id, 0) + 1
            self._requests_by_credential[credential_id] = count
            if count > spec.unauthorized_after:
                return FaultDecision(FaultKind.UNAUTHORIZED)

        # `latency` is a floor: jitter only adds, so tests and users can rely on the minimum.
        latency = spec.latency_s + spec.jitter_s * jitter_draw
        if p_5xx < spec.http_5xx:
            status = HTTP_5XX_STATUSES[int(status_draw * len(HTTP_5XX_STATUSES))]
            return FaultDecision(FaultKind.HTTP_5XX, latency, status)
        if p_reset < spec.reset:
            return FaultDecision(FaultKind.RESET, latency)
        if p_execute < spec.execute_then_reset:
            return FaultDecision(FaultKind.EXECUTE_THEN_RESET, latency)
        if latency:
            return FaultDecision(FaultKind.NONE, latency)
        return NO_FAULT
