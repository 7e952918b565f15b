"""Core phone-number objects beyond DIDs: short codes, inventory coverage and DID tier rates."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import field_type_of, list_from_objects
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request
from bulkx.sandbox.filters import matches
from bulkx.sandbox.http import Api, Raw
from bulkx.sandbox.inventory import CLASSIFICATION_SID, NUMBERS_PER_BLOCK
from bulkx.sandbox.listing import envelope, parse_list_query
from bulkx.sandbox.resources.dids import check_reference
from bulkx.sandbox.schema import Hooks, Resource, ro, rw
from bulkx.sandbox.world import World

# --- short codes (made by support: the API reads and updates them) ----------------------------

#: The states of the seeded short codes, in turn.
_SHORT_CODE_STATES = ("IL", "NY", "CA", "TX")


def _seed_short_codes(ctx: Ctx) -> None:
    """A partner's short codes, made on its first read: the same for a given seed and partner."""
    store = ctx.world.store
    key = f"short_codes_seeded:{ctx.owner}"
    if store.get_meta(key) is not None:
        return
    with store.transaction():
        if store.get_meta(key) is not None:
            return
        for index in range(assumptions.SHORT_CODES_PER_PARTNER):
            sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.world.seed}:{ctx.owner}:sc{index}"))
            code = f"{20000 + uuid.UUID(sid).int % 80000:05d}"
            obj = {**SHORT_CODE.defaults(), "short_code": code, "short_code_sid": sid}
            obj.update(
                state=_SHORT_CODE_STATES[index % len(_SHORT_CODE_STATES)],
                partner_sid=ctx.principal.partner_sid,
            )
            store.insert(SHORT_CODE.collection, sid, ctx.owner, obj)
        store.set_meta(key, "1")


def _short_code_references(ctx: Ctx, _current: dict[str, Any], updated: dict[str, Any]) -> None:
    check_reference(ctx, updated, "did_group_sid", "did_groups")


SHORT_CODE = Resource(
    name="short_code",
    api="core",
    path="/phonenumber/short_codes",
    sid_field="short_code_sid",
    collection="short_codes",
    indexed=("short_code",),
    scope="phonenumber",
    operations=frozenset({"list", "get", "update"}),
    query_args=("with_related",),
    fields=(
        rw("attributes", "object", {}, nullable=False),
        rw("callback_url"),
        ro("country_code", default="USA"),
        rw("did_group_sid"),
        ro("locality"),
        ro("lrn_sid"),
        rw("name", default="N/A", nullable=False, max_length=255),
        ro("partner_sid"),
        ro("short_code"),
        ro("short_code_sid"),
        ro("state"),
        rw("string_key_1"),
        rw("string_key_2"),
    ),
    hooks=Hooks(before_read=_seed_short_codes, before_update=_short_code_references),
)


# --- coverage: available numbers per group ----------------------------------------------------

#: The filterable fields of a coverage group's numbers (documented), typed for the filter.
COVERAGE_SOURCE = Resource(
    name="coverage_source",
    api="core",
    path="/phonenumber/coverage",
    sid_field="_key",
    collection="dids",
    operations=frozenset(),
    fields=(
        ro("capabilities", "int"),
        ro("country_code"),
        ro("locality"),
        ro("npa"),
        ro("npa_nxx"),
        ro("state"),
    ),
)


def browse_coverage(ctx: Ctx) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "read")
    group_by = ctx.query.get("group_by") or ""
    if group_by not in assumptions.COVERAGE_GROUP_BY:
        raise bad_request(
            "group_by must be one of " + ", ".join(assumptions.COVERAGE_GROUP_BY), "group_by"
        )
    q = parse_list_query(ctx.query, cursors=False)
    for cond in q.conditions:
        if cond.field not in COVERAGE_SOURCE.by_name or len(cond.path) > 1:
            raise ErrorAnswer(
                assumptions.UNKNOWN_FILTER_FIELD_STATUS,
                f"filter: unknown field {cond.field!r}",
                [FieldError("filter", "coverage filters: " + ", ".join(COVERAGE_SOURCE.by_name))],
            )
    world = ctx.world
    counts: dict[str, int] = {}
    for block in world.inventory.blocks:
        attrs = {
            "capabilities": block.capabilities,
            "country_code": "USA",
            "locality": block.locality,
            "npa": block.npa,
            "npa_nxx": block.npa + block.nxx,
            "state": block.state,
        }
        if not matches(attrs, q.conditions, field_type_of(COVERAGE_SOURCE)):
            continue
        available = NUMBERS_PER_BLOCK - world._count_taken(block.first, block.end)
        key = str(attrs[group_by])
        counts[key] = counts.get(key, 0) + available
    if q.order_field not in (None, "key", "count"):
        raise bad_request("coverage can be ordered by key or count", "order")
    ordered = sorted(counts.items())
    if q.order_field == "count":
        ordered.sort(key=lambda group: group[1])
    groups: list[dict[str, Any]] = [{"count": n, "key": k} for k, n in ordered]
    if q.descending:
        groups.reverse()
    page = groups[q.offset : q.offset + q.limit]
    return envelope(
        page,
        q=q,
        total=len(groups),
        has_more=q.offset + len(page) < len(groups),
        base_url=ctx.base_url,
        query=ctx.query,
    )


# --- DID tier rates -------------------------------------------------------------------------

RATE_TIER = Resource(
    name="did_rate_tier",
    api="core",
    path="/phonenumber/rates",
    sid_field="_tier",
    collection="dids",
    operations=frozenset(),
    fields=(
        ro("classification_sid"),
        ro("country_code"),
        ro("country_name"),
        ro("prefix"),
        *(ro(f"price_{i}") for i in range(7)),
        *(ro(f"quantity_{i}", "int") for i in range(7)),
    ),
)

_RATES_PLAN_SID = "326d2ec0-c58c-43e2-85f3-a92d647e46ac"


def _tiers() -> list[dict[str, Any]]:
    tier = {"classification_sid": CLASSIFICATION_SID, "country_code": None, "country_name": None}
    return [{**tier, "prefix": None, **assumptions.DID_RATE_TIER}]


def get_rates(ctx: Ctx) -> dict[str, Any]:
    ctx.principal.require_scope("phonenumber", "read")
    page = list_from_objects(ctx, RATE_TIER, _tiers())
    return {
        **page,
        "active": "yes",
        "effective_date": assumptions.DID_RATES_EFFECTIVE_DATE,
        "partner_sid": ctx.principal.partner_sid,
        "rates_plan": {"name": assumptions.DID_RATES_PLAN_NAME, "rates_plan_sid": _RATES_PLAN_SID},
    }


def rates_csv(ctx: Ctx) -> Raw:
    items = get_rates(ctx)["items"]
    columns = sorted(RATE_TIER.by_name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in columns])
    return Raw(out.getvalue().encode(), "text/csv")


def mount(api: Api, world: World) -> None:
    api.add(world, "/phonenumber/coverage", ["GET"], lambda c, _p, _b: browse_coverage(c))
    for path in ("/phonenumber/rates", "/dids/rates"):  # the second is the deprecated alias
        api.add(world, path, ["GET"], lambda c, _p, _b: get_rates(c))
    api.add(world, "/phonenumber/rates/csv", ["GET"], lambda c, _p, _b: rates_csv(c))
    api.add_resource(world, SHORT_CODE)


RESOURCES = (SHORT_CODE,)
