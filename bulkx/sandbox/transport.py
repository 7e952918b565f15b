"""The in-process transport: the embedded sandbox answering an httpx client without a socket.

The client side opens it (bulkx/engine/targets.py, for the embedded sandbox): a deliberate edge,
declared in the import contracts of pyproject.toml. It therefore stays small and imports only httpx
and the ASGI basics.
"""

from __future__ import annotations

import httpx

from bulkx.sandbox.asgi import ASGIApp, ConnectionDropped


class SandboxTransport(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` whose dropped connections surface as over real HTTP.

    A fault that drops the connection raises `ConnectionDropped` inside the app; a client on a
    socket sees `httpx.RemoteProtocolError`, so this transport raises that too, letting the
    same client code and tests run in-process and over uvicorn.
    """

    def __init__(
        self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 123), root_path: str = ""
    ) -> None:
        self._inner = httpx.ASGITransport(app=app, client=client, root_path=root_path)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
