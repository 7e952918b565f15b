"""The documented-samples score in docs/sandbox.md: samples answered as documented / samples.

Run from the checkout:  .venv/bin/python -m tests.sandbox.documented_samples.score
(rewrites the score and the list of samples answered otherwise between the markers in
docs/sandbox.md; a test keeps them current).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.sandbox.documented_samples.samples import SAMPLES

DOC = Path(__file__).resolve().parents[3] / "docs" / "sandbox.md"
START, END = "<!-- samples-score:start -->", "<!-- samples-score:end -->"
COMMAND = ".venv/bin/python -m tests.sandbox.documented_samples.score"


def score_line() -> str:
    answered = sum(sample.as_documented for sample in SAMPLES)
    by_api: dict[str, list[int]] = {}
    for sample in SAMPLES:
        counts = by_api.setdefault(sample.api, [0, 0])
        counts[0] += sample.as_documented
        counts[1] += 1
    parts = ", ".join(f"{api} {done}/{total}" for api, (done, total) in by_api.items())
    return (
        f"**{answered}/{len(SAMPLES)} documented samples answered as documented** ({parts});"
        f" regenerate with `{COMMAND}`."
    )


def otherwise_lines() -> list[str]:
    """One line per sample answered otherwise: its name and the assumptions that explain it."""
    lines = []
    for sample in SAMPLES:
        if sample.recorded:
            names = ", ".join(sorted({f"`{r.assumption}`" for r in sample.recorded}))
            lines.append(f"- [`{sample.name}`]({sample.page}): {names}")
    return lines


def refresh(document: str) -> str:
    """`document` with the text between the score markers replaced by the current score and the
    samples answered otherwise."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    otherwise = "\n".join(otherwise_lines())
    heading = "Answered otherwise, on purpose (the assumptions named say why):"
    body = f"{score_line()}\n\n{heading}\n\n{otherwise}"
    block = f"{START}\n{body}\n{END}"
    if not pattern.search(document):
        raise ValueError(f"{DOC} has no {START} ... {END} markers")
    return pattern.sub(lambda _m: block, document)


if __name__ == "__main__":
    DOC.write_text(refresh(DOC.read_text()))
    print(score_line())
    sys.exit(0)
