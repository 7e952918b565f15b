"""What a run did, read back from its journal as rows and CSV (so reports never disagree with it).

Shared by `bulkx report` and the monitor's export key: both write the same failure CSV.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ruamel.yaml import YAML

from bulkx.escaping import csv_writer
from bulkx.journal import JournalView, Operation
from bulkx.kinds import KINDS, Kind
from bulkx.plan.model import CLEAR_MARKER

#: What `report --failed` and the monitor's export list: the items that failed, those skipped
#: because something they depend on failed, and those whose answer was lost (`unknown`: sent,
#: outcome not known until `bulkx resume` looks them up).
FAILED = frozenset({"failed", "skipped", "unknown"})
#: What `report --not-attempted` lists: the items the run never reached (`pending`) or
#: stopped before sending (`cancelled`). A stopped run goes on with `bulkx resume`.
NOT_ATTEMPTED = frozenset({"pending", "cancelled"})
#: Both: everything that did not succeed.
NOT_SUCCEEDED = FAILED | NOT_ATTEMPTED
_PAGE = 5000


def all_ops(reader: JournalView, state: str | None = None) -> Iterator[Operation]:
    """Every operation (in one state, or all), in op_id order, a page at a time."""
    after: int | None = None
    while True:
        page = reader.ops(state, limit=_PAGE, after_op_id=after)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].op_id


def not_succeeded(reader: JournalView) -> list[Operation]:
    return [r for r in all_ops(reader) if r.state in NOT_SUCCEEDED]


def failed_ops(reader: JournalView) -> list[Operation]:
    """What `report --failed` lists (never the items the run did not reach)."""
    return [r for r in all_ops(reader) if r.state in FAILED]


def not_attempted_ops(reader: JournalView) -> list[Operation]:
    """What `report --not-attempted` lists."""
    return [r for r in all_ops(reader) if r.state in NOT_ATTEMPTED]


def plan_values(record: Operation) -> dict[str, Any]:
    """The item's columns as a plan would write them."""
    change = record.change
    values = dict(change.get("values") or change.get("template") or {})
    kind = KINDS[record.kind]
    if kind.key not in values and record.action not in ("rent",):
        values[kind.key] = record.key
    return values


def failed_csv(records: Iterable[Operation], *, retry: bool = False) -> str:
    """`report --failed` (`retry=True`: `--retry`) for records of ONE kind: a plan CSV with a
    `# kind:` first line, plus the error column unless it is meant to be applied again."""
    items = list(records)
    kinds = {r.kind for r in items}
    if len(kinds) != 1:
        raise ValueError(f"a failure CSV holds one kind, not {len(kinds)}")
    kind = KINDS[kinds.pop()]
    rows = [plan_values(r) for r in items]
    columns = [f.name for f in kind.fields if any(f.name in row for row in rows)]
    out = io.StringIO()
    out.write(f"# kind: {kind.name}\n")
    writer = csv_writer(out)  # a plan CSV: `bulkx validate` reads the cells back as written
    writer.writerow(columns if retry else [*columns, "error"])
    for r, row in zip(items, rows, strict=True):
        cells = [_plan_cell(kind, row, c) for c in columns]
        writer.writerow(cells if retry else [*cells, (r.error or r.state).replace("\n", " ")])
    return out.getvalue()


def failed_csv_by_kind(records: Iterable[Operation]) -> dict[str, str]:
    """One `report --failed` (or `--not-attempted`) CSV per kind (a plan CSV names one kind),
    in first-seen order."""
    by_kind: dict[str, list[Operation]] = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(record)
    return {kind: failed_csv(items) for kind, items in by_kind.items()}


def _plan_cell(kind: Kind, row: dict[str, Any], name: str) -> str:
    if row.get(name) is not None:
        return _cell(row[name])
    # A clear (None) stays one: an empty cell would leave the field as it is.
    return CLEAR_MARKER if name in row and kind.can_clear(name) else ""


def _cell(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def has_rentals(records: Iterable[Operation]) -> bool:
    return any(r.action == "rent" for r in records)


def retry_plan_yaml(records: Sequence[Operation]) -> str:
    """`report --retry` of items that include rentals by criteria: a YAML plan (a CSV names
    items by key, and a rental has no number until it is made). Each rent step's failures
    become one `count:` step with its criteria and template; the other items one step of
    items per kind, as the CSV would list them."""
    steps: list[dict[str, Any]] = []
    rents: dict[tuple[str, str, str], dict[str, Any]] = {}
    items: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        change = record.change
        if record.action != "rent":
            items.setdefault(record.kind, []).append(plan_values(record))
            continue
        criteria, template = change.get("criteria") or {}, change.get("template") or {}
        group = (record.step, json.dumps(criteria, sort_keys=True), json.dumps(template))
        step = rents.setdefault(
            group,
            {"kind": record.kind, "name": f"{record.step}-retry", "count": 0, "criteria": criteria},
        )
        step["count"] += 1
        if template:
            step["template"] = template
    steps += rents.values()
    steps += [
        {"kind": kind, "name": f"{kind}-retry", "items": rows} for kind, rows in items.items()
    ]
    out = io.StringIO()
    out.write("# The failed items of a run, to apply again (bulkx report --retry).\n")
    yaml = YAML()  # round-trip: keys in the order a plan writes them
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump({"version": 1, "steps": steps}, out)
    return out.getvalue()
