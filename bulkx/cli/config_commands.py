"""`bulkx config`: each effective setting and where it came from, as `aws configure list` shows
them, and the rate limits runs learned and remember per target (`bulkx config forget-limits`
forgets them). The token itself is never shown: only where it would be read from."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.cli.options import BASE_URL, PROFILE, SANDBOX_DB, TOKEN_FILE
from bulkx.cli.output import format_option
from bulkx.cli.profile_edge import checked_rate, load_config
from bulkx.defaults import MAX_CONCURRENCY, MIN_CONCURRENCY, MIN_RATE
from bulkx.escaping import printable

if TYPE_CHECKING:
    from bulkx.journal.limits import Remembered
    from bulkx.profiles import Config, Setting

config_app = typer.Typer(name="config", rich_markup_mode=None)
CONFIG_FORMATS = ("table", "json")


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
    ctx: typer.Context,
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
    rate: float | None = typer.Option(None, "--rate", min=MIN_RATE, help="As apply takes it."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=MIN_CONCURRENCY, max=MAX_CONCURRENCY, help="As apply takes it."
    ),
    via: str | None = typer.Option(None, "--via", metavar="api|batch", help="As apply takes it."),
    output: str = format_option(CONFIG_FORMATS, "table"),
) -> None:
    """Show each effective setting (flag, env, profile file or default) and its source, and
    the rate limits remembered per target (a run starts at the pace the last one learned)."""
    if ctx.invoked_subcommand is not None:
        return
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
    remembered = _remembered()
    if output == "json":
        document: dict[str, object] = {
            name: {"value": value, "source": source} for name, value, source in rows
        }
        document["remembered_limits"] = [_limit_document(entry) for entry in remembered]
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    if output != "table":
        from bulkx.cli import exit_codes
        from bulkx.cli.failures import err

        err(f"-o takes table or json, not {output!r}")
        raise typer.Exit(exit_codes.USAGE)
    rows += [("limit", _limit_text(entry), _limit_source(entry)) for entry in remembered]
    width = max(len(str(value)) for _, value, _ in rows)
    for name, value, source in rows:
        typer.echo(f"{name:<13} {printable(str(value)):<{width}}  {source}")


def _api_url_rows(config: Config, base: Setting) -> list[tuple[str, object, str]]:
    """A row per API the selected profile serves elsewhere than beside Core (only with the
    profile's own base URL: a flag or env base URL is another deployment)."""
    if not base.source.startswith("profile"):
        return []
    urls = config.resolve("base_urls")
    return [(f"  {api}", url, urls.source) for api, url in sorted((urls.value or {}).items())]


def _pair(setting: Setting) -> tuple[object, str]:
    return setting.value, setting.source


def _remembered() -> list[Remembered]:
    from bulkx.defaults import journal_root
    from bulkx.journal.limits import remembered

    return remembered(journal_root())


def _limit_text(entry: Remembered) -> str:
    from bulkx.engine.throttle import REMEMBERED_GUESS_PROBE_AFTER

    burst = "" if entry.burst is None else f", burst {entry.burst:g}"
    after = f"{REMEMBERED_GUESS_PROBE_AFTER:g} s"
    guessed = "" if entry.fitted else f" (a guess, probed upward after {after})"
    return f"{entry.limit:g}/s{burst} at {entry.target}{guessed}"


def _limit_source(entry: Remembered) -> str:
    hours = max(0.0, entry.age) / 3600
    age = f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.0f} h"
    age = age if hours < 48 else f"{hours / 24:.0f} days"
    return f"learned {age} ago, credential {entry.credential}"


def _limit_document(entry: Remembered) -> dict[str, object]:
    return {
        "target": entry.target,
        "credential": entry.credential,
        "limit": entry.limit,
        "burst": entry.burst,
        "fitted": entry.fitted,
        "learned_at": datetime.fromtimestamp(entry.learned_at, UTC).isoformat(timespec="seconds"),
    }


def forget_limits_command(
    target: str | None = typer.Argument(
        None,
        metavar="[TARGET]",
        help="A base URL or sandbox file as `bulkx config` shows it (default: every target).",
    ),
) -> None:
    """Forget the rate limits runs learned: the next run learns its target's limit again from
    429s. Do it when an account's limit has changed."""
    from bulkx.defaults import journal_root
    from bulkx.journal.limits import forget

    root = journal_root()
    forgotten = forget(root, None if target is None else _target_named(target))
    if target is not None and not forgotten:
        from bulkx.cli import exit_codes
        from bulkx.cli.failures import err

        err(f"no limit is remembered for {target} (`bulkx config` lists them)")
        raise typer.Exit(exit_codes.USAGE)
    typer.echo(f"forgot {forgotten} remembered limit{'' if forgotten == 1 else 's'}")


def _target_named(text: str) -> str:
    """A target as `limits.json` keys it: a base URL without its trailing slash, or the
    `sandbox:` path of an embedded sandbox's file (given as the file, or as shown)."""
    from bulkx.engine.exclusive import target_key

    if text.startswith("sandbox:"):
        return target_key(None, text.removeprefix("sandbox:"))
    if "://" in text:
        return target_key(text, "")
    return target_key(None, text)


def register(app: typer.Typer) -> None:
    config_app.callback(invoke_without_command=True)(config_command)
    config_app.command("forget-limits")(forget_limits_command)
    app.add_typer(config_app, name="config")
