"""Live sids of a few named objects: what a resume reads when its journal does not already
know an object its remaining operations name (a journal written before runs kept `refs`).

Each kind is read the cheapest way it can be: a filter on its key, its parent's list with the
nested objects (trunks), or the list of the one endpoint it lives in (app APIs).
"""

from __future__ import annotations

from collections.abc import Mapping

from bulkx.diff.read import ApiReader, read_by_keys
from bulkx.errors import NotFound
from bulkx.kinds import KINDS, Kind


async def read_named(
    reader: ApiReader, wanted: Mapping[str, set[str]]
) -> dict[tuple[str, str], str]:
    """(kind, natural key) -> sid for the objects of `wanted` (kind -> natural keys) that
    exist live; an object not found is simply absent from the answer."""
    found: dict[tuple[str, str], str] = {}
    for name, keys in sorted(wanted.items()):
        kind = KINDS[name]
        if kind.singleton and kind.parent:
            continue  # a DID's record (its messaging) is named by the DID, not listed
        if kind.parent and "{parent_sid}" in kind.path:
            found.update(await _nested(reader, kind, keys))
        elif kind.per_endpoint:
            for endpoint in sorted(keys):
                try:
                    items = await reader.list_all(kind.api, kind.path, endpoint=endpoint)
                except NotFound:  # no such endpoint: nothing of it to name
                    continue
                if items and items[0].get(kind.sid_field) is not None:
                    found[(name, endpoint)] = str(items[0][kind.sid_field])
        elif kind.scope_field == "endpoint":
            by_endpoint: dict[str, list[str]] = {}
            for key in keys:
                endpoint, _, own = key.partition("/")
                by_endpoint.setdefault(endpoint, []).append(own)
            for endpoint, own_keys in sorted(by_endpoint.items()):
                try:
                    objects = await read_by_keys(reader, kind, own_keys, endpoint=endpoint)
                except NotFound:
                    continue
                for obj in objects:
                    found[(name, f"{endpoint}/{obj[kind.key_field]}")] = str(obj[kind.sid_field])
        elif not kind.scope_field and not kind.singleton:
            for obj in await read_by_keys(reader, kind, sorted(keys)):
                found[(name, str(obj[kind.key_field]))] = str(obj[kind.sid_field])
    return found


async def _nested(reader: ApiReader, kind: Kind, keys: set[str]) -> dict[tuple[str, str], str]:
    """Objects listed inside their parent (a trunk in its trunk group), keyed "parent/name"."""
    parent = KINDS[kind.parent or ""]
    groups = await reader.list_all(parent.api, parent.path, params={"with_trunks": "true"})
    found = {}
    for group in groups:
        for obj in group.get("trunks") or []:
            key = f"{group.get(parent.key_field)}/{obj.get(kind.key_field)}"
            if key in keys and obj.get(kind.sid_field) is not None:
                found[(kind.name, key)] = str(obj[kind.sid_field])
    return found
