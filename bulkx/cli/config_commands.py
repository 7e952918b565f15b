"""`bulkx config`: each effective setting and where it came from, as `aws configure list` shows
them. The token itself is never shown: only where it would be read from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.cli.options import BASE_URL, PROFILE, SANDBOX_DB, TOKEN_FILE
from bulkx.cli.profile_edge import checked_rate, load_config

if TYPE_CHECKING:
    from bulkx.profiles import Config, Setting


def _token_line(token_file: str | None) -> tuple[str, str]:
    """(what the token is read from, its state): never its value."""
    if token_file:
        path = Path(token_file)
        if not path.is_file():
            return token_file, "missing"
        mode = path.stat().st_mode & 0o777
        return token_file, f"file, mode {mode:04o}" + ("" if mode & 0o077 == 0 else " (too open)")
    if os.environ.get("CARRIERX_TOKEN"):
        return "$CARRIERX_TOKEN", "set (not shown)"
    return "-", "not needed for the sandbox"


def config_command(
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
    rate: float | None = typer.Option(None, "--rate", help="As apply takes it."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=256),
    via: str | None = typer.Option(None, "--via", metavar="api|batch"),
    output: str = typer.Option("table", "--output", "-o", metavar="table|json"),
) -> None:
    """Show each effective setting (flag, env, profile file or default) and its source.

    Examples:
      bulkx config
      bulkx config --profile staging -o json
    """
    config = load_config(profile)
    base = config.resolve("base_url", base_url)
    token = config.resolve("token_file", str(token_file) if token_file else None)
    where, state = _token_line(token.value)
    chosen_rate = checked_rate(config, rate)
    rows = [
        ("profile", config.selected or "-", config.selected_by or "none selected"),
        ("target", base.value or f"the embedded sandbox ({sandbox_db})", base.source),
        ("token", f"{where} [{state}]", token.source if token.value else "env or default"),
        ("rate", chosen_rate.value or "adapt", chosen_rate.source),
        ("concurrency", *_pair(config.resolve("concurrency", concurrency, 16))),
        ("via", *_pair(config.resolve("via", via, "api"))),
        ("config files", ", ".join(map(str, config.files)) or "none found", "./bulkx.toml, user"),
    ]
    rows[2:2] = _api_url_rows(config, base)
    if output == "json":
        document = {name: {"value": value, "source": source} for name, value, source in rows}
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    if output != "table":
        from bulkx.cli import exit_codes
        from bulkx.cli.failures import err

        err(f"-o takes table or json, not {output!r}")
        raise typer.Exit(exit_codes.USAGE)
    width = max(len(str(value)) for _, value, _ in rows)
    for name, value, source in rows:
        typer.echo(f"{name:<13} {value!s:<{width}}  {source}")


def _api_url_rows(config: Config, base: Setting) -> list[tuple[str, object, str]]:
    """A row per API the selected profile serves elsewhere than beside Core (only with the
    profile's own base URL: a flag or env base URL is another deployment)."""
    if not base.source.startswith("profile"):
        return []
    urls = config.resolve("base_urls")
    return [(f"  {api}", url, urls.source) for api, url in sorted((urls.value or {}).items())]


def _pair(setting: Setting) -> tuple[object, str]:
    return setting.value, setting.source


def register(app: typer.Typer) -> None:
    app.command("config")(config_command)
