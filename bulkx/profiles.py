"""Named targets in TOML, so `--base-url` and `--token-file` are not typed on every command.

    # ./bulkx.toml (the project's), then ~/.config/bulkx/config.toml (the user's)
    default_profile = "staging"

    [profiles.staging]
    base_url = "https://staging.example.net/core/v2"
    base_urls = { mediator = "https://mediator.example.net/mediator/v1" }  # APIs not beside Core
    token_file = "~/.config/bulkx/staging.token"
    rate = 50            # a ceiling: `--rate` may go lower, never higher
    concurrency = 8
    via = "api"

A setting comes from the first of: a flag, the environment (`BULKX_BASE_URL`,
`BULKX_TOKEN_FILE`), the selected profile (`--profile`, else `BULKX_PROFILE`, else
`default_profile`), the built-in default. With nothing configured the target is the embedded
sandbox. A profile of the project's file replaces the user's profile of the same name whole.
`bulkx config` shows every effective value and where it came from; never the token itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkx.defaults import MAX_CONCURRENCY, MIN_CONCURRENCY, MIN_RATE
from bulkx.errors import ConfigError

#: What a profile may set, and the type each takes.
SETTINGS: dict[str, tuple[type, ...]] = {
    "base_url": (str,),
    "base_urls": (dict,),
    "token_file": (str,),
    "rate": (int, float),
    "concurrency": (int,),
    "via": (str,),
}
#: Settings the environment may give, and the variable for each.
ENVIRONMENT = {"base_url": "BULKX_BASE_URL", "token_file": "BULKX_TOKEN_FILE"}
PROJECT_FILE = Path("bulkx.toml")


def user_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bulkx" / "config.toml"


@dataclass(frozen=True)
class Setting:
    value: Any
    #: Where it came from, in words: "flag --rate", "env BULKX_BASE_URL", "profile prod
    #: (./bulkx.toml)", "default".
    source: str


@dataclass(frozen=True)
class Config:
    """The profiles the files define, and which one is selected (and why)."""

    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: profile name -> the file that defined it.
    origins: Mapping[str, Path] = field(default_factory=dict)
    selected: str | None = None
    selected_by: str = ""
    files: tuple[Path, ...] = ()

    def resolve(self, name: str, flag: Any = None, default: Any = None) -> Setting:
        """One setting: the flag's value if given, else env, profile, default."""
        if flag is not None:
            return Setting(flag, f"flag --{name.replace('_', '-')}")
        variable = ENVIRONMENT.get(name)
        if variable and os.environ.get(variable):
            return Setting(os.environ[variable], f"env {variable}")
        profile = self.profiles.get(self.selected or "", {})
        if name in profile:
            where = self.origins[self.selected or ""]
            return Setting(profile[name], f"profile {self.selected} ({where})")
        return Setting(default, "default")

    def rate(self, flag: float | None) -> Setting:
        """`--rate`, under the profile's ceiling: a flag may go lower, never higher."""
        ceiling = self.resolve("rate")
        if flag is not None and ceiling.value is not None and flag > ceiling.value:
            raise ConfigError(
                f"--rate {flag:g} is above the ceiling of {ceiling.source}: {ceiling.value:g}/s",
                hint="give a lower --rate, or raise the profile's rate if the account allows it",
            )
        return self.resolve("rate", flag)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def _checked(path: Path, name: str, profile: Any) -> dict[str, Any]:
    if not isinstance(profile, dict):
        raise ConfigError(f"{path}: [profiles.{name}] must be a table")
    for key, value in profile.items():
        types = SETTINGS.get(key)
        if types is None:
            raise ConfigError(
                f"{path}: [profiles.{name}] has an unknown setting {key!r}",
                hint="a profile sets " + ", ".join(SETTINGS),
            )
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigError(f"{path}: [profiles.{name}] {key} must be {types[0].__name__}")
    _check_bounds(path, name, profile)
    if profile.get("via", "api") not in ("api", "batch"):
        raise ConfigError(f"{path}: [profiles.{name}] via takes api or batch")
    if "base_urls" in profile:
        _check_api_urls(path, name, profile)
    if "token_file" in profile:  # relative to the file that names it, as plan paths are
        token = Path(profile["token_file"]).expanduser()
        token = token if token.is_absolute() else path.parent / token
        profile = {**profile, "token_file": str(token)}
    return dict(profile)


def _check_bounds(path: Path, name: str, profile: Mapping[str, Any]) -> None:
    """The bounds `--rate` and `--concurrency` have on the command line."""
    if "rate" in profile and not profile["rate"] >= MIN_RATE:
        raise ConfigError(f"{path}: [profiles.{name}] rate must be at least {MIN_RATE:g} (per s)")
    concurrency = profile.get("concurrency", MIN_CONCURRENCY)
    if not MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
        raise ConfigError(
            f"{path}: [profiles.{name}] concurrency must be {MIN_CONCURRENCY}-{MAX_CONCURRENCY}"
        )


def _check_api_urls(path: Path, name: str, profile: Mapping[str, Any]) -> None:
    """base_urls: API name -> base URL, each as safe as base_url, and only beside one."""
    from bulkx.api.target import checked_api_bases  # httpx: only for a profile that needs it

    urls = profile["base_urls"]
    if "base_url" not in profile:
        raise ConfigError(f"{path}: [profiles.{name}] base_urls needs base_url (the Core API's)")
    if not all(isinstance(value, str) for value in urls.values()):
        raise ConfigError(f"{path}: [profiles.{name}] base_urls values must be URLs (str)")
    try:
        checked_api_bases(urls)
    except ConfigError as error:
        raise ConfigError(
            f"{path}: [profiles.{name}] base_urls: {error}", hint=error.hint
        ) from None


def load(
    profile: str | None = None, *, project: Path = PROJECT_FILE, user: Path | None = None
) -> Config:
    """The profiles of the user's file and the project's (the project's win), and the one
    selected by `profile` (the `--profile` flag), `BULKX_PROFILE` or `default_profile`."""
    profiles: dict[str, dict[str, Any]] = {}
    origins: dict[str, Path] = {}
    default: tuple[str, Path] | None = None
    files: list[Path] = []
    for path in (user or user_file(), project):
        document = _read(path)
        if not document:
            continue
        files.append(path)
        table = document.get("profiles", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: profiles must be a table ([profiles.NAME])")
        for name, settings in table.items():
            profiles[name] = _checked(path, name, settings)
            origins[name] = path
        if isinstance(document.get("default_profile"), str):
            default = (document["default_profile"], path)
    selected, selected_by = None, ""
    if profile:
        selected, selected_by = profile, "flag --profile"
    elif os.environ.get("BULKX_PROFILE"):
        selected, selected_by = os.environ["BULKX_PROFILE"], "env BULKX_PROFILE"
    elif default is not None:
        selected, selected_by = default[0], f"default_profile ({default[1]})"
    if selected is not None and selected not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"no profile {selected!r} ({selected_by})",
            hint=f"profiles defined: {known}; they live in ./bulkx.toml or {user_file()}",
        )
    return Config(profiles, origins, selected, selected_by, tuple(files))
