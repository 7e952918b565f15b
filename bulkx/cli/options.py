"""The options several commands share. Only typer and constants here: every command (and
`bulkx --help`) builds these at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import typer

from bulkx.defaults import DEFAULT_OUTAGE_SECONDS, DEFAULT_SANDBOX_DB

if TYPE_CHECKING:  # a type only: the kinds' registry is not loaded to build options
    from bulkx.kinds.model import Allowance

#: The flag that gives each allowance. The core names what a run must be allowed to do (a
#: blocked change's `needs`, a revert's `allowances()`); only the CLI spells it, from here.
ALLOW_FLAGS: Mapping[Allowance, str] = MappingProxyType(
    {
        "release": "--allow-release",
        "partners": "--allow-partners",
        "send": "--allow-send",
        "calls": "--allow-calls",
    }
)


def allow_flags(allowances: Iterable[Allowance]) -> list[str]:
    """The apply flags that give `allowances`, in their order."""
    return [ALLOW_FLAGS[allowance] for allowance in allowances]


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
ALLOW_RELEASE = typer.Option(
    False, ALLOW_FLAGS["release"], help="Let `ensure: absent` release numbers (not reversible)."
)
ALLOW_PARTNERS = typer.Option(
    False, ALLOW_FLAGS["partners"], help="Let the plan create and delete sub-partners."
)
ALLOW_SEND = typer.Option(
    False, ALLOW_FLAGS["send"], help="Let the plan send (text messages): each item exactly once."
)
ALLOW_CALLS = typer.Option(
    False,
    ALLOW_FLAGS["calls"],
    help="Let the plan change live conference calls (mute, hang up).",
)
OUTAGE_AFTER = typer.Option(
    DEFAULT_OUTAGE_SECONDS,
    "--stop-after-outage",
    metavar="SECONDS",
    min=1.0,
    help="Stop (exit 5, nothing lost) when the API has answered only errors this long.",
)
EVENTS = typer.Option(
    None,
    "--events",
    metavar="FILE|-",
    help="Also write every event of the run as JSON lines to FILE (or stdout with -).",
)
PROFILE = typer.Option(
    None,
    "--profile",
    metavar="NAME",
    show_default=False,
    help="A named target from ./bulkx.toml or ~/.config/bulkx/config.toml (else"
    " $BULKX_PROFILE; `bulkx config` shows what is in effect).",
)
