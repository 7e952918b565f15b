"""The assumptions table, read from the modules of the `assumptions` package themselves, for
`bulkx sandbox assumptions` and for docs/sandbox.md (a test keeps the two in step)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from bulkx.sandbox import assumptions

#: The modules whose constants make the table, in order (`assumptions` re-exports them all).
SOURCES = assumptions.domain_modules


@dataclass(frozen=True)
class Assumption:
    section: str
    name: str
    value: str
    why: str


_SECTION = re.compile(r"^# --- (?P<title>[^-].*?) -*$")
_CONSTANT = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)\s*:\s*Final")


def assumptions_table() -> list[Assumption]:
    """Each constant with its section and the `#:` comment above it (a comment covers the
    constants that follow it up to the next blank line)."""
    rows: list[Assumption] = []
    section, why = "general", ""
    comment: list[str] = []
    lines = [line for module in SOURCES for line in inspect.getsource(module).splitlines()]
    for line in lines:
        heading = _SECTION.match(line)
        constant = _CONSTANT.match(line)
        if heading:
            section = heading.group("title").replace("(helper)", "").strip()
            why, comment = "", []
        elif line.startswith("#:"):
            comment.append(line[2:].strip())
        elif constant:
            if comment:
                why, comment = " ".join(comment), []
            name = constant.group("name")
            rows.append(Assumption(section, name, repr(getattr(assumptions, name)), why))
        elif not line.strip():
            why, comment = "", []
    return rows


def markdown() -> str:
    lines = ["| section | name | value | why |", "|---|---|---|---|"]
    for row in assumptions_table():
        value = row.value if len(row.value) <= 60 else row.value[:57] + "..."
        cells = (row.section, f"`{row.name}`", f"`{value}`", row.why)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


START, END = "<!-- assumptions:start -->", "<!-- assumptions:end -->"


def refresh(document: str) -> str:
    """`document` with the text between the assumption markers replaced by the current table."""
    head, _, rest = document.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown()}{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sandbox.md")
    target.write_text(refresh(target.read_text()))
