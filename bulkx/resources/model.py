"""The shape of a kind definition, and the default mapping between plan values and API objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: Value types a plan field can have. `e164` is normalised to digits without '+'.
FieldType = Literal[
    "str", "int", "bool", "e164", "url", "state", "zip", "alpha3", "digits", "object", "enum"
]  # fmt: skip
Api = Literal["core", "conference_v2", "conference", "flexml", "mediator"]


@dataclass(frozen=True)
class PlanField:
    """One column of a plan CSV / one key of a YAML item."""

    name: str
    type: FieldType = "str"
    #: The API field it maps to (None: the plan-only field, e.g. `ensure`).
    api: str | None = ""
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    required: bool = False
    #: The kind this field names an object of, by natural key; resolved to that object's sid.
    reference: str | None = None
    #: Settable only when the object is created (a change of it on a live object is drift that
    #: the plan cannot fix, e.g. an endpoint's type).
    create_only: bool = False
    default: Any = None
    doc: str = ""

    @property
    def api_name(self) -> str | None:
        if self.api == "":
            return self.name
        return self.api


ToApi = Callable[[Mapping[str, Any]], dict[str, Any]]
FromApi = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    name: str
    api: Api
    #: Collection path under the API base; `{parent_sid}` is the parent object's sid.
    path: str
    sid_field: str
    #: The plan field that identifies an object (its natural key), and the API field holding it.
    key: str
    fields: tuple[PlanField, ...]
    doc: str
    #: For sub-records (E911, line information) and nested objects (trunks): the parent kind,
    #: and the plan field that names the parent.
    parent: str | None = None
    parent_field: str | None = None
    #: A sub-record exists whenever its parent does: it is read and patched, never created.
    singleton: bool = False
    #: The API field the natural key is read from on live objects.
    key_api: str = ""
    #: A view of another kind's object with the same sid (a conference_v2 DID is a Core DID
    #: routed to the endpoint): its sid is known from that kind before the view shows it.
    same_sid_as: str | None = None
    #: Custom mapping for kinds whose API shape differs from the plan's flat columns.
    to_api_hook: ToApi | None = field(default=None, repr=False)
    from_api_hook: FromApi | None = field(default=None, repr=False)

    @property
    def by_name(self) -> dict[str, PlanField]:
        return {f.name: f for f in self.fields}

    @property
    def key_field(self) -> str:
        return self.key_api or self.key

    def to_api(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """API body fields for plan values (references must already be resolved to sids)."""
        if self.to_api_hook is not None:
            return self.to_api_hook(values)
        body: dict[str, Any] = {}
        for spec in self.fields:
            api_name = spec.api_name
            if api_name is not None and spec.name in values:
                body[api_name] = values[spec.name]
        return body

    def from_api(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Plan-shaped values of a live object (references still as sids, under plan names)."""
        if self.from_api_hook is not None:
            return self.from_api_hook(obj)
        out: dict[str, Any] = {}
        for spec in self.fields:
            api_name = spec.api_name
            if api_name is not None and api_name in obj:
                out[spec.name] = obj[api_name]
        return out
