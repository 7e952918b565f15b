"""What a journal row may hold: plain JSON in one compact encoding, and never a credential.

Requests are screened before they are journaled: an Authorization-like key anywhere in a request
(body, headers, query), or a bearer token in any string, refuses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bulkx.errors import JournalError
from bulkx.journal.states import Operation

_SECRET_KEY = re.compile(
    r"^(proxy[-_]?)?authori[sz]ation$|^(x[-_]?)?api[-_]?key$"
    r"|^(access[-_]?|auth[-_]?|bearer[-_]?|refresh[-_]?)?token$|^(client[-_]?)?secret$",
    re.IGNORECASE,
)
# One encoder for every row: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
#: Every credential-like key or value the exact check refuses contains one of these.
SUSPECT = ("authori", "key", "token", "secret", "bearer")


def refuse_secrets(value: Any, where: str) -> None:
    """The journal never stores credentials: refuse Authorization-like keys anywhere in a
    request (body, headers, query) and bearer tokens in any string."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _SECRET_KEY.match(str(key).strip()):
                raise JournalError(f"{where} contains a credential field {key!r}; not journaled")
            refuse_secrets(item, where)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_secrets(item, where)
    elif isinstance(value, str):
        lowered = value.lower()
        if lowered.startswith(("bearer ", "authorization:")):
            raise JournalError(f"{where} contains a credential value; not journaled")
        if "?" in value:
            for pair in re.split(r"[?&]", value.split("?", 1)[1]):
                if _SECRET_KEY.match(pair.split("=", 1)[0]):
                    raise JournalError(f"{where} has a credential in its query; not journaled")


def dumps(value: Any, what: object) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        if isinstance(what, Operation):
            what = f"the request of operation {what.op_key} ({what.position})"
        raise JournalError(f"{what} is not plain JSON data: {exc}") from None
