"""Which API a run talks to: the embedded sandbox (default) or a real base URL.

The target's label goes on every screen so nobody mistakes a rehearsal for production (or the
reverse); it is always derived from what is actually contacted, never stored apart from it.
"""

from __future__ import annotations

import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bulkx.defaults import DEFAULT_SANDBOX_DB

if TYPE_CHECKING:
    from bulkx.api import CarrierX

#: Where the in-process sandbox is reached; any loopback URL works, nothing listens there.
SANDBOX_BASE = "http://127.0.0.1/core/v2"

__all__ = ["DEFAULT_SANDBOX_DB", "SANDBOX_BASE", "TargetOptions", "open_client"]


@dataclass(frozen=True)
class TargetOptions:
    base_url: str | None
    token_file: Path | None
    sandbox_db: Path
    #: (api, base URL) for APIs served elsewhere than beside Core (a profile's base_urls).
    api_urls: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        from bulkx.api.target import is_loopback  # the client is imported when it is used

        if self.base_url is None:
            return f"the embedded sandbox ({self.sandbox_db})"
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if is_loopback(host):
            return f"a local API at {self.base_url}"
        return f"LIVE API {self.base_url}"


@contextlib.asynccontextmanager
async def open_client(options: TargetOptions) -> AsyncIterator[CarrierX]:
    """A client for the chosen target; the sandbox runs in-process on its SQLite world."""
    from bulkx.api import CarrierX, Target, load_token
    from bulkx.api.auth import Secret

    # httpx logs request URLs at INFO; bulkx never puts secrets in URLs, but keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.base_url is None:
        # Imported here: only a run on the embedded sandbox needs it.
        from bulkx.sandbox.app import SandboxConfig, create_app
        from bulkx.sandbox.controls import SandboxTransport
        from bulkx.sandbox.world import DEFAULT_TOKEN

        app = create_app(SandboxConfig(db=options.sandbox_db))
        target = Target(SANDBOX_BASE, is_sandbox=True, label=options.describe())
        client = CarrierX(target, Secret(DEFAULT_TOKEN), transport=SandboxTransport(app))
        try:
            async with client:
                yield client
        finally:
            app.world.store.close()
        return
    target = Target(
        options.base_url, is_sandbox=False, label=options.describe(), api_bases=options.api_urls
    )
    async with CarrierX(target, load_token(options.token_file)) as client:
        yield client
