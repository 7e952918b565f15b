"""The core names what a blocked change or a revert needs (a permission, `Blocked.needs`); the
CLI alone spells it as the flag that gives it (`bulkx.cli.options.ALLOW_FLAGS`). The commands
run for real (in-process) against a sandbox served on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkx.exit_codes import USAGE
from bulkx.sandbox.resources.numbers import seed_ported
from tests.conftest import Sandbox
from tests.kinds.cli import Bulkx, write
from tests.test_html_pages import parsed

#: A number the sandbox holds (seeded as ported), and one that texts go to.
SENDER = "12013140409"
RECIPIENT = "+1 212 555 0134"

ROUTES = """
version: 1
steps:
  - kind: trunk_group
    name: routes
    items: [{name: spare-route}]
"""

#: Retires the route the run above made (a delete: 'release'), and texts a customer ('send').
RETIRE_AND_TEXT = f"""
version: 1
steps:
  - kind: trunk_group
    name: retire
    items: [{{name: spare-route, ensure: absent}}]
  - kind: did_messaging
    name: texting-line
    items: [{{phonenumber: "{SENDER}", enabled: true}}]
  - kind: sms.message
    name: notice
    items: [{{ref: notice-1, from: "{SENDER}", to: "{RECIPIENT}", message: Hello}}]
"""

#: Retires the route, and makes another: a saved changeset with a blocked change and a create.
RETIRE_AND_MAKE = """
version: 1
steps:
  - kind: trunk_group
    name: retire
    items: [{name: spare-route, ensure: absent}, {name: new-route}]
"""

#: The hint bulkx wrote for a blocked delete before blocked changes named what they need.
OLD_HINT = "what is deleted cannot be put back through the API; pass --allow-release"


@pytest.fixture
def bulkx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Bulkx:
    """`bulkx` against a fresh sandbox on 127.0.0.1 holding a ported number, run in an empty
    directory (its journals under it)."""
    seed_ported(sandbox.world, [(SENDER, "texting line")])
    monkeypatch.chdir(tmp_path)
    return Bulkx(sandbox)


def _made_a_route(tmp_path: Path, bulkx: Bulkx) -> str:
    """Apply ROUTES; the id of its run."""
    applied = bulkx.run("apply", str(write(tmp_path / "routes.yaml", ROUTES)), "--yes")
    assert applied.exit_code == 0, applied.stderr
    return applied.stderr.split("run id: ")[1].split()[0]


def test_the_pages_name_the_flag_each_permission_is_given_by(tmp_path: Path, bulkx: Bulkx) -> None:
    run_id = _made_a_route(tmp_path, bulkx)
    report = bulkx.run("report", run_id, "-o", "html", target=False)
    assert report.exit_code == 0, report.stderr
    # The revert of the run deletes the route it made: applying it needs --allow-release.
    assert "(apply needs --allow-release)" in parsed(report.stdout).words

    plan = write(tmp_path / "retire.yaml", RETIRE_AND_TEXT)
    planned = bulkx.changes(plan)
    assert sorted((c["kind"], c.get("needs")) for c in planned if c["action"] == "blocked") == [
        ("sms.message", "send"),
        ("trunk_group", "release"),
    ]
    page = bulkx.run("plan", str(plan), "-o", "html")
    assert page.exit_code == 0, page.stderr
    words = parsed(page.stdout).words
    assert "ensure: absent would delete this trunk_group" in words
    assert "(needs: --allow-release)" in words and "(needs: --allow-send)" in words
    assert "(needs: release)" not in words and "(needs: send)" not in words


def _refused(bulkx: Bulkx, saved: Path) -> str:
    """`bulkx apply SAVED --yes`, refused for a blocked change: what it said."""
    result = bulkx.run("apply", str(saved), "--yes")
    assert result.exit_code == USAGE, result.stderr
    assert "blocked: trunk_group spare-route: ensure: absent would delete" in result.stderr
    assert "1 change(s) are blocked" in result.stderr
    return result.stderr


def test_a_changeset_saved_before_blocked_changes_named_their_needs_still_refuses(
    tmp_path: Path, bulkx: Bulkx
) -> None:
    """A saved blocked change is compared without its hint and needs (their words change
    between versions): still blocked now, it refuses the apply, as a newly saved one does,
    and is never dropped while the rest (a create) is applied."""
    _made_a_route(tmp_path, bulkx)
    saved = tmp_path / "retire.json"
    plan = write(tmp_path / "retire.yaml", RETIRE_AND_MAKE)
    planned = bulkx.run("plan", str(plan), "--save", str(saved))
    assert planned.exit_code == 0, planned.stderr
    now = _refused(bulkx, saved)

    document = json.loads(saved.read_text())
    (blocked,) = [c for c in document["changes"] if c["action"] == "blocked"]
    assert blocked["needs"] == "release"
    del blocked["needs"]
    blocked["hint"] = OLD_HINT
    saved.write_text(json.dumps(document))
    assert _refused(bulkx, saved) == now
    assert sorted(g["name"] for g in bulkx.get("/trunk_groups")) == ["spare-route"]
