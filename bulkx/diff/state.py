"""Live state as the diff sees it: objects by kind and natural key, in plan shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkx.kinds.model import Kind


@dataclass(frozen=True)
class LiveObject:
    sid: str | None
    #: Plan-shaped values (`Kind.from_api`); reference fields still hold sids.
    values: Mapping[str, Any]


#: The attribute bulkx puts on numbers it rents by criteria: `{"bulkx_step": <step name>}`.
STEP_TAG = "bulkx_step"


@dataclass
class LiveState:
    #: kind -> natural key -> object
    objects: dict[str, dict[str, LiveObject]] = field(default_factory=dict)
    #: Numbers the plan would rent that the inventory offers: phonenumber -> monthly price.
    available: dict[str, str] = field(default_factory=dict)
    #: Rent-by-criteria steps: step name -> (numbers available, price of the first).
    criteria: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    #: Rent-by-criteria steps: step name -> DIDs already rented by that step (by their tag), so
    #: planning again rents only the shortfall.
    rented_by_step: dict[str, int] = field(default_factory=dict)
    #: Untraceable sends (`Kind.traceable`) an earlier run may have made, its answer lost:
    #: (kind, key) -> that run's id. Never sent again.
    maybe_sent: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def layered(cls, *layers: LiveState) -> LiveState:
        """One view of states read apart (a chunk's reads over what was read up front), later
        layers winning. A view to diff against, not to add to: it shares the layers' dicts."""
        view = cls()
        for layer in layers:
            for kind, objects in layer.objects.items():
                below = view.objects.get(kind)
                view.objects[kind] = objects if below is None else {**below, **objects}
            view.available.update(layer.available)
            view.criteria.update(layer.criteria)
            view.rented_by_step.update(layer.rented_by_step)
            view.maybe_sent.update(layer.maybe_sent)
        return view

    def add(self, kind: Kind, key: str, obj: LiveObject) -> None:
        self.objects.setdefault(kind.name, {})[key] = obj

    def get(self, kind: str, key: str) -> LiveObject | None:
        return self.objects.get(kind, {}).get(key)

    def key_of_sid(self, kind: str, sid: str) -> str | None:
        for key, obj in self.objects.get(kind, {}).items():
            if obj.sid == sid:
                return key
        return None

    def sid_index(self, kind: str) -> dict[str, str]:
        return {o.sid: k for k, o in self.objects.get(kind, {}).items() if o.sid}
