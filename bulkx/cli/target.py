"""Which API a command talks to: the options every such command shares. The targets themselves
(embedded sandbox or a real base URL) are `bulkx.engine.targets`."""

from __future__ import annotations

import typer

from bulkx.engine.targets import DEFAULT_SANDBOX_DB, SANDBOX_BASE, TargetOptions, open_client

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
    DEFAULT_SANDBOX_DB, "--sandbox-db", help="The embedded sandbox's world (with no --base-url)."
)

__all__ = ["BASE_URL", "SANDBOX_BASE", "SANDBOX_DB", "TOKEN_FILE", "TargetOptions", "open_client"]
