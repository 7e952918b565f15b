"""Checks of a parsed YAML plan before anything reads its values: aliases, tags and depth.

ruamel keeps an alias as a second reference to its anchor's node, so a "billion laughs" file of
a few lines parses quickly; it is whatever reads the values afterwards (templates, JSON text of
object fields, validation) that expands it, for minutes and gigabytes. So the document is
walked once, each distinct node once (memoised), to count how many nodes it holds with every
alias expanded; past MAX_ALIAS_NODES more than it holds without them, it is refused, at the
alias that blows it up. The same walk refuses custom tags (`!foo`: a plan is plain data, and
ruamel drops the positions of a tagged list) and nesting deeper than MAX_DEPTH (the readers
recurse).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from bulkx.plan.model import Diagnostic, Position

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "check_document"]

#: How many nodes aliases may add to a plan. A plan reusing a `&defaults` mapping of 10 keys
#: in 10,000 items adds 100,000; a billion-laughs file adds 10^9.
MAX_ALIAS_NODES = 1_000_000
#: Deeper than any plan needs (an object field inside an item is about 6 levels).
MAX_DEPTH = 64
_STANDARD_TAG = "tag:yaml.org,2002:"


class _Refused(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _tag(node: Any) -> str | None:
    """A tag that is neither YAML's own (`!!str`) nor the non-specific `!`."""
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    if not isinstance(value, str) or value == "!" or value.startswith(_STANDARD_TAG):
        return None
    return value


def _lc(container: Any, key: Any, index: int) -> tuple[int, int] | None:
    """(line, column), 0-based, of a child in its container, when ruamel kept it."""
    lc = getattr(container, "lc", None)
    try:
        if isinstance(container, dict):
            at = lc.value(key) if lc is not None else None
        else:
            at = lc.item(index) if lc is not None else None
    except (AttributeError, KeyError, TypeError):
        return None
    if isinstance(at, tuple | list) and len(at) == 2 and all(isinstance(n, int) for n in at):
        return (at[0], at[1])
    return None


def _children(node: Any) -> Iterator[tuple[Any, Any, int]]:
    """(child, key, index) of a container: a mapping's keys and values, a list's items."""
    if isinstance(node, dict):
        for index, (key, value) in enumerate(node.items()):
            if isinstance(key, tuple):  # a complex key (`? [a, b]`) is a node too
                yield key, None, index
            yield value, key, index
    elif isinstance(node, list | tuple | set | frozenset):
        for index, item in enumerate(node):
            yield item, None, index


def _is_container(node: Any) -> bool:
    return isinstance(node, dict | list | tuple | set | frozenset)


class _Walk:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.sizes: dict[int, int] = {}
        self.uses: Counter[int] = Counter()
        self.active: set[int] = set()
        #: Nodes of the document counted once each (the root, and each container's children).
        self.unique = 1
        #: (container, key, index) from the root to the node being walked: positions are only
        #: looked up for a refusal.
        self.path: list[tuple[Any, Any, int]] = []

    def here(self) -> Position:
        for container, key, index in reversed(self.path):
            lc = _lc(container, key, index)
            if lc is not None:
                return Position(self.shown, lc[0] + 1, lc[1] + 1)
        return Position(self.shown, 1, 1)

    def refuse(self, message: str, hint: str) -> None:
        raise _Refused(Diagnostic(self.here(), message, "BX005", hint))

    def size(self, node: Any, depth: int) -> int:
        """Nodes under `node` with aliases expanded; refuses tags, cycles and depth."""
        tag = _tag(node)
        if tag is not None:
            self.refuse(
                f"custom YAML tag {tag} is not supported",
                "remove the tag: plans are plain YAML (mappings, lists, strings, numbers)",
            )
        if not _is_container(node):
            return 1
        key = id(node)
        self.uses[key] += 1
        if key in self.sizes:
            return self.sizes[key]
        if key in self.active:
            self.refuse("an alias refers to the node that holds it", "remove the alias")
        if depth > MAX_DEPTH:
            self.refuse(f"nested deeper than {MAX_DEPTH} levels", "flatten the plan's values")
        self.active.add(key)
        total = 1
        for child, child_key, index in _children(node):
            self.unique += 1
            self.path.append((node, child_key, index))
            total += self.size(child, depth + 1)
            self.path.pop()
        self.active.discard(key)
        self.sizes[key] = total
        return total

    def blow_up(self, root: Any) -> Position:
        """Where the expansion happens: from the root, follow the largest child until one
        that is an alias (a node used more than once), and point at the value holding it
        (ruamel gives an alias the position of its anchor, not of its use)."""
        node = root
        self.path = []
        while _is_container(node):
            children = list(_children(node))
            if not children:
                break
            child, key, index = max(children, key=lambda c: self.sizes.get(id(c[0]), 1))
            if self.uses[id(child)] > 1:
                break
            self.path.append((node, key, index))
            node = child
        return self.here()


def check_document(doc: Any, shown: str) -> Diagnostic | None:
    """The first reason to refuse a parsed plan, or None."""
    walk = _Walk(shown)
    try:
        expanded = walk.size(doc, 0)
    except _Refused as refused:
        return refused.diagnostic
    except RecursionError:  # deeper than Python's stack before MAX_DEPTH: same answer
        return Diagnostic(walk.here(), f"nested deeper than {MAX_DEPTH} levels", "BX005")
    added = expanded - walk.unique
    if added <= MAX_ALIAS_NODES:
        return None
    return Diagnostic(
        walk.blow_up(doc),
        f"aliases expand the plan by {added:,} values (at most {MAX_ALIAS_NODES:,})",
        "BX005",
        "an alias of an alias multiplies: write the values out, or alias smaller parts",
    )
