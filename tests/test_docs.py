"""Documentation that code generates stays current."""

from __future__ import annotations

from pathlib import Path

from bulkx.sandbox import assumptions
from bulkx.sandbox.assumption_table import assumptions_table, refresh

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_assumptions_table_in_the_docs_is_current() -> None:
    text = (DOCS / "sandbox.md").read_text()
    assert refresh(text) == text, "run: python -m bulkx.sandbox.assumption_table docs/sandbox.md"


def test_every_assumption_is_explained() -> None:
    names = {n for n in vars(assumptions) if n.isupper()}
    rows = assumptions_table()
    assert {r.name for r in rows} == names
    assert all(r.why for r in rows)
