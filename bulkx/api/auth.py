"""Credentials: a redacting `Secret`, the token loader, and app API Basic credentials.

A secret is revealed in exactly one kind of place, the code that builds an `Authorization`
header; everything else (repr, str, logs, errors, f-strings) sees `***`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bulkx.errors import ConfigError

__all__ = ["TOKEN_ENV", "BasicCredentials", "Secret", "load_token"]

TOKEN_ENV: Final = "CARRIERX_TOKEN"
REDACTED: Final = "***"
_TOKEN_HINT: Final = (
    f"set {TOKEN_ENV} or pass --token-file PATH (a file holding only the token, chmod 600)"
)


class Secret:
    """A string that will not print itself. Use `.reveal()` only to build a header."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """Which credential this is, for remembering things per credential (a learned rate
        limit): a salted hash, 16 hex digits. Never the token, and not reversible to it."""
        return hashlib.sha256(b"bulkx-credential:" + self._value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret into whatever stores the pickle (caches, journals).
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class BasicCredentials:
    """An app endpoint's login and password (from Core `GET /endpoints` properties)."""

    login: str
    password: Secret = field(repr=False)

    def header(self) -> str:
        """The `Authorization` header value: the one place the password is revealed."""
        raw = f"{self.login}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def _check_token_text(token: str, source: str) -> Secret:
    token = token.strip()
    if not token:
        raise ConfigError(f"the CarrierX token from {source} is empty", hint=_TOKEN_HINT)
    # A token with inner whitespace or control characters would corrupt (or inject into) the
    # header; it is almost always a file holding more than the token.
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError(
            f"the CarrierX token from {source} contains spaces or control characters",
            hint="the token file must hold only the token, on one line",
        )
    return Secret(token)


def _read_token_file(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"token file {path} does not exist", hint=_TOKEN_HINT) from None
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"token file {path} is not a regular file", hint=_TOKEN_HINT)
    # Like ssh with private keys: a token other users can read is already compromised.
    if os.name == "posix" and info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise ConfigError(
            f"token file {path} is accessible by other users (mode {mode:o})",
            hint=f"run: chmod 600 {path}",
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read token file {path}: {exc}") from None


def load_token(token_file: Path | None, env: Mapping[str, str] = os.environ) -> Secret:
    """The Core token from `token_file` if given, else from `$CARRIERX_TOKEN`.

    Raises ConfigError (with a hint) when there is none, it is empty, or the file is readable
    by group or others. There is deliberately no way to pass the token as a flag value.
    """
    if token_file is not None:
        return _check_token_text(_read_token_file(Path(token_file)), f"file {token_file}")
    value = env.get(TOKEN_ENV)
    if value is None:
        raise ConfigError("no CarrierX token", hint=_TOKEN_HINT)
    return _check_token_text(value, f"${TOKEN_ENV}")
