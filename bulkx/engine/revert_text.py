"""A revert (`bulkx.engine.revert`) as plan text: an ordinary YAML plan, its header saying in
comments what it undoes, what it cannot undo and what it left out.

Items are JSON flow mappings (`- {"phonenumber": "12013140409", "name": "HQ"}`): valid YAML,
every value quoted and escaped exactly, whatever the live state held."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bulkx.engine.revert import UNDO_PREFIX, Irreversible, Revert, RevertItem
from bulkx.escaping import printable

_LISTED = 50


def steps_of(items: Iterable[RevertItem]) -> list[tuple[str, str, list[RevertItem]]]:
    """(kind, run's step, items) in the reverse of the run's step order: what the run did
    last is undone first (apply orders by dependency again; this keeps the file readable)."""
    grouped: dict[str, tuple[str, list[RevertItem]]] = {}
    for item in items:
        grouped.setdefault(item.step, (item.kind, []))[1].append(item)
    return [(kind, step, listed) for step, (kind, listed) in reversed(grouped.items())]


def _steps_text(items: Iterable[RevertItem], *, prefix: str, after: bool) -> list[str]:
    lines = ["version: 1"]
    steps = steps_of(items)
    if not steps:
        return [*lines, "steps: []"]
    lines.append("steps:")
    for kind, step, listed in steps:
        lines += [
            f"  - kind: {json.dumps(kind)}",
            f"    name: {json.dumps(prefix + step)}",
            "    items:",
        ]
        for item in listed:
            values = item.after if after else item.values
            lines.append("      - " + json.dumps(values, sort_keys=False, default=str))
    return lines


def after_plan_text(items: Iterable[RevertItem]) -> str:
    """A plan of what the run set: planned against live state, it is nothing to do unless
    someone changed an item since (its step names are the run's)."""
    return "\n".join(_steps_text(items, prefix="", after=True)) + "\n"


def _comment(text: str) -> str:
    return "# " + printable(text)


def _listed(title: str, lines: Sequence[str]) -> list[str]:
    if not lines:
        return []
    shown = [_comment(title + f" ({len(lines)}):")]
    shown += [_comment("  " + line) for line in lines[:_LISTED]]
    if len(lines) > _LISTED:
        shown.append(_comment(f"  ... and {len(lines) - _LISTED} more"))
    return shown


def _irreversible_line(what: Irreversible) -> str:
    return (
        f"{what.kind} {what.key} ({what.action}, step {what.step}, {what.position}): {what.reason}"
    )


def _header(revert: Revert, made_at: str, apply_hint: str) -> list[str]:
    removed = sum(1 for item in revert.items if item.releases)
    # fmt: off
    lines = [
        _comment(f"Undoes run {revert.run_id} (plan {revert.plan_path}), made by"
                 f" `bulkx revert {revert.run_id}` at {made_at}."),
        _comment(f"It read live state on {revert.target}."),
        _comment("Review it: bulkx plan THIS_FILE; apply it: " + apply_hint),
        _comment(f"Puts back {len(revert.items)} item(s): {len(revert.items) - removed} set back"
                 f" to their values before the run, {removed} removed (ensure: absent)."),
    ]
    # fmt: on
    lines += _listed("Cannot be undone", [_irreversible_line(i) for i in revert.irreversible])
    drift_title = "Changed since the run by someone else, " + (
        "set back all the same (--force)"
        if revert.forced
        else "left out (bulkx revert --force includes them)"
    )
    drifted = [f"{item.kind} {item.key} (step {item.step})" for item in revert.drifted]
    lines += _listed(drift_title, drifted)
    lines += _listed(
        "Fields not set back, left as the run set them",
        [f"{kind} {key} {name}: {why}" for kind, key, name, why in revert.kept],
    )
    if revert.unsettled:
        lines.append(
            _comment(
                f"{revert.unsettled} operation(s) of the run were not settled"
                f" (resume it first): not undone here."
            )
        )
    return lines


def revert_plan_text(revert: Revert, *, made_at: str, apply_hint: str) -> str:
    """The revert plan: header comments, then the steps that undo the run."""
    lines = _header(revert, made_at, apply_hint)
    lines += _steps_text(revert.items, prefix=UNDO_PREFIX, after=False)
    return "\n".join(lines) + "\n"


def shown_value(value: Any) -> str:
    return printable(json.dumps(value, default=str))
