"""A JSON Schema for plan files, generated from the kinds so editors can autocomplete plans."""

from __future__ import annotations

from typing import Any

from bulkx.kinds.model import Kind, PlanField
from bulkx.kinds.registry import KINDS
from bulkx.plan.load import CRITERIA_KEYS

SCHEMA_ID = "https://bulkx.dev/schema/plan.schema.json"

# YAML authors write numbers unquoted and CSV cells are text, so scalar fields accept both.
_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": ["string", "number"]},
    "int": {"type": ["integer", "string"], "pattern": r"^\s*-?\d+\s*$"},
    "bool": {"type": ["boolean", "string", "integer"]},
    "e164": {"type": ["string", "integer"]},
    "url": {"type": "string", "pattern": "^https?://"},
    "state": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    "zip": {"type": ["string", "integer"], "pattern": r"^\d{5}(-\d{4})?$"},
    "alpha3": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    "digits": {"type": ["string", "integer"], "pattern": r"^\d+$"},
    "object": {"type": "object"},
    "list": {"type": ["array", "string"], "items": {"type": ["string", "number"]}},
    "enum": {"type": "string"},
    "file": {"type": "string"},
}


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _field(spec: PlanField, clearable: bool = False) -> dict[str, Any]:
    out = dict(_TYPES[spec.type])
    if clearable:  # null (or "<clear>") clears it
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if spec.choices and spec.type == "list":  # each item one of them
        out = {**out, "items": {"enum": list(spec.choices)}}
    elif spec.choices:
        out = {"enum": list(spec.choices)}
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    description = spec.doc or ""
    if spec.reference:
        description = (description + " " if description else "") + (
            f"Names {_article(spec.reference)} {spec.reference} by its {KINDS[spec.reference].key}."
        )
    if description:
        out["description"] = description
    if spec.default is not None:
        out["default"] = spec.default
    return out


def _step(kind: Kind) -> dict[str, Any]:
    fields = {f.name: _field(f, kind.can_clear(f.name)) for f in kind.fields}
    item = {"type": "object", "properties": fields, "additionalProperties": False}
    step: dict[str, Any] = {
        "type": "object",
        "description": kind.doc,
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": kind.name},
            "name": {"type": "string", "description": "The step's name in reports."},
            "key": {"const": kind.key, "description": "The natural key (optional)."},
            "items": {"type": "array", "items": item},
            "source": {"type": "string", "description": "A CSV file, relative to the plan."},
            "defaults": {
                "type": "object",
                "properties": fields,
                "additionalProperties": False,
                "description": "Values for every item; '{column}' inserts a row's column.",
            },
            "columns": {
                "type": "object",
                "propertyNames": {"enum": list(kind.by_name)},
                "additionalProperties": {"type": "string"},
                "description": "plan field: CSV column renames.",
            },
        },
    }
    if kind.rentable:  # a `count:` step rents numbers by criteria
        template = {k: v for k, v in fields.items() if k != kind.key}
        step["properties"].update(
            count={"type": "integer", "minimum": 1, "description": "Rent this many numbers."},
            criteria={
                "type": "object",
                "properties": {k: {"type": ["string", "integer"]} for k in CRITERIA_KEYS},
                "additionalProperties": False,
            },
            template={"type": "object", "properties": template, "additionalProperties": False},
        )
    return step


def plan_schema() -> dict[str, Any]:
    steps = {"type": "array", "items": {"$ref": "#/$defs/step"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "bulkx plan",
        "description": "Steps of CarrierX objects that should exist (bulkx validate / plan).",
        "oneOf": [
            {
                "type": "object",
                "required": ["steps"],
                "additionalProperties": False,
                "properties": {"version": {"const": 1}, "steps": steps},
            },
            steps,
        ],
        "$defs": {
            "step": {"oneOf": [{"$ref": f"#/$defs/{_ref(k)}"} for k in KINDS]},
            **{_ref(name): _step(kind) for name, kind in KINDS.items()},
        },
    }


def _ref(kind: str) -> str:
    return "step_" + kind.replace(".", "_")
