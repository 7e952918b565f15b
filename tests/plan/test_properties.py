"""Arbitrary text and bytes into the loaders: a plan or positioned diagnostics, nothing else."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkx.plan.model import Plan
from bulkx.plan.validate import validate
from tests.plan.conftest import check_file

SETTINGS = settings(
    max_examples=int(os.environ.get("BULKX_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Text shaped like plans finds deeper paths than uniform noise.
YAML_BITS = st.sampled_from(
    [
        "version: 1\n",
        "steps:\n",
        "  - kind: did\n",
        "  - kind: trunk\n",
        "    items:\n",
        "      - phonenumber: 5162065575\n",
        "        trunk_group: x\n",
        "    source: a.csv\n",
        "    count: 3\n",
        "    defaults: {name: '{x}'}\n",
        "- ",
        ": ",
        "{",
        "[",
        "'",
        '"',
        "\t",
        "&a ",
        "*a",
        "!!binary ",
        "\n",
        "#",
        "---\n",
        "? ",
        "%YAML 1.2\n",
    ]
)
CSV_BITS = st.sampled_from(
    [
        "phonenumber",
        "name",
        "trunk_group",
        ",",
        "\n",
        '"',
        "\r\n",
        "+1 (516) 206-5575",
        "516",
        "# kind: did\n",
        "\ufeff",
        " ",
        "x",
        "ensure",
        "adopted",
    ]
)


def _ok(plan: Plan | None, diagnostics: list) -> None:  # type: ignore[type-arg]
    assert plan is not None or diagnostics
    for d in diagnostics:
        assert d.position.file and d.position.line >= 0 and d.position.column >= 0
        assert d.message


def _load(data: str | bytes, name: str, kind: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        (Path(tmp) / "a.csv").write_text("phonenumber\n5162065575\n")
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8", errors="surrogatepass")
        plan, diagnostics = check_file(path, kind)
        _ok(plan, diagnostics)
        if plan is not None:
            validate(plan)  # validating a second time must not raise either


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_yaml(text: str) -> None:
    _load(text.encode("utf-8", "replace"), "plan.yaml")


@SETTINGS
@given(st.lists(YAML_BITS, max_size=30).map("".join))
def test_plan_like_yaml(text: str) -> None:
    _load(text, "plan.yaml")


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_yaml(data: bytes) -> None:
    _load(data, "plan.yaml")


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_csv(data: bytes) -> None:
    _load(data, "plan.csv", kind="did")


@SETTINGS
@given(st.lists(CSV_BITS, max_size=40).map("".join))
def test_csv_like_text(text: str) -> None:
    _load(text, "plan.csv", kind="did")


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_csv(text: str) -> None:
    _load(text.encode("utf-8", "replace"), "plan.csv", kind="did_emergency")


@pytest.mark.parametrize(
    "text",
    [
        "*",  # found by hypothesis: a column named `*` is a wildcard to pl.col()
        "*\nx\n",
        "^a$,phonenumber\nx,15162065575\n",  # and `^...$` a regex
    ],
)
def test_column_names_polars_would_misread(text: str) -> None:
    _load(text.encode(), "plan.csv", kind="did")
