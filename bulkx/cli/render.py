"""Rendering changesets for people (terminal) and machines (JSON, JSON Lines, CSV).

Text for people passes every value through `bulkx.escaping.printable` (a name may hold ESC or
BEL bytes), before colour is added; CSV goes through `bulkx.escaping.csv_writer` (no cell a
spreadsheet would run). JSON escapes control characters itself.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from bulkx.cli.options import ALLOW_FLAGS
from bulkx.diff.changes import (
    ACTIONS,
    Blocked,
    Change,
    Changeset,
    Create,
    NoOp,
    Release,
    RentByCriteria,
    Update,
    change_as_dict,
)
from bulkx.diff.spool import (
    CLOSING_TAIL,
    EMPTY_TAIL,
    INDENTED,
    ChangesetLike,
    ChangeStream,
    indented_changes,
)
from bulkx.diff.summary import ChangeSummary
from bulkx.escaping import csv_writer, printable
from bulkx.json_text import indented_json

MAX_LISTED = 200
SYMBOLS = {"create": "+", "rent": "+", "update": "~", "release": "-", "blocked": "!", "noop": " "}
COLOURS = {"+": "32", "~": "33", "-": "31", "!": "35"}


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, symbol: str, colour: bool) -> str:
    code = COLOURS.get(symbol)
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _short(value: Any, width: int = 30) -> str:
    if value == "":
        return '""'
    text = "null" if value is None else json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_table(changeset: ChangesetLike | ChangeSummary) -> list[str]:
    """Items per step and action (a changeset's, or one counted chunk by chunk)."""
    counts = changeset.counts()
    shown = [a for a in ACTIONS if any(a in c for c in counts.values())]
    names = {step: printable(step) for step in counts}
    width = max([len("step"), *(len(n) for n in names.values())])
    width = min(width, 80 - 9 * len(shown) - 2)
    lines = ["  " + "step".ljust(width) + "".join(a.rjust(9) for a in shown)]
    for step, by_action in counts.items():
        name = names[step]
        name = name if len(name) <= width else name[: width - 1] + "…"
        cells = "".join(str(by_action.get(a, "-")).rjust(9) for a in shown)
        lines.append("  " + name.ljust(width) + cells)
    return lines


def change_lines(
    changeset: ChangesetLike, *, colour: bool, limit: int = MAX_LISTED
) -> Iterator[str]:
    listed = 0
    hidden = 0
    if isinstance(changeset, ChangeStream):
        # The first changes that do something are kept in memory; the rest are counted.
        doing: Iterable[Change] = changeset.first
        hidden = max(0, changeset.doing - min(limit, len(changeset.first)))
    else:
        doing = changeset.changes
    for change in doing:
        if isinstance(change, NoOp):
            continue
        if listed >= limit:
            if not isinstance(changeset, ChangeStream):
                hidden += 1
            continue
        listed += 1
        symbol = SYMBOLS[change.action]
        # Escaped before painting: the colour codes are ours, nothing else may reach the tty.
        head = printable(f"{symbol} {change.kind} {change.key}")
        match change:
            case Create():
                price = f"  ${change.monthly_price}/mo" if change.monthly_price else ""
                yield _paint(head + printable(price), symbol, colour)
            case RentByCriteria():
                avail = "" if change.available is None else f" ({change.available} available)"
                text = printable(f"{symbol} rent {change.count} did ({change.key}){avail}")
                yield _paint(text, symbol, colour)
            case Update():
                yield _paint(head, symbol, colour)
                for field in change.changes:
                    new = "(cleared)" if field.new is None else _short(field.new)  # a clear
                    yield printable(f"      {field.field}: {_short(field.old)} -> {new}")
            case Release():
                yield _paint(head + "  (release: not reversible)", symbol, colour)
            case Blocked():
                yield _paint(printable(f"{head}  blocked: {change.reason}"), symbol, colour)
                hint = blocked_hint(change)
                if hint:
                    yield printable(f"      hint: {hint}")
                yield printable(f"      at {change.position}")
    if hidden:
        yield f"  … and {hidden} more changes (-o json or -o csv lists them all)"


def blocked_hint(change: Blocked) -> str:
    """A blocked change's hint, and the flag that gives what it `needs` (the core names the
    permission; the flag is the CLI's word for it)."""
    if change.needs is None:
        return change.hint or ""
    flag = f"pass {ALLOW_FLAGS[change.needs]}"
    return f"{change.hint} ({flag})" if change.hint else flag


def render_text(changeset: ChangesetLike, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    colour = use_colour(out)
    out.write(
        f"Plan:   {printable(changeset.plan_path)}\nTarget: {printable(changeset.target)}\n\n"
    )
    for line in summary_table(changeset):
        out.write(line + "\n")
    out.write("\n")
    for line in change_lines(changeset, colour=colour):
        out.write(line + "\n")
    counts: dict[str, int] = {}
    for by_action in changeset.counts().values():
        for action, n in by_action.items():
            counts[action] = counts.get(action, 0) + n
    cost = changeset.monthly_cost()
    if cost:
        out.write(f"\nMonthly cost of new rentals: ${cost:,.2f}\n")
    verdict = ", ".join(
        f"{counts.get(a, 0)} to {a}" for a in ("create", "rent", "update", "release")
    )
    out.write(f"\n{verdict}; {counts.get('noop', 0)} unchanged")
    if counts.get("blocked"):
        out.write(f"; {counts['blocked']} blocked")
    out.write(".\n")


def render_json(changeset: ChangesetLike, out: TextIO | None = None) -> None:
    """Exactly `json.dumps(changeset.as_dict(), indent=2, default=str)`, written a thousand
    changes at a time (a spooled changeset's as it was spooled): a changeset of a million
    changes is never held whole, and `json.dump` would write every token on its own."""
    out = out if out is not None else sys.stdout
    head = indented_json({**changeset.header(), "changes": []})
    assert head.endswith(EMPTY_TAIL)
    out.write(head[: -len(EMPTY_TAIL)] + "[")
    if isinstance(changeset, ChangeStream) and changeset.spools(INDENTED):
        changeset.copy_spool(INDENTED, out)
        count = changeset.total
    else:
        count = 0
        batch: list[dict[str, Any]] = []
        for change in change_dicts(changeset):
            batch.append(change)
            if len(batch) == 1_000:
                out.write(indented_changes(batch, first=count == 0))
                count, batch = count + len(batch), []
        out.write(indented_changes(batch, first=count == 0))
        count += len(batch)
    out.write(CLOSING_TAIL if count else "]\n}\n")


def change_dicts(changeset: ChangesetLike) -> Iterator[dict[str, Any]]:
    """Each change as `change_as_dict` makes it (a spooled one as JSON gave it back)."""
    if isinstance(changeset, ChangeStream):
        return (json.loads(line) for line in changeset.lines())
    return (change_as_dict(change) for change in changeset.changes)


def encoded_changes(changeset: ChangesetLike) -> Iterator[str]:
    """Each change as `json.dumps(change_as_dict(change), default=str)`."""
    if isinstance(changeset, ChangeStream):
        return changeset.lines()
    return (json.dumps(change_as_dict(c), default=str) for c in changeset.changes)


def render_jsonl(changeset: ChangesetLike, out: TextIO | None = None) -> None:
    """A header line, then one change per line: streamable, greppable."""
    out = out if out is not None else sys.stdout
    out.write(json.dumps({"type": "changeset", **changeset.header()}, default=str) + "\n")
    lines: list[str] = []
    for encoded in encoded_changes(changeset):
        # `{"type": "change", **change}` encoded, without encoding the change again.
        lines.append('{"type": "change", ' + encoded[1:] if encoded != "{}" else encoded)
        if len(lines) >= 1_000:
            out.write("\n".join(lines) + "\n")
            lines.clear()
    if lines:
        out.write("\n".join(lines) + "\n")


CSV_COLUMNS = (
    "step",
    "kind",
    "key",
    "action",
    "field",
    "old",
    "new",
    "sid",
    "file",
    "line",
    "note",
)


def render_csv(changeset: ChangesetLike, out: TextIO | None = None) -> None:
    """The audit report: one row per changed field, one per other change."""
    out = out if out is not None else sys.stdout
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    for change in changeset.changes:
        base = [change.step, change.kind, change.key, change.action]
        where = [change.position.file, change.position.line]
        match change:
            case Update():
                for field in change.changes:
                    writer.writerow(
                        [
                            *base,
                            field.field,
                            cell(field.old),
                            cell(field.new),
                            change.sid or "",
                            *where,
                            "",
                        ]
                    )
            case Blocked():
                needs = f" ({ALLOW_FLAGS[change.needs]})" if change.needs else ""
                writer.writerow([*base, "", "", "", "", *where, change.reason + needs])
            case NoOp() | Release():
                writer.writerow([*base, "", "", "", change.sid or "", *where, ""])
            case Create():
                writer.writerow([*base, "", "", "", "", *where, change.monthly_price or ""])
            case RentByCriteria():
                writer.writerow([*base, "count", "", str(change.count), "", *where, ""])


def render(changeset: ChangesetLike, fmt: str, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    {"text": render_text, "json": render_json, "jsonl": render_jsonl, "csv": render_csv}[fmt](
        changeset, out
    )


def to_text(changeset: Changeset) -> str:
    buffer = io.StringIO()
    render_text(changeset, buffer)
    return buffer.getvalue()
