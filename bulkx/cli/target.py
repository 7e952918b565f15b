"""Which API a command talks to: the embedded sandbox (default) or a real base URL.

The same options on every command that talks to an API; the target's label goes on every screen
so nobody mistakes a rehearsal for production (or the reverse).
"""

from __future__ import annotations

import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from bulkx.api import CarrierX, Target, is_loopback, load_token
from bulkx.api.auth import Secret
from bulkx.sandbox.app import DEFAULT_DB, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.world import DEFAULT_TOKEN

#: Where the in-process sandbox is reached; any loopback URL works, nothing listens there.
SANDBOX_BASE = "http://127.0.0.1/core/v2"

BASE_URL = typer.Option(
    None,
    "--base-url",
    help="Core API base, e.g. https://api.carrierx.com/core/v2 (default: the embedded sandbox).",
    show_default=False,
)
TOKEN_FILE = typer.Option(
    None,
    "--token-file",
    help="File holding the API token (mode 0600); else $CARRIERX_TOKEN. Never a flag value.",
    show_default=False,
)
SANDBOX_DB = typer.Option(
    DEFAULT_DB, "--sandbox-db", help="The embedded sandbox's world (with no --base-url)."
)


@dataclass(frozen=True)
class TargetOptions:
    base_url: str | None
    token_file: Path | None
    sandbox_db: Path

    @property
    def journaled(self) -> dict[str, Any]:
        """What a run's journal keeps of the target, so `resume` reaches the same one."""
        return {"base_url": self.base_url, "sandbox_db": str(self.sandbox_db)}

    def describe(self) -> str:
        if self.base_url is None:
            return f"the embedded sandbox ({self.sandbox_db})"
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if is_loopback(host):
            return f"a local API at {self.base_url}"
        return f"LIVE API {self.base_url}"


@contextlib.asynccontextmanager
async def open_client(options: TargetOptions) -> AsyncIterator[CarrierX]:
    """A client for the chosen target; the sandbox runs in-process on its SQLite world."""
    # httpx logs request URLs at INFO; bulkx never puts secrets in URLs, but keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.base_url is None:
        app = create_app(SandboxConfig(db=options.sandbox_db))
        target = Target(SANDBOX_BASE, is_sandbox=True, label=options.describe())
        client = CarrierX(target, Secret(DEFAULT_TOKEN), transport=SandboxTransport(app))
        try:
            async with client:
                yield client
        finally:
            app.world.store.close()
        return
    target = Target(options.base_url, is_sandbox=False, label=options.describe())
    async with CarrierX(target, load_token(options.token_file)) as client:
        yield client
