"""The shipped example plans, the published schema, and `bulkx validate` / `bulkx schema`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bulkx.cli.plan_commands import register
from bulkx.plan.jsonschema import plan_schema
from tests.plan.conftest import check_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "plans").glob("*.yaml"))


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"port-in.yaml", "new-site.yaml", "e911-correction.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_clean(path: Path) -> None:
    assert path.read_text().startswith("# yaml-language-server: $schema=../docs/plan.schema.json")
    plan, diagnostics = check_file(path)
    assert diagnostics == []
    assert plan is not None and plan.steps


def test_port_in_example_contents() -> None:
    plan, _ = check_file(ROOT / "plans" / "port-in.yaml")
    assert plan is not None
    dids = plan.steps_of("did")[0].rows
    assert dids.height == 40
    assert set(dids["ensure"]) == {"adopted"} and set(dids["trunk_group"]) == {"acme-sip"}
    assert dids["phonenumber"].str.contains(r"^1\d{10}$").all()
    assert plan.steps_of("did_emergency")[0].rows.height == 40


def test_new_site_rents_500_numbers() -> None:
    plan, _ = check_file(ROOT / "plans" / "new-site.yaml")
    assert plan is not None
    (step,) = plan.steps_of("did")
    assert (step.count, dict(step.criteria)) == (500, {"state": "NY", "npa": "516"})


def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
    assert published == plan_schema(), "regenerate: bulkx schema > docs/plan.schema.json"


def test_schema_command_prints_the_schema() -> None:
    code, output = _run("schema")
    assert code == 0
    assert json.loads(output) == plan_schema()


def test_validate_valid_plan_exit_0() -> None:
    code, output = _run("validate", str(ROOT / "plans" / "port-in.yaml"))
    assert code == 0
    assert output.strip().startswith("plan is valid")


def test_validate_invalid_text_output(tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text(
        "steps:\n  - kind: did\n    items:\n      - {phonenumber: '12', trunk_group: x}\n"
    )
    code, output = _run("validate", str(plan))
    assert code == 2
    lines = output.splitlines()
    assert lines[0].startswith(f"{plan}:4:23: phonenumber '12' is not a NANP number")
    assert lines[1].startswith("  hint: ")
    assert lines[2].startswith(f"{plan}:4:42: warning: trunk_group 'x'")
    assert lines[-1] == "1 error, 1 warning in 1 file"


def test_validate_warnings_only_exit_0(tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text("- kind: did\n  items: [{phonenumber: '5162065575', trunk_group: x}]\n")
    code, output = _run("validate", str(plan))
    assert code == 0
    assert output.splitlines()[-1] == "0 errors, 1 warning in 1 file"


def test_validate_json_document(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("phonenumber,ensure\n5162065575,gone\n")
    code, output = _run("validate", str(csv), "--kind", "did", "-o", "json")
    assert code == 2
    document = json.loads(output)
    assert document["schema_version"] == 1
    assert document["valid"] is False
    assert document["summary"] == {"errors": 1, "warnings": 0, "files": 1}
    (diagnostic,) = document["diagnostics"]
    assert diagnostic == {
        "file": str(csv),
        "line": 2,
        "column": 2,
        "code": "BX102",
        "severity": "error",
        "message": "ensure 'gone' is not one of present, adopted, absent",
        "hint": "one of: present, adopted, absent",
    }


def test_validate_missing_file_is_clean(tmp_path: Path) -> None:
    code, output = _run("validate", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "no such file" in output and "Traceback" not in output


def test_validate_csv_with_unknown_kind_option(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("phonenumber\n5162065575\n")
    code, output = _run("validate", str(csv), "--kind", "dids", "-o", "json")
    assert code == 2
    assert json.loads(output)["diagnostics"][0]["hint"] == "did you mean 'did'?"
