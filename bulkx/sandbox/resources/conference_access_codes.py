"""Shared by both conference mounts (`conference_v1`, `conference_v2`): access codes unique per
account, and references to the account's objects.

Its own module so that neither mount imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.errors import ErrorAnswer, FieldError, invalid
from bulkx.sandbox.schema import Check, Resource, pattern, ro

dtmf: Check = pattern(
    assumptions.CONFERENCE_ACCESS_CODE_PATTERN, "must be DTMF digits (0-9), at most 32"
)

#: One row per access code in use: sid "<account_sid>:<code>", naming the room that holds it.
ACCESS_CODE = Resource(
    name="conference_access_code",
    api="conference",
    path="",
    sid_field="_sid",
    collection="conference_access_codes",
    operations=frozenset(),
    fields=(ro("access_code"), ro("holder")),
)


def claim_access_codes(
    ctx: Ctx, holder: str, codes: list[str], previous: Iterable[str], field: str
) -> None:
    """Give `codes` to the room `holder` (which held `previous`): 422 for a code twice in the list,
    ACCESS_CODE_COLLISION_STATUS naming the holding room for a code another room holds."""
    seen: set[str] = set()
    twice: list[str] = []
    for code in codes:
        if code in seen:
            twice.append(code)
        seen.add(code)
    if twice:
        raise ErrorAnswer(
            assumptions.CONFERENCE_DUPLICATE_ACCESS_CODE_STATUS,
            assumptions.MESSAGE_BY_STATUS[422],
            [FieldError(field, f"access code {c} is given twice in this room") for c in twice],
        )
    store = ctx.world.store
    taken: list[FieldError] = []
    for code in codes:
        row = store.get(ACCESS_CODE.collection, f"{ctx.owner}:{code}")
        if row is not None and row["holder"] != holder:
            message = f"access code {code} is used by another meeting room"
            taken.append(FieldError(field, message, row["holder"]))
    if taken:
        raise ErrorAnswer(assumptions.ACCESS_CODE_COLLISION_STATUS, taken[0].message, taken)
    held = set(previous)
    release_access_codes(ctx, held - seen)
    for code in codes:
        if code not in held:
            row = {"access_code": code, "holder": holder}
            store.insert(ACCESS_CODE.collection, f"{ctx.owner}:{code}", ctx.owner, row)


def release_access_codes(ctx: Ctx, codes: Iterable[str]) -> None:
    for code in codes:
        ctx.world.store.delete(ACCESS_CODE.collection, f"{ctx.owner}:{code}")


def code_in_use(ctx: Ctx, code: str) -> bool:
    return ctx.world.store.get(ACCESS_CODE.collection, f"{ctx.owner}:{code}") is not None


def must_exist(ctx: Ctx, obj: Mapping[str, Any], field: str, resource: Resource, what: str) -> None:
    """422 when `obj[field]` names no `resource` object of the caller's account."""
    sid = obj.get(field)
    if (
        sid is not None
        and ctx.world.store.get(resource.collection, str(sid), owner=ctx.owner) is None
    ):
        raise invalid([FieldError(field, f"no {what} with this id on the account", str(sid))])
