"""Credentials out of what the monitor shows. The journal refuses credentials in requests, but
a response (an app endpoint's generated login and password, say) may carry one, and a screen
can be shared or screenshotted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|^pass$|secret|token|authori[sz]ation|api[-_]?key|credential"
    r"|private[-_]?key|^login$",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic)\s+\S", re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy of JSON-like `value` with credential-looking fields and values replaced."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _SECRET_KEY.search(str(key)) and item else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str) and _SECRET_VALUE.match(value):
        return REDACTED
    return value
