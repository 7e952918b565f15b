"""Generated broken plans through `bulkx validate` (issue 15 item 5): every one exits 2 with a
positioned diagnostic, no traceback, in bounded time and memory.

Each example is a valid YAML or CSV plan (steps of trunk groups, DIDs listed, rented by count
or read from a CSV source) with one to three mistakes from the review's list applied: a typo in
a key, an unknown kind, a bad or absurd count, a custom tag, an alias bomb, a FIFO, device or
missing file as source, a rename onto an existing column, a ragged row, an unterminated quote,
a NUL byte, a YAML syntax error... Every mistake alone makes the plan invalid, so the command
must say so (exit 2), and say where (a line starting with one of the plan's files).

The default suite runs a few dozen (a few seconds); `make chaos` runs the `slow` one, at least
10,000 plans (BULKX_FUZZ_PLANS), checking that none takes long and memory stays bounded.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bulkx.cli.main import app
from bulkx.plan.csv_source import MAX_HEADER_CHARS

#: One example may take this long (a hang is a failure, not a slow test).
MAX_SECONDS = 10.0
#: Resident memory the whole slow run may reach (kB, as ru_maxrss counts on Linux).
MAX_RSS_KB = 2 * 1024 * 1024
SLOW_PLANS = int(os.environ.get("BULKX_FUZZ_PLANS", "10000"))


@dataclass
class Tagged:
    """A YAML value with a custom tag in front."""

    value: Any


@dataclass
class Raw:
    """YAML text written as is (an alias bomb, a syntax error)."""

    text: str


@dataclass
class Case:
    """One generated plan: its files, and the mistakes applied to it."""

    name: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    fifos: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)


# --- YAML --------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    if isinstance(value, Tagged):
        return f"!custom {_flow(value.value)}"
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # JSON scalars are YAML scalars


def _yaml(doc: dict[str, Any], root_tag: bool, steps_tag: bool) -> str:
    lines = ["!custom"] if root_tag else []
    for key, value in doc.items():
        if key != "steps":
            lines.append(f"{_flow(key)}: {_flow(value)}")
    lines.append("steps: !custom" if steps_tag else "steps:")
    for step in doc.get("steps", []):
        if isinstance(step, dict):
            first = True
            for key, value in step.items():
                lines.append(f"  {'- ' if first else '  '}{_flow(key)}: {_flow(value)}")
                first = False
        else:
            lines.append(f"  - {_flow(step)}")
    return "\n".join(lines) + "\n"


NUMBERS = st.lists(st.integers(0, 9999), min_size=1, max_size=4, unique=True).map(
    lambda xs: [f"1516206{x:04d}" for x in xs]
)
NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
SAFE = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)


@st.composite
def _steps(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """Valid steps, and the CSV source one of them may read."""
    steps: list[dict[str, Any]] = []
    groups = draw(st.lists(SAFE, min_size=1, max_size=3, unique=True))
    steps.append({"kind": "trunk_group", "items": [{"name": g} for g in groups]})
    numbers = draw(NUMBERS)
    steps.append(
        {
            "kind": "did",
            "items": [
                {
                    "phonenumber": n,
                    "name": draw(NAMES),
                    "trunk_group": draw(st.sampled_from(groups)),
                }
                for n in numbers
            ],
        }
    )
    if draw(st.booleans()):
        criteria = draw(st.sampled_from([{"state": "NY"}, {"npa": "516"}, {}]))
        steps.append({"kind": "did", "count": draw(st.integers(1, 50)), "criteria": criteria})
    rows = [f"1516207{x:04d},{draw(SAFE)}" for x in range(draw(st.integers(1, 5)))]
    source = "phonenumber,name\n" + "\n".join(rows) + "\n"
    if draw(st.booleans()):
        steps.append({"kind": "did", "source": "a.csv"})
    return steps, source


# fmt: off
YAML_MISTAKES = [
    "item key typo", "only item key typo", "step key typo", "unknown kind", "bad count",
    "absurd count", "tag on steps", "tag on root", "tag on an item value", "alias bomb",
    "syntax error", "missing source", "fifo source", "device source", "directory source",
    "rename onto a column", "items not a list", "item not a mapping", "unknown top-level key",
    "version 2", "invalid number", "no items", "ragged source row", "unterminated quote in source",
    "nul in source", "duplicate key",
]
# fmt: on


def _bomb(levels: int) -> Raw:
    parts = ['&l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    parts += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return Raw("[" + ", ".join(parts) + "]")


def _an_item(steps: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """The DID step's items and its first item (a new DID step when an earlier mistake took
    them away)."""
    for step in steps:
        items = step.get("items") if isinstance(step, dict) else None
        if (
            step.get("kind") == "did"
            and isinstance(items, list)
            and items
            and (isinstance(items[0], dict))
        ):
            return items, items[0]
    item = {"phonenumber": "15162090001", "name": "n"}
    steps.append({"kind": "did", "items": [item]})
    return steps[-1]["items"], item


def _mutate_yaml(case: Case, doc: dict[str, Any], mistake: str, draw: st.DrawFn) -> None:
    steps = doc["steps"]
    items, item = _an_item(steps)
    match mistake:
        case "item key typo":
            item["nmae"] = item.pop("name", "x")
        case "only item key typo":
            steps.append({"kind": "trunk_group", "items": [{"nam": "tg-typo"}]})
        case "step key typo":
            steps[0]["itemz"] = steps[0].pop("items", [])
        case "unknown kind":
            steps[0]["kind"] = draw(st.sampled_from(["trunk_grup", "did2", "", "x" * 40]))
        case "bad count":
            steps.append({"kind": "did", "count": draw(st.sampled_from([0, -1, "x", 1.5, True]))})
        case "absurd count":
            steps.append({"kind": "did", "count": draw(st.integers(10**6, 10**18))})
        case "tag on an item value":
            item["name"] = Tagged(item.get("name", "x"))
        case "alias bomb":
            item["name"] = _bomb(draw(st.integers(8, 10)))
        case "syntax error":
            item["name"] = Raw(draw(st.sampled_from(["[unclosed", '"open', "{a: ", "]"])))
        case "missing source" | "fifo source" | "device source" | "directory source":
            where = {
                "missing source": "nowhere.csv",
                "fifo source": "pipe.csv",
                "device source": "/dev/zero",
                "directory source": ".",
            }[mistake]
            steps.append({"kind": "did", "source": where})
            if mistake == "fifo source":
                case.fifos.append("pipe.csv")
        case "rename onto a column":
            case.files["b.csv"] = "phonenumber,name,label\n15162080001,a,b\n"
            steps.append({"kind": "did", "source": "b.csv", "columns": {"name": "label"}})
        case "items not a list":
            steps[0]["items"] = draw(st.sampled_from([5, "x", {"name": "a"}]))
        case "item not a mapping":
            items.append(draw(st.sampled_from([5, "x", ["a"], None])))
        case "unknown top-level key":
            doc["stepz"] = []
        case "version 2":
            doc["version"] = 2
        case "invalid number":
            item["phonenumber"] = draw(st.sampled_from(["12345", "+1 (000) 000-0000", "abc"]))
        case "no items":
            steps.append({"kind": "trunk_group", "name": "empty"})
        case "duplicate key":
            items.append(dict(item))
        case "ragged source row" | "unterminated quote in source" | "nul in source":
            bad = {
                "ragged source row": "15162089999,x,extra\n",
                "unterminated quote in source": '15162089999,"never closed',
                "nul in source": "15162089999,a\x00b\n",
            }[mistake]
            case.files["c.csv"] = "phonenumber,name\n15162080002,ok\n" + bad
            steps.append({"kind": "did", "source": "c.csv"})


@st.composite
def yaml_cases(draw: st.DrawFn) -> Case:
    steps, source = draw(_steps())
    doc: dict[str, Any] = {"version": 1, "steps": steps}
    case = Case("plan.yaml", {"a.csv": source})
    case.mistakes = draw(
        st.lists(st.sampled_from(YAML_MISTAKES), min_size=1, max_size=3, unique=True)
    )
    for mistake in case.mistakes:
        _mutate_yaml(case, doc, mistake, draw)
    case.files["plan.yaml"] = _yaml(
        doc, "tag on root" in case.mistakes, "tag on steps" in case.mistakes
    )
    return case


# --- CSV ---------------------------------------------------------------------------------

CSV_MISTAKES = [
    "no kind",
    "unknown kind",
    "ragged row",
    "unterminated quote",
    "nul byte",
    "duplicate header",
    "unknown column",
    "invalid number",
    "huge header",
    "empty",
    "duplicate number",
]


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


@st.composite
def csv_cases(draw: st.DrawFn) -> Case:
    numbers = draw(NUMBERS)
    header = ["phonenumber", "name"]
    rows = [[n, draw(NAMES)] for n in numbers]
    kind_line = "# kind: did"
    mistakes = draw(st.lists(st.sampled_from(CSV_MISTAKES), min_size=1, max_size=3, unique=True))
    tail = ""
    for mistake in mistakes:
        match mistake:
            case "no kind":
                kind_line = ""
            case "unknown kind":
                kind_line = "# kind: " + draw(st.sampled_from(["dids", "trunk", "x"]))
            case "ragged row":
                rows.append(["15162089999", "x", "extra"])
            case "unterminated quote":
                tail = '15162089998,"never closed'
            case "nul byte":
                rows.append(["15162089997", "a\x00b"])
            case "duplicate header":
                header.append("name")
                rows = [[*r, "x"] if len(r) == 2 else r for r in rows]
            case "unknown column":
                header[1] = "nmae"
            case "invalid number":
                rows[0][0] = draw(st.sampled_from(["12345", "abc", "+1 (000) 000-0000"]))
            case "huge header":
                header.append("x" * (MAX_HEADER_CHARS + 1))
            case "duplicate number":
                rows.append(list(rows[0]))
    lines = [",".join(_csv_cell(c) for c in row) for row in [header, *rows]]
    text = "\n".join(([kind_line] if kind_line else []) + lines) + "\n" + tail
    if "empty" in mistakes:
        text = draw(st.sampled_from(["", "\n\n", "# kind: did\n"]))
    return Case("plan.csv", {"plan.csv": text}, mistakes=mistakes)


# --- running them ------------------------------------------------------------------------

_RUNNER = CliRunner()


def check(case: Case) -> float:
    """Validate the case's plan in process; assert exit 2, a positioned line, no traceback.
    Returns the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="bulkx-fuzz-") as tmp:
        root = Path(tmp)
        for name, content in case.files.items():
            data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
            (root / name).write_bytes(data)
        for name in case.fifos:
            os.mkfifo(root / name)
        plan = root / case.name
        started = time.perf_counter()
        # catch_exceptions=False: any exception but the exit is a failure of this test.
        result = _RUNNER.invoke(app, ["validate", str(plan)], catch_exceptions=False)
        seconds = time.perf_counter() - started
    where = f"mistakes {case.mistakes}:\n{case.files[case.name]!r}\n{result.output}"
    assert result.exit_code == 2, where
    assert "Traceback" not in result.output, where
    # A source's own problems (unreadable, binary) name it as the plan spells it.
    files = [*case.files, *case.fifos, "nowhere.csv", "/dev/zero"]
    prefixes = tuple(f"{root / name}:" for name in case.files) + tuple(f"{n}:" for n in files)
    prefixes += (f"{root}:", f"{root / case.name}")
    assert any(line.startswith(prefixes) for line in result.output.splitlines()), where
    assert seconds < MAX_SECONDS, f"{seconds:.1f} s: {where}"
    return seconds


QUICK = settings(
    max_examples=int(os.environ.get("BULKX_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@QUICK
@given(yaml_cases())
def test_generated_broken_yaml_plans(case: Case) -> None:
    check(case)


@QUICK
@given(csv_cases())
def test_generated_broken_csv_plans(case: Case) -> None:
    check(case)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_ten_thousand_generated_plans() -> None:
    """`make chaos`: SLOW_PLANS plans, YAML and CSV, none slow, memory bounded."""
    seen: list[float] = []

    @settings(
        max_examples=SLOW_PLANS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(yaml_cases(), csv_cases()))
    def one(case: Case) -> None:
        seen.append(check(case))

    one()
    assert len(seen) >= SLOW_PLANS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rss < MAX_RSS_KB, f"{rss / 1024:.0f} MB resident after {len(seen)} plans"
    print(f"{len(seen)} plans, slowest {max(seen):.2f} s, {rss / 1024:.0f} MB resident")
