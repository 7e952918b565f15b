"""One live run per object: what a run claims before it reads live state (`bulkx.journal.claims`).

An apply claims every object its plan names; a resume claims the objects its remaining
operations name. Either is refused with `RunsOverlap` (exit 6) while another live run on the
same target holds one of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bulkx.errors import JournalError
from bulkx.journal import claims
from bulkx.journal.claims import target_key
from bulkx.kinds import KINDS
from bulkx.plan.model import Plan

__all__ = [
    "claim_again",
    "claim_ops",
    "claim_plan",
    "op_claims",
    "plan_claims",
    "release",
    "rent_claim",
    "root_of",
    "target_key",
]


def rent_claim(kind: str, step: str) -> str:
    """A rent-by-count step: its rentals are found again by the step's tag."""
    return f"{kind}:rent:{step}"


def plan_claims(plan: Plan) -> Iterator[str]:
    """`kind:natural key` of every item of `plan`, and each rent-by-count step."""
    for step in plan.steps:
        kind = KINDS[step.kind]
        if step.count is not None:
            yield rent_claim(kind.name, step.name)
        for item in step.items():
            yield f"{kind.name}:{kind.natural_key(item.values)}"


def op_claims(rows: Iterable[tuple[str, str, str, str]]) -> Iterator[str]:
    """The same, from operations' (kind, key, step, action)."""
    for kind, key, step, action in rows:
        yield rent_claim(kind, step) if action == "rent" else f"{kind}:{key}"


def claim_plan(root: Path, target: str, run_id: str, plan: Plan) -> None:
    claims.claim(root, target, run_id, plan_claims(plan))


def claim_ops(
    root: Path, target: str, run_id: str, rows: Iterable[tuple[str, str, str, str]]
) -> None:
    claims.claim(root, target, run_id, op_claims(rows))


def claim_again(
    root: Path, target: str, run_id: str, rows: Callable[[], Iterable[tuple[str, str, str, str]]]
) -> None:
    """A resume's claims: the ones its killed process left, taken over whole, else the
    objects of its remaining operations (`rows`, read only then)."""
    if not claims.adopt(root, target, run_id):
        claim_ops(root, target, run_id, rows())


def release(root: Path, run_id: str) -> None:
    """Drop `run_id`'s claims. Quietly: a claims file that cannot be written now must not
    hide how the run ended (the claims of a process that is gone hold nothing anyway)."""
    with contextlib.suppress(JournalError):
        claims.release(root, run_id)


def root_of(journal_path: Path) -> Path:
    """The journal root a run's journal lives under (`<root>/runs/<run_id>.db`)."""
    return journal_path.parent.parent
