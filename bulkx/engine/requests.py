"""A change as the API request that carries it out, with references resolved to sids.

Pure: the resolver is filled from live state and from the sids that creates return; nothing
here sends anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkx.diff.changes import Blocked, Change, Create, NoOp, Release, RentByCriteria, Update
from bulkx.diff.state import STEP_TAG, LiveState, scope_field
from bulkx.errors import BulkxError
from bulkx.resources import KINDS, Kind


class UnresolvedReference(BulkxError):
    """A change names an object that neither exists live nor was created before it."""


@dataclass(frozen=True)
class Request:
    api: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    #: For app APIs: which endpoint's credentials (by name).
    endpoint: str | None = None
    params: dict[str, str] | None = None


@dataclass
class Resolver:
    """Natural key -> sid, per kind; seeded from live state, grown by creates."""

    sids: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_live(cls, live: LiveState) -> Resolver:
        resolver = cls()
        for kind, objects in live.objects.items():
            for key, obj in objects.items():
                if obj.sid:
                    resolver.sids[(kind, key)] = obj.sid
        return resolver

    def remember(self, kind: str, key: str, sid: str) -> None:
        self.sids[(kind, key)] = sid

    def sid(self, kind: str, key: str) -> str:
        try:
            return self.sids[(kind, key)]
        except KeyError:
            raise UnresolvedReference(f"no {kind} {key!r} exists or was created") from None


def _resolved(kind: Kind, values: Mapping[str, Any], resolver: Resolver) -> dict[str, Any]:
    """Plan values with every reference turned into the referenced object's sid."""
    out = dict(values)
    scope = values.get(scope_field(kind) or "")
    for spec in kind.fields:
        if not spec.reference or spec.name not in values or values[spec.name] in (None, ""):
            continue
        ref_kind = KINDS[spec.reference]
        name = str(values[spec.name])
        key = f"{scope}/{name}" if scope_field(ref_kind) and scope is not None else name
        out[spec.name] = resolver.sid(ref_kind.name, key)
    return out


def _path(kind: Kind, values: Mapping[str, Any], resolver: Resolver) -> str:
    if "{parent_sid}" not in kind.path:
        return kind.path
    parent = KINDS[kind.parent or ""]
    parent_name = str(values[kind.parent_field or kind.key])
    return kind.path.format(parent_sid=resolver.sid(parent.name, parent_name))


def _endpoint(kind: Kind, values: Mapping[str, Any]) -> str | None:
    return str(values["endpoint"]) if kind.api != "core" and "endpoint" in values else None


def request_for(change: Change, resolver: Resolver) -> Request | None:
    """The request that makes `change` happen; None when there is nothing to send."""
    kind = KINDS[change.kind]
    match change:
        case Create():
            values = _resolved(kind, change.values, resolver)
            body = kind.to_api(values)
            if kind.name == "did":
                # Renting takes the number plus writable fields in one request.
                body = {k: v for k, v in body.items() if v is not None}
            return Request(kind.api, "POST", _path(kind, change.values, resolver), body,
                           _endpoint(kind, change.values))  # fmt: skip
        case Update():
            values = _resolved(kind, change.values, resolver)
            managed = {
                name: value
                for name, value in values.items()
                if name in kind.by_name and kind.by_name[name].api_name is not None
                and name != kind.key and not kind.by_name[name].create_only
            }  # fmt: skip
            body = kind.to_api(managed)
            if kind.singleton and kind.parent:
                return Request(kind.api, "PATCH", _path(kind, change.values, resolver), body)
            if change.sid:
                sid = change.sid
            elif kind.same_sid_as:
                sid = resolver.sid(kind.same_sid_as, str(change.values[kind.key]))
            else:
                sid = resolver.sid(kind.name, change.key)
            base = _path(kind, change.values, resolver)
            return Request(kind.api, "PATCH", f"{base}/{sid}", body, _endpoint(kind, change.values))
        case Release():
            return Request(kind.api, "DELETE", f"{kind.path}/{change.sid}")
        case NoOp() | Blocked() | RentByCriteria():
            return None


def created_sid(kind_name: str, response: Any) -> str | None:
    """The sid a create answered with."""
    if isinstance(response, dict):
        value = response.get(KINDS[kind_name].sid_field)
        return None if value is None else str(value)
    return None


#: The attribute naming the operation that rented a number: finds it again after a lost answer.
OP_TAG = "bulkx_op"


def rent_request(
    change: RentByCriteria, number: str, resolver: Resolver, op_key: str | None = None
) -> Request:
    """Rent `number` for a rent-by-criteria step, tagged with the step (so a re-plan counts it)
    and with the operation (so an unknown outcome can be reconciled)."""
    kind = KINDS["did"]
    template = _resolved(kind, change.template, resolver)
    body = {k: v for k, v in kind.to_api(template).items() if v is not None}
    attributes = dict(body.get("attributes") or {})
    attributes[STEP_TAG] = change.step
    if op_key:
        attributes[OP_TAG] = op_key
    return Request(
        "core", "POST", kind.path, {**body, "phonenumber": number, "attributes": attributes}
    )


def rent_requests(change: RentByCriteria, numbers: list[str], resolver: Resolver) -> list[Request]:
    return [rent_request(change, n, resolver) for n in numbers]
