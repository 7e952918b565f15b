"""A DID's E911 and line information: one record of each per DID, served under the DID's path
(get, patch, put, delete). An enabled E911 record must carry a dispatchable address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import load
from bulkx.sandbox.errors import FieldError, invalid
from bulkx.sandbox.http import require_object
from bulkx.sandbox.resources.dids import DID
from bulkx.sandbox.schema import Field, Resource, each_object, pattern, rw, validate_update

_address: dict[str, Field] = {
    "address_1": rw("address_1", max_length=60),
    "address_2": rw("address_2", max_length=60),
    "city": rw("city", max_length=40),
    "country_code": rw("country_code", check=pattern(r"[A-Z]{3}", "must be an ISO alpha-3 code")),
    "state": rw("state", check=pattern(r"[A-Z]{2}", "must be a 2-letter state code")),
    "zip": rw("zip", check=pattern(r"\d{5}(-?\d{4})?", "must be a 5-digit ZIP (or ZIP+4)")),
}

EMERGENCY = Resource(
    name="did_emergency",
    api="core",
    path="/phonenumber/dids/{sid}/emergency",
    sid_field="_did_sid",
    collection="did_emergency",
    scope="phonenumber.emergency",
    operations=frozenset(),
    fields=(
        rw("caller_name", default="", max_length=32),
        rw("enabled", "bool", False, nullable=False),
        rw("locations", "array", [], nullable=False, check=each_object(_address)),
    ),
)

LINE_INFORMATION = Resource(
    name="did_line_information",
    api="core",
    path="/phonenumber/dids/{sid}/line_information",
    sid_field="_did_sid",
    collection="did_line_information",
    scope="phonenumber.line_information",
    operations=frozenset(),
    fields=(
        rw("caller_name", default="", max_length=15),
        rw("class_of_service", default="none", choices=("business", "none", "residential")),
        rw("enabled", "bool", False, nullable=False),
        rw("extended_business_name", default=""),
        rw("extended_first_name", default=""),
        rw("extended_last_name", default=""),
        rw("privacy", default="public", choices=("public", "private")),
        rw(
            "screening",
            default="block_third_number_collect",
            choices=(
                "allow_all",
                "block_collect",
                "block_third_number",
                "block_third_number_collect",
            ),
        ),
    ),
)


def _e911_complete(record: Mapping[str, Any]) -> None:
    """An enabled E911 record must carry a dispatchable address: PSAP routing needs it."""
    if not record.get("enabled"):
        return
    errors: list[FieldError] = []
    locations = record.get("locations") or []
    if not locations:
        errors.append(FieldError("locations", "an enabled emergency record needs a location"))
    for i, loc in enumerate(locations):
        for key in ("address_1", "city", "state", "zip"):
            if not loc.get(key):
                errors.append(FieldError(f"locations[{i}].{key}", "is required when enabled"))
    if errors:
        raise invalid(errors)


def sub_record(resource: Resource, method: str, verb: str) -> Any:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> Any:
        ctx.principal.require_scope(resource.scope, verb)
        store = ctx.world.store
        with store.transaction():
            load(ctx, DID, params["sid"])  # 404 for a DID that is not the caller's
            sid = params["sid"]
            current = store.get(resource.collection, sid) or resource.defaults()
            if method == "GET":
                return resource.public(current)
            if method == "DELETE":
                store.delete(resource.collection, sid)
                return None
            updated = validate_update(
                resource, current, require_object(body), replace=method == "PUT"
            )
            if resource is EMERGENCY:
                _e911_complete(updated)
            if store.get(resource.collection, sid) is None:
                store.insert(resource.collection, sid, ctx.owner, updated)
            else:
                store.replace(resource.collection, sid, updated)
            return resource.public(updated)

    return operation
