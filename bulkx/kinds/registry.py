"""Every kind a plan can name, assembled from one module per API. Add a kind by adding one
declarative `Kind` to its API's module (and to that module's KINDS)."""

from __future__ import annotations

from bulkx.kinds import (
    account_kinds,
    conference,
    content_kinds,
    core_kinds,
    flexml,
    mediator,
    sending_kinds,
)
from bulkx.kinds.model import Kind, ReadStrategy

KINDS: dict[str, Kind] = {
    kind.name: kind
    for module in (
        core_kinds,
        content_kinds,
        account_kinds,
        sending_kinds,
        conference,
        flexml,
        mediator,
    )
    for kind in module.KINDS
}


def kind_named(name: str) -> Kind:
    """The kind called `name`; a KeyError names the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; known kinds: {', '.join(sorted(KINDS))}") from None


def _check_references() -> None:
    for kind in KINDS.values():
        named = [f.reference for f in kind.fields if f.reference] + [
            kind.parent,
            kind.creation.same_sid_as,
        ]
        unknown = [n for n in named if n is not None and n not in KINDS]
        if unknown:
            raise ValueError(f"kind {kind.name} names unknown kinds: {', '.join(unknown)}")


_check_references()


def _children(reads: ReadStrategy) -> dict[str, tuple[Kind, ...]]:
    found: dict[str, list[Kind]] = {}
    for kind in KINDS.values():
        if kind.reads == reads and kind.parent is not None:
            found.setdefault(kind.parent, []).append(kind)
    return {parent: tuple(kinds) for parent, kinds in found.items()}


_NESTED = _children("nested")
_RECORDS = _children("per_parent")


def nested_kinds(parent: str) -> tuple[Kind, ...]:
    """The kinds listed inside `parent`'s list (a trunk group's trunks)."""
    return _NESTED.get(parent, ())


def records_of(parent: str) -> tuple[Kind, ...]:
    """The per-parent records of `parent` (a DID's E911, line information and messaging)."""
    return _RECORDS.get(parent, ())
