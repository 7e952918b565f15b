"""Flags, environment and profile in one place: every command that reaches a target asks here,
so `--profile`, `BULKX_BASE_URL` and the files mean the same in each (`bulkx.profiles`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bulkx.cli import exit_codes
from bulkx.cli.failures import err
from bulkx.errors import ConfigError

if TYPE_CHECKING:
    from bulkx.engine.targets import TargetOptions
    from bulkx.profiles import Config, Setting


def load_config(profile: str | None) -> Config:
    from bulkx.profiles import load

    try:
        return load(profile)
    except ConfigError as error:
        err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.USAGE) from None


def target_options(
    profile: str | None, base_url: str | None, token_file: Path | None, sandbox_db: Path
) -> TargetOptions:
    """The target: flags first, then the environment, then the profile; else the sandbox."""
    from bulkx.engine.targets import TargetOptions

    config = load_config(profile)
    url = config.resolve("base_url", base_url)
    token = config.resolve("token_file", str(token_file) if token_file else None).value
    # A profile's per-API URLs belong to its own base URL: never beside another one.
    api_urls = config.resolve("base_urls").value if url.source.startswith("profile") else None
    return TargetOptions(
        url.value,
        Path(token) if token else None,
        sandbox_db,
        tuple(sorted((api_urls or {}).items())),
    )


def checked_rate(config: Config, rate: float | None) -> Setting:
    """`--rate` under the profile's ceiling; above it, exit 2."""
    try:
        return config.rate(rate)
    except ConfigError as error:
        err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.USAGE) from None


def run_settings(
    profile: str | None, *, rate: float | None, concurrency: int | None, via: str | None
) -> dict[str, Any]:
    """`--rate` (under the profile's ceiling), `--concurrency` and `--via` for a run."""
    config = load_config(profile)
    return {
        "rate": checked_rate(config, rate).value,
        "concurrency": config.resolve("concurrency", concurrency, 16).value,
        "via": config.resolve("via", via, "api").value,
    }
