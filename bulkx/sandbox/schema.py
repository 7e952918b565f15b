"""Declarative resource definitions: fields with types, defaults and access rules, and the
validation of create / PATCH / PUT bodies against them.

One resource kind is one `Resource(...)` value (see `resources/`), not a copy of the last one.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import FieldError, invalid
from bulkx.sandbox.filters import JsonType

if TYPE_CHECKING:
    from bulkx.sandbox.context import Ctx

#: rw: create and update; ro: server-managed; create: settable only on create;
#: hidden: writable but never returned (passwords).
Access = Literal["rw", "ro", "create", "hidden"]
#: The generic routes a resource can have (`Resource.operations`).
CrudVerb = Literal["list", "get", "create", "update", "delete"]
ALL_OPERATIONS: frozenset[CrudVerb] = frozenset({"list", "get", "create", "update", "delete"})

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Field:
    name: str
    type: JsonType = "str"
    default: Any = None
    access: Access = "rw"
    nullable: bool = True
    choices: tuple[Any, ...] | None = None
    required: bool = False
    max_length: int | None = None
    #: Extra check on a present value; returns an error message or None.
    check: Check | None = None

    def default_value(self) -> Any:
        return copy.deepcopy(self.default)


@dataclass(frozen=True)
class Hooks:
    """Resource-specific behaviour around the generic CRUD. Each may raise ErrorAnswer."""

    before_create: Callable[[Ctx, dict[str, Any]], None] | None = None
    after_create: Callable[[Ctx, dict[str, Any]], None] | None = None
    before_update: Callable[[Ctx, dict[str, Any], dict[str, Any]], None] | None = None
    #: Replaces the plain delete (e.g. releasing a DID ages it instead of removing it).
    delete: Callable[[Ctx, dict[str, Any]], None] | None = None
    before_delete: Callable[[Ctx, dict[str, Any]], None] | None = None
    #: Adds computed fields when rendering (e.g. nested trunks with `with_trunks=true`).
    render: Callable[[Ctx, dict[str, Any]], dict[str, Any]] | None = None
    #: Runs before any list or get, e.g. to bring a view over another API's objects up to date.
    before_read: Callable[[Ctx], None] | None = None


@dataclass(frozen=True)
class Resource:
    name: str
    api: str
    path: str
    sid_field: str
    fields: tuple[Field, ...]
    collection: str = ""
    #: Top-level fields kept in their own indexed SQL columns (fast filters and ordering).
    indexed: tuple[str, ...] = ()
    operations: frozenset[CrudVerb] = ALL_OPERATIONS
    #: Scope area, e.g. "phonenumber" -> phonenumber.manage / .read / .create / .update / .delete.
    scope: str | None = None
    #: Who owns the rows: the partner (Core) or the app account (endpoint APIs).
    owner: Literal["partner", "account"] = "partner"
    hooks: Hooks = Hooks()
    #: Extra query arguments the list/get accept beyond the common ones.
    query_args: tuple[str, ...] = ()
    #: How sids look: "uuid" (Core, v2) or "int" (Conference v1 ids).
    sid_kind: Literal["uuid", "int"] = "uuid"
    #: `limit` of a list sent without one; 0: the documented one for its path
    #: (assumptions.LIST_LIMIT_DEFAULT_BY_PATH, else assumptions.LIST_LIMIT_DEFAULT).
    default_limit: int = 0
    #: Whether its list answers a `total` (assumptions.LISTS_WITHOUT_TOTAL: some answer null).
    counts_total: bool = True

    def __post_init__(self) -> None:
        if not self.collection:
            object.__setattr__(self, "collection", self.name)
        if not self.default_limit:
            limit = assumptions.LIST_LIMIT_DEFAULT_BY_PATH.get(
                self.path, assumptions.LIST_LIMIT_DEFAULT
            )
            object.__setattr__(self, "default_limit", limit)

    @functools.cached_property
    def by_name(self) -> Mapping[str, Field]:
        # Cached: filters ask for field types once per candidate object (browse hot path).
        return {f.name: f for f in self.fields}

    def field_type(self, name: str) -> JsonType | None:
        spec = self.by_name.get(name)
        return spec.type if spec else None

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default_value() for f in self.fields if f.name != self.sid_field}

    def public(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        hidden = {f.name for f in self.fields if f.access == "hidden"}
        return {k: v for k, v in obj.items() if k not in hidden and not k.startswith("_")}


# --- value checks ------------------------------------------------------------------------------

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
}


def _type_ok(kind: JsonType, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def check_value(spec: Field, value: Any) -> str | None:
    if value is None:
        return None if spec.nullable else "must not be null"
    if not _type_ok(spec.type, value):
        return f"must be {_TYPE_NAMES.get(spec.type, spec.type)}"
    if spec.choices is not None and value not in spec.choices:
        return "must be one of " + ", ".join(str(c) for c in spec.choices)
    if spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length:
        return f"must be at most {spec.max_length} characters"
    if spec.check is not None:
        return spec.check(value)
    return None


def pattern(regex: str, message: str) -> Check:
    compiled = re.compile(regex)

    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and compiled.fullmatch(value) else message

    return check


def each_object(allowed: Mapping[str, Field]) -> Check:
    """An array of objects whose keys are `allowed` fields, each checked like a top-level one."""

    def check(value: Any) -> str | None:
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                return f"item {index} must be an object"
            for key, inner in item.items():
                spec = allowed.get(key)
                if spec is None:
                    return f"item {index}: unknown field {key!r}"
                problem = check_value(spec, inner)
                if problem:
                    return f"item {index}: {key} {problem}"
        return None

    return check


# --- bodies --------------------------------------------------------------------------------------


def _unknown(resource: Resource, body: Mapping[str, Any]) -> list[FieldError]:
    known = resource.by_name
    return [FieldError(key, "unknown field") for key in body if key not in known]


def validate_create(resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
    """The new object's values: defaults overlaid with the body; a 422 lists every problem."""
    errors = _unknown(resource, body)
    for spec in resource.fields:
        present = spec.name in body
        if spec.access == "ro" and present:
            errors.append(FieldError(spec.name, "field is read only"))
            continue
        if present:
            problem = check_value(spec, body[spec.name])
            if problem:
                errors.append(FieldError(spec.name, problem))
        elif spec.required:
            errors.append(FieldError(spec.name, "field is required"))
    if errors:
        raise invalid(errors)
    values = resource.defaults()
    values.update({k: copy.deepcopy(v) for k, v in body.items()})
    return values


def validate_update(
    resource: Resource, current: Mapping[str, Any], body: Mapping[str, Any], *, replace: bool
) -> dict[str, Any]:
    """The updated object for PATCH (`replace=False`) or PUT (`replace=True`)."""
    errors = _unknown(resource, body)
    for spec in resource.fields:
        present = spec.name in body
        if spec.access in ("ro", "create"):
            if present and body[spec.name] != current.get(spec.name):
                errors.append(FieldError(spec.name, "field is read only"))
            continue
        if present:
            problem = check_value(spec, body[spec.name])
            if problem:
                errors.append(FieldError(spec.name, problem))
        elif (
            replace
            and assumptions.PUT_REQUIRES_ALL_WRITABLE_FIELDS
            and spec.access == "rw"
            and spec.name != resource.sid_field
        ):
            errors.append(
                FieldError(spec.name, "field is required by PUT (use PATCH to send some)")
            )
    if errors:
        raise invalid(errors)
    updated = dict(current)
    for spec in resource.fields:
        if spec.name in body and spec.access in ("rw", "hidden"):
            updated[spec.name] = copy.deepcopy(body[spec.name])
    return updated


@dataclass
class Registry:
    """All resource definitions, by name."""

    resources: dict[str, Resource] = field(default_factory=dict)

    def add(self, *resources: Resource) -> None:
        for resource in resources:
            known = self.resources.get(resource.name)
            if known is not None and known is not resource:
                raise ValueError(f"two resources are named {resource.name!r}")
            self.resources[resource.name] = resource

    def __getitem__(self, name: str) -> Resource:
        return self.resources[name]


# --- shorthands for resource definitions ------------------------------------------------------


def rw(name: str, type: JsonType = "str", default: Any = None, **options: Any) -> Field:
    return Field(name, type, default, "rw", **options)


def ro(name: str, type: JsonType = "str", default: Any = None, **options: Any) -> Field:
    return Field(name, type, default, "ro", **options)


def create_only(name: str, type: JsonType = "str", default: Any = None, **options: Any) -> Field:
    return Field(name, type, default, "create", **options)


def hidden(name: str, type: JsonType = "str", default: Any = None, **options: Any) -> Field:
    return Field(name, type, default, "hidden", **options)
