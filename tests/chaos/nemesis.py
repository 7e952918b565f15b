"""A test-only fault the sandbox's spec cannot target: execute chosen requests, then lose their
answer, the first time each is sent (T3: "execute_then_reset at 100% for chosen items").

The sandbox's `execute_then_reset` picks requests at random, lookups included; this one picks
by what a request is for (a room's name, a number's E911 record...), so a test knows exactly
which items must come back "recovered".
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bulkx.sandbox.controls import ConnectionDropped

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
#: (method, path, parsed JSON body or None) -> the identity of what the request is for, or None.
Chooser = Callable[[str, str, Any], str | None]


class LoseFirstAnswer:
    """ASGI middleware: for a write whose `choose(...)` identity has not been seen yet, let the
    app process it (its effect is committed), then drop the connection without an answer."""

    def __init__(self, app: App, choose: Chooser) -> None:
        self.app = app
        self.choose = choose
        #: Identities whose answer was lost, in order.
        self.lost: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        identity = self.choose(scope["method"], scope["path"], parsed)
        if identity is None or identity in self.lost:
            await self.app(scope, replay, send)
            return
        self.lost.append(identity)

        async def swallow(message: Message) -> None:
            pass

        await self.app(scope, replay, swallow)
        # As the sandbox's own execute_then_reset: a started response whose promised body never
        # comes makes the client see a dropped connection after the request was processed.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1")],
            }
        )
        raise ConnectionDropped("chaos: executed, answer lost")
