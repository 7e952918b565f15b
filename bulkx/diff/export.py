"""`bulkx export KIND`: the live objects of a kind as the rows of a plan that keeps them as they
are. Exported, then planned against the same live state, it is nothing to do; applied after a
change, it puts back what was exported (a backup to revert to).

A field that is empty live is written as `<clear>` where a plan can clear it, so that reverting
to the export empties it again; references are written as the natural keys a plan names them
by. Kinds that live inside another object (a trunk in its trunk group, a DID's E911 and line
information) are read through their parents: `filter` then selects the parents (the DIDs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from bulkx.diff.engine import live_reference
from bulkx.diff.read import _gather_bounded, add_all, read_referenced
from bulkx.diff.state import LiveState
from bulkx.errors import BulkxError, NotFound
from bulkx.kinds import KINDS, Kind
from bulkx.plan.model import CLEAR_MARKER

#: Progress of the one-GET-per-parent reads: (parents read, of).
ExportProgress = Callable[[int, int], None]


class NotExportable(BulkxError):
    """The kind has no live state a plan could keep (or the options cannot select it)."""


class ExportReader(Protocol):
    """What an export needs of a client: lists (their items checked for `require`d fields)
    and single objects."""

    async def list_all(
        self,
        api: str,
        path: str,
        *,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        require: Sequence[str] = (),
    ) -> list[dict[str, Any]]: ...

    async def get(
        self,
        api: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Exported:
    """A plan CSV's header and rows (cells as text), for one kind."""

    kind: str
    columns: list[str]
    rows: list[list[str]]
    #: Live records left out because a required field is empty (a DID never given an E911
    #: address): there is nothing a plan could keep of them.
    unset: int = 0


def why_not_exportable(kind: Kind, endpoint: str | None) -> str | None:
    """Why `bulkx export` cannot write a plan for `kind` with these options, or None."""
    if kind.sends:
        return (
            f"{kind.name}: what was sent is a record, not state to back up or revert (the"
            " record exports hold it: cdr, mdr, ...)"
            if kind.traceable
            else f"the API keeps no list of {kind.name}; `bulkx report RUN_ID` shows what a run"
            " sent"
        )
    if any(f.type == "file" for f in kind.fields):
        return (
            f"a {kind.name} is planned from a local file, which an export cannot write back"
            " (download the files; a plan names each by its path)"
        )
    if (kind.api != "core") != (endpoint is not None):
        return "--endpoint names the endpoint of an app API kind (and is only for those)"
    return None


def columns_of(kind: Kind) -> list[str]:
    """The plan columns an export writes: the scope first (an app object's endpoint), then
    every field the API holds; `ensure` where a kind has a value that keeps an object as it is
    (a DID's "adopted": `Kind.existing_ensure`)."""
    scope = kind.scope_field or ("endpoint" if kind.per_endpoint else None)
    columns = [scope] if scope else []
    for spec in kind.fields:
        if spec.name in columns:
            continue
        held = spec.api_name is not None or spec.name in (kind.key, kind.parent_field)
        if held or (spec.name == "ensure" and kind.existing_ensure is not None):
            columns.append(spec.name)
    return columns


async def export_kind(
    reader: ExportReader,
    kind: Kind,
    *,
    filter: str | None = None,
    endpoint: str | None = None,
    progress: ExportProgress | None = None,
) -> Exported:
    """Every live object of `kind` (of `endpoint`'s account for an app kind; `filter` on its
    list, or on its parents' for a kind read through them) as plan rows."""
    problem = why_not_exportable(kind, endpoint)
    if problem is not None:
        raise NotExportable(problem)
    live = LiveState()
    await _read_names(reader, live, kind, endpoint)
    objects = await _live_objects(reader, kind, filter, endpoint, progress)
    required = [f.name for f in kind.fields if f.required]
    kept = [v for v in objects if all(v.get(n) not in (None, "") for n in required)]
    columns = columns_of(kind)
    rows = [_row(kind, columns, values, live) for values in kept]
    return Exported(kind.name, columns, rows, unset=len(objects) - len(kept))


async def _read_names(
    reader: ExportReader, live: LiveState, kind: Kind, endpoint: str | None
) -> None:
    """The objects `kind`'s references name, so that sids can be written as names: Core ones
    whole, app ones of the same endpoint."""
    named = {
        str(f.reference) for f in kind.fields if f.reference and f.api_name and not f.sends_key
    }
    await read_referenced(reader, live, {n for n in named if KINDS[n].api == "core"})
    for name in sorted(n for n in named if KINDS[n].api != "core"):
        ref = KINDS[name]
        add_all(
            live,
            ref,
            await reader.list_all(ref.api, ref.path, endpoint=endpoint),
            scope=endpoint or "",
        )


async def _live_objects(
    reader: ExportReader,
    kind: Kind,
    filter: str | None,
    endpoint: str | None,
    progress: ExportProgress | None,
) -> list[dict[str, Any]]:
    """Plan-shaped values of every live object (references still sids), scope included."""
    if kind.reads == "per_parent":
        return await _sub_records(reader, kind, filter, progress)
    if kind.nested_in is not None:  # a trunk, inside its trunk group
        parent = KINDS[kind.parent or ""]
        groups = await reader.list_all(
            parent.api,
            parent.path,
            filter=filter,
            params=kind.nested_in.params,
            require=(parent.sid_field,),
        )
        return [
            {
                **kind.from_api(obj),
                kind.key: obj.get(kind.key_field),
                str(kind.parent_field): group.get(parent.key_field),
            }
            for group in groups
            for obj in group.get(kind.nested_in.api_field) or []
        ]
    found = await reader.list_all(
        kind.api, kind.path, filter=filter, endpoint=endpoint, require=(kind.sid_field,)
    )
    out = []
    for obj in found:
        values = {kind.key: obj.get(kind.key_field), **kind.from_api(obj)}
        if kind.api != "core":
            values["endpoint"] = endpoint
        out.append(values)
    return out


async def _sub_records(
    reader: ExportReader, kind: Kind, filter: str | None, progress: ExportProgress | None
) -> list[dict[str, Any]]:
    """The record of `kind` of each parent `filter` selects (a DID's E911): one GET each (the
    API has no list of them); a parent without one (no messaging record) is left out."""
    parent = KINDS[kind.parent or ""]
    parents = await reader.list_all(
        parent.api, parent.path, filter=filter, require=(parent.sid_field,)
    )
    done = 0

    async def one(parent_key: str, sid: str) -> dict[str, Any] | None:
        nonlocal done
        try:
            record = await reader.get(kind.api, kind.path.format(parent_sid=sid))
        except NotFound:
            record = None
        done += 1
        if progress is not None:
            progress(done, len(parents))
        return None if record is None else {**kind.from_api(record), kind.key: parent_key}

    found = await _gather_bounded(
        partial(one, str(p.get(parent.key_field)), str(p[parent.sid_field])) for p in parents
    )
    return [values for values in found if values is not None]


def _row(kind: Kind, columns: list[str], values: dict[str, Any], live: LiveState) -> list[str]:
    cells = []
    for name in columns:
        spec = kind.by_name[name]
        value = kind.existing_ensure if name == "ensure" else values.get(name)
        if spec.reference and not spec.sends_key and spec.api_name is not None:
            value = live_reference(live, kind, name, value, values)
        cells.append(_cell(kind, name, value))
    return cells


def _cell(kind: Kind, name: str, value: Any) -> str:
    spec = kind.by_name[name]
    if value is None or value == "" or value == spec.empty_value or value in ({}, []):
        # Empty live: a clear where a plan can write one, so that reverting empties it again.
        return CLEAR_MARKER if kind.can_clear(name) else ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
