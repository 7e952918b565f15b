"""uvicorn's HTTP protocol with the limits uvicorn lacks: a request-head deadline and size cap.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) only after a response. A
connection that opens and sends nothing, or a request head a byte at a time, has no deadline,
and with httptools no size limit either: about 1,000 such connections blocked every client.
Here a connection must deliver a complete request head within `header_timeout_s` of opening
(or of its previous response), in at most `max_header_bytes`; else it is closed (408 or 431
when it had sent something). Bodies are the app's to bound (limits.Limits.body_timeout_s).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from bulkx.sandbox.limits import Limits

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _answer(status: int, why: str) -> bytes:
    body = json.dumps(
        {
            "message": _REASONS[status].decode().lower(),
            "errors": [{"field": None, "message": why, "reference_sid": None}],
        },
        separators=(",", ":"),
    ).encode()
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))
    )
    return head + body


class _HeadGuard:
    """The deadline and size cap of a request head; mixed into a uvicorn HTTP protocol."""

    limits: Limits
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def _waiting_for_head(self) -> bool:
        """No request is being answered: whatever arrives is (part of) the next head."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_bytes = 0
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting_for_head():
            return  # a request is being answered; the next response re-arms the deadline
        if self._head_bytes:
            why = f"the request head did not arrive within {self.limits.header_timeout_s:g} s"
            self.transport.write(_answer(408, why))
        self.transport.close()

    def _count_head(self, size: int, before: Any) -> None:
        """After `size` bytes were parsed: cap the head, or stop the clock once it is whole."""
        if self.cycle is not before and not self._waiting_for_head():
            self._cancel_head_timer()  # a complete head started a request
            self._head_bytes = 0
            return
        if not self._waiting_for_head():
            return
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            why = f"the request head is larger than {self.limits.max_header_bytes} bytes"
            self.transport.write(_answer(431, why))
            self.transport.close()


def guarded(base: type[Any], limits: Limits) -> type[Any]:
    """A subclass of uvicorn protocol `base` that enforces `limits` on request heads."""

    class Guarded(_HeadGuard, base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.limits = limits

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            waiting = self._waiting_for_head()
            super().data_received(data)
            if waiting or self.cycle is not before:
                self._count_head(len(data), before)

        def on_response_complete(self) -> None:
            pipelined = bool(getattr(self, "pipeline", None))
            super().on_response_complete()
            if not pipelined and not self.transport.is_closing():
                self._arm_head_timer()

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def protocol_class(limits: Limits) -> type[Any]:
    """The HTTP protocol the sandbox serves with: httptools when present (uvicorn's choice)."""
    return guarded(HttpToolsProtocol if HttpToolsProtocol is not None else H11Protocol, limits)
