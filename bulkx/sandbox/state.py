"""`GET /_sandbox/state`: the world's summary, or one collection's rows, never a secret.

Rows are what a checker compares a run against (sids, numbers, names, statuses); credentials
are not needed for that, so every value under a secret-looking key is replaced by REDACTED:
tokens, refresh tokens, client secrets, passwords (partners, logins, endpoint properties,
SIP), at any depth.
"""

from __future__ import annotations

import json
from typing import Any, Final

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bulkx.sandbox.errors import ErrorAnswer, FieldError, bad_request
from bulkx.sandbox.http import error_response, json_response
from bulkx.sandbox.world import World

REDACTED: Final = "REDACTED"
#: Keys whose values are secrets wherever they appear; so is any key containing one of
#: SECRET_WORDS (`password`, `out_sip_password`, `client_secret`, ...).
SECRET_KEYS: Final = frozenset(
    {"access_token", "refresh_token", "voip_token", "api_key", "apikey", "porting_pin"}
)
SECRET_WORDS: Final = ("password", "secret")
STATE_LIMIT_DEFAULT: Final = 1000
STATE_LIMIT_MAX: Final = 10_000_000


def is_secret_key(key: str) -> bool:
    low = key.lower()
    return low in SECRET_KEYS or any(word in low for word in SECRET_WORDS)


def redact(value: Any) -> Any:
    """`value` with every secret-keyed value, at any depth, replaced by REDACTED."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if v is not None and is_secret_key(str(k)) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return STATE_LIMIT_DEFAULT
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer, not {raw[:40]!r}", "limit") from None
    if not 0 <= value <= STATE_LIMIT_MAX:
        raise bad_request(f"limit must be between 0 and {STATE_LIMIT_MAX}", "limit")
    return value


def _collection(world: World, collection: str, limit: int) -> dict[str, Any]:
    rows = world.store.rows(
        f"SELECT owner, data FROM t_{collection} ORDER BY seq LIMIT ?", (limit,)
    )
    items = [redact({"owner": owner, **json.loads(data)}) for owner, data in rows]
    return {"collection": collection, "items": items}


def state_route(world: World, prefix: str) -> Route:
    async def state(request: Request) -> Response:
        collection = request.query_params.get("collection")
        if not collection:
            return json_response(
                {
                    "seed": world.seed,
                    "partner_sid": world.partner_sid,
                    "inventory_size": world.inventory.size,
                    "counts": world.store.counts(),
                    "db": world.store.path,
                }
            )
        try:
            world.store.indexed(collection)  # a KeyError for a name that is not a collection
            limit = _limit(request)
        except KeyError:
            why = FieldError("collection", "no such collection")
            return error_response(ErrorAnswer(404, "Not Found", [why]))
        except ErrorAnswer as error:
            return error_response(error)
        # A whole collection is a big answer: built off the event loop, like a list query.
        body = await anyio.to_thread.run_sync(_collection, world, collection, limit)
        return json_response(body)

    return Route(f"{prefix}/state", state, methods=["GET"])
