"""A change as the API request that carries it out, with references resolved to sids.

Pure: the resolver is filled from live state and from the sids that creates return; nothing
here sends anything.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkx.diff.changes import Blocked, Change, Create, NoOp, Release, RentByCriteria, Update
from bulkx.diff.state import STEP_TAG, LiveState
from bulkx.errors import BulkxError
from bulkx.kinds import KINDS, Kind, PlanField
from bulkx.kinds.model import local_file


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
    #: A raw body (an upload's bytes) sent instead of `body`, whose fields go in `params`.
    content: bytes | None = None


@dataclass
class Resolver:
    """Natural key -> sid, per kind; seeded from live state, grown by creates.

    A run fills it a chunk at a time (the objects each chunk of operations names) and it
    remembers every sid this run's creates return: it grows with the distinct objects the run
    names and creates (one per operation at most, when each names an object of its own, as
    E911 records do their DIDs; a few hundred bytes each). Accepted: a later operation may
    name any object an earlier one made, and nothing here says which ones are done with."""

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
    for spec in kind.fields:
        if not spec.reference or spec.sends_key or values.get(spec.name) in (None, ""):
            continue
        ref_kind = KINDS[spec.reference]
        sid = resolver.sid(ref_kind.name, ref_kind.reference_key(values[spec.name], values))
        out[spec.name] = int(sid) if ref_kind.numeric_sid and sid.isdigit() else sid
    return out


def _path(
    kind: Kind,
    template: str,
    values: Mapping[str, Any],
    resolved: Mapping[str, Any],
    resolver: Resolver,
) -> str:
    """`template` filled in: `{parent_sid}` with the parent's sid, `{field}` with the sid the
    reference field resolved to."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not names:
        return template
    fill = {name: resolved[name] for name in names - {"parent_sid"}}
    if "parent_sid" in names:
        parent = KINDS[kind.parent or ""]
        fill["parent_sid"] = resolver.sid(parent.name, str(values[kind.parent_field or kind.key]))
    return template.format(**fill)


def _endpoint(kind: Kind, values: Mapping[str, Any]) -> str | None:
    return str(values["endpoint"]) if kind.api != "core" and "endpoint" in values else None


def _sid(kind: Kind, change: Update, resolver: Resolver) -> str:
    if change.sid:
        return change.sid
    if kind.creation.same_sid_as:
        return resolver.sid(kind.creation.same_sid_as, str(change.values[kind.key]))
    return resolver.sid(kind.name, change.key)


def request_for(change: Change, resolver: Resolver) -> Request | None:
    """The request that makes `change` happen; None when there is nothing to send."""
    kind = KINDS[change.kind]
    match change:
        case Create():
            # A clear on a create is nothing to send: a new object has no value to empty.
            wanted = {k: v for k, v in change.values.items() if v is not None}
            values = _resolved(kind, wanted, resolver)
            # A field the path carries (a v1 room's subscriber) is not in the body.
            body = kind.to_api({k: v for k, v in values.items() if k not in kind.path_fields})
            if kind.rentable:
                # Renting takes the number plus writable fields in one request.
                body = {k: v for k, v in body.items() if v is not None}
            path = _path(kind, kind.creation.path or kind.path, wanted, values, resolver)
            upload = next((f for f in kind.fields if f.type == "file" and f.name in values), None)
            if upload is not None:
                return _upload(kind, path, body, upload, change)
            if kind.creation.query_fields or kind.creation.params:
                return _with_query(kind, path, body, change)
            return Request(kind.api, "POST", path, body, _endpoint(kind, wanted))
        case Update():
            values = _resolved(kind, change.values, resolver)
            managed = {
                name: value
                for name, value in values.items()
                if name in kind.by_name
                and kind.by_name[name].api_name is not None
                and name != kind.key
                and not kind.by_name[name].create_only
            }
            body = kind.to_api(managed)
            base = _path(kind, kind.path, change.values, values, resolver)
            if kind.singleton and kind.parent:
                return Request(kind.api, kind.update_method, base, body)
            return Request(
                kind.api,
                kind.update_method,
                f"{base}/{_sid(kind, change, resolver)}",
                body,
                _endpoint(kind, change.values),
            )
        case Release():
            base = _path(kind, kind.path, change.values, {}, resolver)
            if kind.release_body is not None:
                return Request(
                    kind.api,
                    kind.update_method,
                    f"{base}/{change.sid}",
                    dict(kind.release_body),
                    _endpoint(kind, change.values),
                )
            return Request(
                kind.api, "DELETE", f"{base}/{change.sid}", None, _endpoint(kind, change.values)
            )
        case NoOp() | Blocked() | RentByCriteria():
            return None


def _upload(
    kind: Kind, path: str, body: dict[str, Any], spec: PlanField, change: Create
) -> Request:
    """A create whose body is a local file's bytes, its other fields as query arguments (the
    upload form that needs no multipart encoding)."""
    source = local_file(change.values[spec.name], change.position.file)
    try:
        data = source.read_bytes()
    except OSError as error:  # gone since the plan was made: this operation fails, no other
        raise UnresolvedReference(f"cannot read the local file {str(source)!r}: {error}") from None
    params = {
        name: _query_value(value)
        for name, value in body.items()
        if name != spec.api_name and value is not None
    }
    return Request(kind.api, "POST", path, None, _endpoint(kind, change.values), params, data)


def object_request(change: Release, resolver: Resolver) -> Request:
    """The GET of the object a release deletes: after a lost answer, a 404 means it is gone."""
    delete = request_for(change, resolver)
    assert delete is not None
    return Request(delete.api, "GET", delete.path, None, delete.endpoint)


def sid_lookup_request(change: Update, resolver: Resolver) -> Request | None:
    """For an update of an object whose sid the run cannot know in advance (the account of an
    endpoint the same run creates): the list request whose one item is that object
    (`sid_from_lookup` reads its sid). None when the sid is known or comes from another kind."""
    kind = KINDS[change.kind]
    if change.sid or kind.creation.same_sid_as or not kind.per_endpoint:
        return None
    if (kind.name, change.key) in resolver.sids:
        return None
    return Request(kind.api, "GET", kind.path, None, _endpoint(kind, change.values))


def sid_from_lookup(change: Update, response: Any) -> str | None:
    """The sid in the answer to `sid_lookup_request` (a list envelope), if it holds one."""
    items = response.get("items") if isinstance(response, dict) else None
    if not items:
        return None
    sid = items[0].get(KINDS[change.kind].sid_field)
    return None if sid is None else str(sid)


def _with_query(kind: Kind, path: str, body: dict[str, Any], change: Create) -> Request:
    """A create whose API takes (some of) its fields as query arguments (a verification SMS)."""
    params = dict(kind.creation.params)
    for name in kind.creation.query_fields:
        api_name = kind.by_name[name].api_name or name
        value = body.pop(api_name, None)
        if value not in (None, ""):
            params[api_name] = _query_value(value)
    return Request(kind.api, "POST", path, body or None, _endpoint(kind, change.values), params)


def _query_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def created_sid(kind_name: str, response: Any) -> str | None:
    """The sid a create answered with."""
    if isinstance(response, dict):
        value = response.get(KINDS[kind_name].sid_field)
        return None if value is None else str(value)
    return None


def answer_result(kind_name: str, response: Any) -> dict[str, Any] | None:
    """What of a create's answer the kind keeps for the report (a verification's code)."""
    fields = KINDS[kind_name].creation.answer_fields
    if not fields or not isinstance(response, dict):
        return None
    return {name: response.get(name) for name in fields}


#: The attribute naming the operation that rented a number: finds it again after a lost answer.
OP_TAG = "bulkx_op"


def rent_request(
    change: RentByCriteria, number: str, resolver: Resolver, op_key: str | None = None
) -> Request:
    """Rent `number` for a rent-by-criteria step, tagged with the step (so a re-plan counts it)
    and with the operation (so an unknown outcome can be reconciled)."""
    kind = KINDS[change.kind]
    wanted = {k: v for k, v in change.template.items() if v is not None}
    template = _resolved(kind, wanted, resolver)
    body = {k: v for k, v in kind.to_api(template).items() if v is not None}
    attributes = dict(body.get("attributes") or {})
    attributes[STEP_TAG] = change.step
    if op_key:
        attributes[OP_TAG] = op_key
    return Request(
        kind.api, "POST", kind.path, {**body, kind.key: number, "attributes": attributes}
    )


def rent_requests(change: RentByCriteria, numbers: list[str], resolver: Resolver) -> list[Request]:
    return [rent_request(change, n, resolver) for n in numbers]
