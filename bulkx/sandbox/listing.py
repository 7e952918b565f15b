"""The common list behaviour: limit/offset/after/before, order, filter, fields, envelope."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request
from bulkx.sandbox.filters import Condition, parse_filter


class EncodedItems(list[str]):
    """List items already encoded as JSON text; the response splices them in as they are."""


@dataclass(frozen=True)
class ListQuery:
    limit: int
    offset: int
    conditions: tuple[Condition, ...]
    order_field: str | None
    descending: bool
    shuffle: bool
    after: str | None
    before: str | None


#: The largest integer SQLite stores; a bigger offset would crash the query, not page past the end.
_SQL_INT_MAX = 2**63 - 1


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {raw!r}", name) from None
    if value < 0:
        raise bad_request(f"{name} must not be negative", name)
    return value


def parse_list_query(
    query: Mapping[str, str],
    *,
    cursors: bool = True,
    default_limit: int = assumptions.LIST_LIMIT_DEFAULT,
) -> ListQuery:
    limit = _int_param(query, "limit", default_limit)
    if limit > assumptions.LIST_LIMIT_MAX:
        raise ErrorAnswer(
            assumptions.LIST_LIMIT_TOO_LARGE_STATUS,
            f"limit must not exceed {assumptions.LIST_LIMIT_MAX}",
            [FieldError("limit", f"must not exceed {assumptions.LIST_LIMIT_MAX}")],
        )
    offset = _int_param(query, "offset", 0)
    if offset > _SQL_INT_MAX:
        raise bad_request(f"offset must be at most {_SQL_INT_MAX}", "offset")
    after, before = query.get("after") or None, query.get("before") or None
    if (after or before) and not cursors:
        raise bad_request("after/before are not supported on this list", "after")
    if after and before:
        raise bad_request("after and before cannot be combined", "after")
    if (after or before) and offset:
        raise bad_request("offset cannot be combined with after/before", "offset")
    order_field, descending, shuffle = None, False, False
    order = (query.get("order") or "").strip()
    if order:
        parts = order.replace("+", " ").split()
        if parts == ["shuffle"]:
            shuffle = True
        elif len(parts) in (1, 2) and (len(parts) == 1 or parts[1].lower() in ("asc", "desc")):
            order_field = parts[0]
            descending = len(parts) == 2 and parts[1].lower() == "desc"
        else:
            raise bad_request(
                f"order must be '<field> asc', '<field> desc' or 'shuffle', not {order!r}", "order"
            )
    conditions = tuple(parse_filter(query.get("filter") or ""))
    return ListQuery(limit, offset, conditions, order_field, descending, shuffle, after, before)


def field_selection(query: Mapping[str, str]) -> tuple[set[str] | None, set[str]]:
    include: set[str] | None = None
    exclude: set[str] = set()
    for name in assumptions.INCLUDE_FIELDS_PARAMS:
        if query.get(name):
            include = {f.strip() for f in query[name].split(",") if f.strip()}
    for name in assumptions.EXCLUDE_FIELDS_PARAMS:
        if query.get(name):
            exclude |= {f.strip() for f in query[name].split(",") if f.strip()}
    return include, exclude


def select_fields(
    obj: Mapping[str, Any], include: set[str] | None, exclude: set[str]
) -> dict[str, Any]:
    if include is None and not exclude:
        return dict(obj)
    return {k: v for k, v in obj.items() if (include is None or k in include) and k not in exclude}


def _page_url(base_url: str, query: Mapping[str, str], **changes: Any) -> str:
    params = {k: v for k, v in query.items() if k not in ("offset", "after", "before")}
    params.update({k: str(v) for k, v in changes.items()})
    return f"{base_url}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"


def _cursor_ends(
    items: Sequence[dict[str, Any]] | EncodedItems, sid_field: str | None
) -> tuple[str, str] | None:
    """The sids of the first and last item, for cursor links; None when there are none."""
    if not items or sid_field is None or isinstance(items, EncodedItems):
        return None
    if sid_field not in items[0] or sid_field not in items[-1]:
        return None
    return str(items[0][sid_field]), str(items[-1][sid_field])


def envelope(
    items: Sequence[dict[str, Any]] | EncodedItems,
    *,
    q: ListQuery,
    total: int | None,
    has_more: bool,
    base_url: str,
    query: Mapping[str, str],
    sid_field: str | None = None,
) -> dict[str, Any]:
    pagination: dict[str, str] = {}
    cursor_mode = bool(q.after or q.before) and sid_field is not None
    ends = _cursor_ends(items, sid_field) if cursor_mode else None
    if ends is not None:
        first, last = ends
        # `has_more` looks in the direction of travel: forward after `after`, back before `before`.
        # The other direction always has more: at least the cursor's own item.
        if q.after:
            if has_more:
                pagination["next"] = _page_url(base_url, query, limit=q.limit, after=last)
            if assumptions.PAGINATION_HAS_PREVIOUS:
                pagination["previous"] = _page_url(base_url, query, limit=q.limit, before=first)
        else:
            pagination["next"] = _page_url(base_url, query, limit=q.limit, after=last)
            if has_more and assumptions.PAGINATION_HAS_PREVIOUS:
                pagination["previous"] = _page_url(base_url, query, limit=q.limit, before=first)
    elif not cursor_mode:
        if has_more and q.limit > 0:  # limit=0 would link to the very same page, forever
            pagination["next"] = _page_url(
                base_url, query, limit=q.limit, offset=q.offset + q.limit
            )
        if assumptions.PAGINATION_HAS_PREVIOUS and q.offset > 0:
            pagination["previous"] = _page_url(
                base_url, query, limit=q.limit, offset=max(0, q.offset - q.limit)
            )
    return {
        "count": len(items),
        "has_more": has_more,
        "items": items if isinstance(items, EncodedItems) else list(items),
        "limit": q.limit,
        "offset": q.offset,
        "pagination": pagination,
        "total": total,
    }
