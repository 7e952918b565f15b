"""What a documented sample is, and how an answer is compared with it.

A sample is a request the CarrierX docs show and the response they show for it, transcribed as a
shape: keys as documented, defaults and fixed values as documented, and instance data (sids,
dates, phone numbers, names a request chose) as a `Kind` that checks only its type and format.
`compare` lists every way an answer differs; a sample whose differences are all recorded (each
naming the constant of `bulkx.sandbox.assumptions` that explains it) passes, and a sample with
none is "answered as documented".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# --- kinds of instance data ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """Instance data of a documented response: any value of this JSON type and format."""

    name: str
    test: Callable[[Any], bool]

    def __repr__(self) -> str:
        return self.name


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_PHONE = re.compile(r"\+?\d{7,15}")
_DECIMAL = re.compile(r"-?\d+(\.\d+)?")

#: Any string (names, logins, passwords, formatted numbers).
STR = Kind("STR", lambda v: isinstance(v, str))
#: A secure ID: a UUID string.
SID = Kind("SID", _is_uuid)
#: An ISO 8601 UTC timestamp, as every documented date_* field.
DATE = Kind("DATE", lambda v: isinstance(v, str) and bool(_DATE.fullmatch(v)))
#: A phone number as the APIs write it: digits, maybe a leading "+".
PHONE = Kind("PHONE", lambda v: isinstance(v, str) and bool(_PHONE.fullmatch(v)))
#: A decimal number written as a string ("351.52", "15"): prices, balances, durations.
DECIMAL = Kind("DECIMAL", lambda v: isinstance(v, str) and bool(_DECIMAL.fullmatch(v)))
#: An integer (ids, counts, unix times in ms).
INT = Kind("INT", lambda v: isinstance(v, int) and not isinstance(v, bool))
#: Instance data that may be absent: a string or null (a number's LATA, an optional name).
OPT_STR = Kind("STR|null", lambda v: v is None or isinstance(v, str))
#: Any value at all (free-form user data).
ANY = Kind("ANY", lambda v: True)
#: An http(s) URL.
URL = Kind("URL", lambda v: isinstance(v, str) and v.startswith(("http://", "https://")))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, Kind):
        return value.name
    return type(value).__name__


# --- differences --------------------------------------------------------------------------------

DiffKind = Literal["status", "missing", "extra", "type", "value", "length"]


@dataclass(frozen=True)
class Diff:
    """One way an answer differs from the documented response, at a dotted `path`."""

    path: str
    kind: DiffKind
    documented: str
    answered: str

    def __str__(self) -> str:
        return (
            f"{self.kind} at {self.path or '<top>'}: docs {self.documented}, answer {self.answered}"
        )


@dataclass(frozen=True)
class Recorded:
    """A difference kept on purpose: `assumption` is the constant of bulkx.sandbox.assumptions
    that records the choice, and `answered` (when given) what the sandbox answers there."""

    path: str
    kind: DiffKind
    assumption: str
    answered: Any = None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compare(documented: Any, answered: Any, path: str = "") -> list[Diff]:
    """Every difference between a documented shape and an answer."""
    here = path
    if isinstance(documented, type):  # list, dict, bool, int, str: any value of that type
        plain_int = documented is int and isinstance(answered, bool)
        if isinstance(answered, documented) and not plain_int:
            return []
        return [Diff(here, "type", documented.__name__, json_type(answered))]
    if isinstance(documented, Kind):
        if documented.test(answered):
            return []
        return [Diff(here, "type", documented.name, _short(answered))]
    if isinstance(documented, dict):
        if not isinstance(answered, dict):
            return [Diff(here, "type", "object", json_type(answered))]
        diffs: list[Diff] = []
        for key, value in documented.items():
            inner = f"{path}.{key}" if path else key
            if key not in answered:
                diffs.append(Diff(inner, "missing", _short(value), "-"))
            else:
                diffs += compare(value, answered[key], inner)
        diffs += [
            Diff(f"{path}.{key}" if path else key, "extra", "-", _short(answered[key]))
            for key in answered
            if key not in documented
        ]
        return diffs
    if isinstance(documented, list):
        if not isinstance(answered, list):
            return [Diff(here, "type", "array", json_type(answered))]
        diffs = []
        if len(documented) != len(answered):
            diffs.append(Diff(here, "length", str(len(documented)), str(len(answered))))
        for index, (doc, ans) in enumerate(zip(documented, answered, strict=False)):
            diffs += compare(doc, ans, f"{path}.{index}" if path else str(index))
        return diffs
    if json_type(documented) != json_type(answered):
        return [Diff(here, "type", json_type(documented), json_type(answered))]
    if documented != answered:
        return [Diff(here, "value", _short(documented), _short(answered))]
    return []


# --- samples ------------------------------------------------------------------------------------

Api = Literal["core", "conference_v1", "conference_v2", "flexml", "mediator"]


@dataclass(frozen=True)
class Sample:
    """A documented request and response.

    `path`, `query` and string values of `body`/`form` may hold `{placeholders}`, filled from
    what the sample's `given` set-up made (a DID's sid, a number it can rent). `response` is the
    documented response as a shape (see `Kind`); None for a 204. `mediator_wrapped`: the
    documented response is in Mediator's `{"body", "status"}` wrapper, which `response` leaves
    out. `recorded` lists the differences kept on purpose; `note` says where the request sent
    differs from the page's (a typo in its JSON, a number our inventory has).
    """

    name: str
    page: str
    api: Api
    method: str
    path: str
    status: int
    response: Any
    given: str = "partner"
    body: Any = None
    form: Mapping[str, str] | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    recorded: tuple[Recorded, ...] = ()
    mediator_wrapped: bool = False
    note: str = ""

    @property
    def as_documented(self) -> bool:
        return not self.recorded


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with `{name}` placeholders in its strings replaced by `values` (a string that is
    exactly one placeholder becomes the value itself, whatever its type)."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value
