"""`bulkx kinds` and docs/kinds.md (issue 17, item 8): the plan author's reference comes from the
kind definitions validation uses, and the doc says how to regenerate itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bulkx.kinds import KINDS
from bulkx.kinds.reference import REGENERATE, markdown

REPO = Path(__file__).resolve().parents[1]


def bulkx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args], capture_output=True, text=True, timeout=60
    )


def test_docs_kinds_md_is_current() -> None:
    current = (REPO / "docs" / "kinds.md").read_text()
    assert current == "\n".join(markdown()) + "\n", f"docs/kinds.md is stale: run `{REGENERATE}`"


def test_kinds_lists_every_kind_and_one_kind_its_fields() -> None:
    listed = bulkx("kinds")
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert names == set(KINDS)
    fields = json.loads(bulkx("kinds", "did_emergency", "-o", "json").stdout)
    by_name = {row["field"]: row for row in fields}
    assert by_name["phonenumber"]["required"] is True
    assert by_name["caller_name"]["allowed"] == "at most 32 characters"
    assert {row["field"] for row in fields} == {f.name for f in KINDS["did_emergency"].fields}
    trunk = {row["field"]: row for row in json.loads(bulkx("kinds", "did", "-o", "json").stdout)}
    assert trunk["trunk_group"]["api_field"] == "trunk_group_sid (as the sid)"
    assert trunk["ensure"]["allowed"] == "present, adopted, absent"


def test_an_unknown_kind_or_format_is_a_usage_error() -> None:
    unknown = bulkx("kinds", "nope")
    assert unknown.returncode == 2 and "unknown kind 'nope'" in unknown.stderr
    bad = bulkx("kinds", "-o", "yaml")
    assert bad.returncode == 2 and "choose table|json|jsonl|csv" in bad.stderr
