"""Which CarrierX to talk to: the Core base URL, and the app API bases derived from it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from bulkx.errors import ConfigError

__all__ = [
    "API_NAMES",
    "DEFAULT_CORE_BASE",
    "Target",
    "checked_api_bases",
    "derive_bases",
    "is_loopback",
    "redacted_url",
]

DEFAULT_CORE_BASE: Final = "https://api.carrierx.com/core/v2"
_CORE_SUFFIX: Final = "/core/v2"
#: Each API's path relative to the root that precedes /core/v2.
_API_PATHS: Final = {
    "core": "/core/v2",
    "conference_v2": "/conference/v2",
    "conference": "/conference/v1",
    "flexml": "/flexml/v1",
    "mediator": "/mediator/v1",
}
API_NAMES: Final = tuple(_API_PATHS)
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for a loopback address, or `localhost` when every address it resolves to is one
    (plain http and a token may go there). Other names, `*.localhost` included, are not: what
    they resolve to is up to a resolver, and a token would travel unencrypted."""
    host = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host not in _LOOPBACK_NAMES:
        return False
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {str(info[4][0]).split("%")[0] for info in found}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def redacted_url(text: str) -> str:
    """`text` for a message: its query, fragment and login replaced (`?token=...` is a
    credential pasted into a URL far more often than not)."""
    head, query_mark, _ = text.partition("?")
    head, fragment_mark, _ = head.partition("#")
    scheme, slashes, rest = head.partition("//")
    if slashes:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "REDACTED@" + authority.rpartition("@")[2]
        head = f"{scheme}{slashes}{authority}{slash}{path}"
    return (
        head
        + (f"{query_mark}REDACTED" if query_mark else "")
        + ("#REDACTED" if fragment_mark and not query_mark else "")
    )


def _checked_url(text: str) -> httpx.URL:
    """A base URL safe to send a token to: http(s), no login, query or fragment, and plain
    http only to loopback. Raises ConfigError naming the problem, never the URL's secrets."""
    shown = redacted_url(text)
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise ConfigError(f"invalid base URL {shown!r}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigError(f"invalid base URL {shown!r}", hint=f"e.g. {DEFAULT_CORE_BASE}")
    if url.userinfo:
        # Credentials in a URL end up in logs and shell history; they come from the token only.
        raise ConfigError("the base URL must not contain a login or password")
    if url.query or url.fragment:
        raise ConfigError(
            f"the base URL must not have a query or fragment: {shown!r}",
            hint="a token goes in $CARRIERX_TOKEN or --token-file, never in the URL",
        )
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigError(
            f"refusing plain http:// to {url.host}: the token would travel unencrypted",
            hint="use https:// (http:// is allowed only for loopback hosts such as 127.0.0.1)",
        )
    return url


def checked_api_bases(bases: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Base URLs given per API (a deployment that serves an API somewhere other than beside
    Core), each checked as the Core base is; Core's own is the base URL itself."""
    checked = []
    for api, base in sorted(bases.items()):
        if api not in API_NAMES or api == "core":
            others = ", ".join(name for name in API_NAMES if name != "core")
            raise ConfigError(f"no API {api!r} to give a base URL for", hint=f"one of {others}")
        checked.append((api, str(_checked_url(base.strip().rstrip("/"))).rstrip("/")))
    return tuple(checked)


def _checked_core_base(core_base: str) -> httpx.URL:
    text = core_base.strip().rstrip("/")
    url = _checked_url(text)
    if not url.path.endswith(_CORE_SUFFIX):
        raise ConfigError(
            f"the base URL must be the Core API base ending in {_CORE_SUFFIX}:"
            f" {redacted_url(text)!r}",
            hint=f"e.g. {DEFAULT_CORE_BASE}",
        )
    return url


def derive_bases(core_base: str) -> dict[str, str]:
    """Every API's base URL from the Core base (`.../core/v2`): replace the trailing /core/v2.

    Raises ConfigError for an unsafe or malformed URL.
    """
    url = _checked_core_base(core_base)
    root = str(url.copy_with(path=url.path[: -len(_CORE_SUFFIX)] or "/")).rstrip("/")
    return {name: root + path for name, path in _API_PATHS.items()}


@dataclass(frozen=True)
class Target:
    """A CarrierX deployment: the real API, another installation, or the embedded sandbox.

    `label` is what screens and `repr(client)` show, so a sandbox run is never mistaken for
    production. TLS certificates are always verified; there is no switch to turn that off.
    """

    core_base_url: str
    is_sandbox: bool = False
    label: str = ""
    #: (api, base URL) for an API served elsewhere than beside Core (a profile's base_urls).
    api_bases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        bases = derive_bases(self.core_base_url)  # validates, raising ConfigError
        object.__setattr__(self, "core_base_url", bases["core"])
        object.__setattr__(self, "api_bases", checked_api_bases(dict(self.api_bases)))
        if not self.label:
            host = httpx.URL(bases["core"]).host
            object.__setattr__(self, "label", f"sandbox ({host})" if self.is_sandbox else host)

    @property
    def bases(self) -> dict[str, str]:
        return {**derive_bases(self.core_base_url), **dict(self.api_bases)}

    def base(self, api: str) -> str:
        try:
            return self.bases[api]
        except KeyError:
            raise ValueError(f"unknown API {api!r}; one of {', '.join(API_NAMES)}") from None
