"""JSON text exactly as `json.dumps(value, indent=2, default=str)` writes it, several times
faster, whole or one nested value at a time (a changeset's changes, written as they come).

With an indent the stdlib encodes every token in Python (the C encoder takes none). Here each
container of plain values (most of a changeset: a no-op, a field change, a change's values) is
one call of the C encoder, its item separator carrying the newline and indent; only containers
holding containers are walked in Python.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

#: What the C encoder writes as one token (bool is an int).
_SCALARS = (str, int, float, type(None))


class _NotPlain(Exception):
    """A key the fast path does not encode (not a string): the stdlib encodes it all."""


def indented_json(document: Any) -> str:
    """Exactly `json.dumps(document, indent=2, default=str)`."""
    return indented_at(document, 0)


def indented_at(value: Any, level: int) -> str:
    """`value` as `json.dumps(..., indent=2, default=str)` writes it `level` containers deep
    (its inner lines indented for that depth; its first line not)."""
    parts: list[str] = []
    try:
        _indented(value, level, parts)
    except _NotPlain:
        return json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * level)
    return "".join(parts)


def indented_joined(values: Sequence[Any], level: int) -> str:
    """`(",\n" + "  " * level).join(indented_at(v, level) for v in values)`: a list's items as
    `json.dumps(..., indent=2, default=str)` writes them. A run of flat dicts (every value
    plain: most of a changeset's changes) is one call of the C encoder, not one each."""
    texts: list[str] = []
    run: list[Any] = []
    for value in values:
        if type(value) is dict and value and all(isinstance(v, _SCALARS) for v in value.values()):
            run.append(value)
            continue
        if run:
            texts.append(_flat_dicts(run, level))
            run = []
        texts.append(indented_at(value, level))
    if run:
        texts.append(_flat_dicts(run, level))
    return (",\n" + "  " * level).join(texts)


def _flat_dicts(dicts: list[Any], level: int) -> str:
    """Non-empty dicts of plain values, `level` deep, joined as `indented_joined` joins them.
    The list of them is encoded as one: its item separator (a comma, a new line and the
    dicts' inner indent) is right inside each dict, and between two dicts, where it stands
    between a "}" and a "{", it is made the outer line break. A new line inside a string
    is escaped, so that sequence is never part of a value."""
    encoded = _flat_encoder(level)(dicts)
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    between = "}," + inner + "{"
    body = encoded[2:-2].replace(between, outer + "}," + outer + "{" + inner)
    return "{" + inner + body + outer + "}"


@functools.cache
def _flat_encoder(level: int) -> Callable[[Any], str]:
    """The encoder of a container of plain values `level` deep: one C call (made once per
    level; `json.dumps` with a separator builds a new encoder on every call)."""
    separator = ",\n" + "  " * (level + 1)
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:  # a Python without the C encoder
        return json.JSONEncoder(default=str, separators=(separator, ": ")).encode
    # As `JSONEncoder.iterencode` builds it for `json.dumps(default=str)` (no circular check:
    # a changeset is a tree), with this separator.
    encode = make(
        None, str, json.encoder.encode_basestring_ascii, None, ": ", separator, False, False, True
    )

    def encoded(value: Any) -> str:
        return "".join(encode(value, 0))

    return encoded


def _indented(value: Any, level: int, parts: list[str]) -> None:
    is_dict = isinstance(value, dict)
    if not (is_dict or isinstance(value, list | tuple)):
        parts.append(_flat_encoder(0)(value))
        return
    if not value:
        parts.append("{}" if is_dict else "[]")
        return
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    items = value.values() if is_dict else value
    if all(isinstance(item, _SCALARS) for item in items):
        flat = _flat_encoder(level)(value)
        parts.append(flat[0] + inner + flat[1:-1] + outer + flat[-1])
        return
    parts.append("{" if is_dict else "[")
    encode_text = json.encoder.encode_basestring_ascii
    for index, (key, item) in enumerate(value.items() if is_dict else enumerate(value)):
        parts.append(("," + inner) if index else inner)
        if is_dict:
            if not isinstance(key, str):
                raise _NotPlain
            parts.append(encode_text(key) + ": ")
        if isinstance(item, str):  # most values of a change: no call of an encoder for it
            parts.append(encode_text(item))
        else:
            _indented(item, level + 1, parts)
    parts.append(outer + ("}" if is_dict else "]"))
