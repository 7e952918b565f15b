"""The plan author's reference, from the kind definitions themselves: `bulkx kinds`, `bulkx kinds
KIND` and docs/kinds.md (`python -m bulkx.kinds.reference > docs/kinds.md`) all come from
here, so the documentation cannot drift from what validation checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from bulkx.kinds.model import Kind, PlanField
from bulkx.kinds.registry import KINDS

#: What an empty CSV cell (or a YAML key left out) means for a field the plan does not set.
EMPTY_CELL = "left as it is"
#: How a plan clears a field that can be cleared (bulkx.plan.model.CLEAR_MARKER).
HOW_TO_CLEAR = (
    "To empty a field, write `<clear>` in its CSV cell, or give its YAML key the value null"
    ' (`~`, or nothing after the colon) or `""`. Only optional fields the API has an empty value'
    " for can be cleared (not booleans, numbers, choices or fields with a default), and never"
    " the key; `bulkx validate` points at any other clear."
)
REGENERATE = "python -m bulkx.kinds.reference > docs/kinds.md"


def _empty(kind: Kind, spec: PlanField) -> str:
    """What an empty cell means for this field, and what a clear sends."""
    if spec.name == kind.key:
        return "-"
    if spec.default is not None and spec.api_name is not None and not spec.create_only:
        # A step without the column at all wants the default (validation adds it).
        default = str(spec.default).lower() if isinstance(spec.default, bool) else spec.default
        return f"{EMPTY_CELL} (no such column: {default}); cannot be cleared"
    if not kind.can_clear(spec.name):
        return f"{EMPTY_CELL} (cannot be cleared)"
    sent = "null" if spec.empty_value is None else json.dumps(spec.empty_value)
    return f"{EMPTY_CELL}; <clear> sends {sent}"


def _type(spec: PlanField) -> str:
    if spec.reference:
        return f"name of a {spec.reference}"
    return spec.type


def _allowed(spec: PlanField) -> str:
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.max_length:
        return f"at most {spec.max_length} characters"
    return ""


def _api_field(kind: Kind, spec: PlanField) -> str:
    if spec.api_name is None:
        return "(plan only)"
    name = spec.api_name
    if spec.reference and not spec.sends_key:
        return f"{name} (as the sid)"
    return name


def field_rows(kind: Kind) -> list[dict[str, Any]]:
    """One row per field: what `bulkx kinds KIND` prints and docs/kinds.md tabulates."""
    rows = []
    for spec in kind.fields:
        notes = []
        if spec.name == kind.key:
            notes.append("the key")
        if spec.create_only:
            notes.append("set at creation only")
        if spec.default is not None:
            notes.append(f"default {spec.default}")
        rows.append(
            {
                "field": spec.name,
                "type": _type(spec),
                "required": spec.required or spec.name == kind.key,
                "allowed": _allowed(spec),
                "empty": _empty(kind, spec),
                "api_field": _api_field(kind, spec),
                "doc": "; ".join([spec.doc.rstrip("."), *notes] if spec.doc else notes),
            }
        )
    return rows


def kind_summary(kind: Kind) -> dict[str, Any]:
    can = [op for op in ("create", "update", "delete") if op in kind.operations]
    return {
        "kind": kind.name,
        "api": kind.api,
        "path": kind.path,
        "key": kind.key,
        "can": ", ".join(can),
        "doc": kind.doc.split("\n")[0],
    }


def _cell(value: Any) -> str:
    text = "yes" if value is True else "" if value is False else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> Iterator[str]:
    """docs/kinds.md."""
    yield "# Kinds and their fields"
    yield ""
    yield f"Generated from bulkx/kinds by `{REGENERATE}`; `bulkx kinds KIND` prints the same."
    yield f"An empty CSV cell, or a YAML key left out, means: {EMPTY_CELL}. {HOW_TO_CLEAR}"
    yield ""
    yield "| kind | API | path | key | bulkx can | what it is |"
    yield "|---|---|---|---|---|---|"
    for kind in sorted(KINDS.values(), key=lambda k: k.name):
        row = kind_summary(kind)
        yield "| " + " | ".join(_cell(v) for v in row.values()) + " |"
    for kind in sorted(KINDS.values(), key=lambda k: k.name):
        yield ""
        yield f"## {kind.name}"
        yield ""
        yield kind.doc.strip()
        yield ""
        yield "| field | type | required | allowed values | empty cell | API field | notes |"
        yield "|---|---|---|---|---|---|---|"
        for field in field_rows(kind):
            yield "| " + " | ".join(_cell(v) for v in field.values()) + " |"


if __name__ == "__main__":
    print("\n".join(markdown()))
