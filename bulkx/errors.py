"""One exception tree for bulkx. Callers decide by type, never by parsing messages.

BulkxError
├── PlanError                 a plan file is unreadable or invalid (carries diagnostics)
├── ConfigError               missing token, unsafe URL, unreadable token file
├── JournalError              the run journal cannot be read or written, or a transition is illegal
│   └── JournalLocked         another process is applying this run (holds its lock)
├── ReadStopped               reading live state stopped: the API was down (nothing was changed)
└── ApiError                  the CarrierX API answered with an error, or did not answer
    ├── TransientError        worth retrying (mixin: retry policies test for it)
    │   ├── RateLimited       429, with retry_after seconds
    │   ├── ServerError       500, 502, 503, 504
    │   └── TransportError    connection refused/reset before a response, timeouts
    │       └── OutcomeUnknown  the request may have been executed (reset after send, timeout,
│                           a 5xx other than 503 to a POST)
    └── TerminalError         retrying will not help
        ├── AuthError         401, 403
        ├── NotFound          404
        ├── Conflict          409
        └── InvalidRequest    400, 415, 422 (field errors in `errors`)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class BulkxError(Exception):
    """The root of every error bulkx raises on purpose."""

    hint: str | None = None


class PlanError(BulkxError):
    def __init__(self, message: str, diagnostics: list[Any] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class ConfigError(BulkxError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class TargetUnreachable(ConfigError):
    """Nothing at the target answered at all (exit 6): a wrong base URL, DNS or proxy."""


class JournalError(BulkxError):
    """The run journal cannot be read or written (disk full, read-only, corrupt), or a caller
    asked for an illegal state change. The message names the journal file; never raw SQLite."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class JournalLocked(JournalError):
    """Another process holds the run's writer lock: one writer per run, ever."""

    def __init__(
        self, message: str, *, run_id: str, pid: int | None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.run_id = run_id
        self.pid = pid


class ReadStopped(BulkxError):
    """Reading live state stopped before it was complete: the API answered nothing but errors
    for the outage window (or one read kept failing). Nothing was changed; run it again later.
    `reason` is human words, `last` the last error the API gave (if any)."""

    def __init__(self, reason: str, last: Exception | None = None) -> None:
        super().__init__(f"reading live state stopped: {reason}")
        self.reason = reason
        self.last = last


@dataclass(frozen=True)
class FieldProblem:
    field: str | None
    message: str
    reference_sid: str | None = None


@dataclass
class ApiError(BulkxError):
    """An error answer (or no answer) from a CarrierX API. Never carries a credential."""

    message: str
    status: int | None = None
    method: str | None = None
    url: str | None = None
    errors: list[FieldProblem] = field(default_factory=list)
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.method} {shortened_url(self.url)}: " if self.method and self.url else ""
        status = f"{self.status} " if self.status else ""
        details = "; ".join(
            f"{e.field}: {e.message}" if e.field else e.message for e in self.errors
        )
        return f"{where}{status}{self.message}" + (f" ({details})" if details else "")


#: Characters of a query string an error shows: a filter of 200 numbers is 4 KB of noise.
QUERY_SHOWN = 60


def shortened_url(url: str) -> str:
    """`url` for a one-line message: the query cut to QUERY_SHOWN characters."""
    head, mark, query = url.partition("?")
    if len(query) <= QUERY_SHOWN:
        return url
    return f"{head}{mark}{query[:QUERY_SHOWN]}... ({len(query) - QUERY_SHOWN} more characters)"


class TransientError(ApiError):
    """Retrying later may succeed."""


class TerminalError(ApiError):
    """Retrying will not help; the request or the plan must change."""


class RateLimited(TransientError):
    pass


class ServerError(TransientError):
    pass


class TransportError(TransientError):
    """No response: the request did not complete at the network level."""


class Unreachable(TransportError):
    """The host was never reached: its name does not resolve, or nothing listens there. The
    request was not sent."""


class OutcomeUnknown(TransportError):
    """The request was sent and may have been executed: reconcile before resending."""


class AuthError(TerminalError):
    pass


class NotFound(TerminalError):
    pass


class Conflict(TerminalError):
    pass


class InvalidRequest(TerminalError):
    pass


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status (the one place this mapping lives)."""
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status in (400, 405, 413, 415, 422):
        return InvalidRequest
    if status >= 500:
        return ServerError
    return TerminalError
