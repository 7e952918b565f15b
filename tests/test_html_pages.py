"""`bulkx plan PLAN -o html` and `bulkx report RUN_ID -o html` (issue 19 part 2): self-contained
pages that parse as HTML, hold the counts and changes, show hostile values as text and stay
small for a 100,000-change plan. The commands run for real against a sandbox on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bulkx.audit.chart import chart
from bulkx.audit.plan_page import PER_STEP, plan_page
from bulkx.cli.options import ALLOW_FLAGS
from bulkx.diff.changes import (
    Blocked,
    Change,
    Changeset,
    Create,
    FieldChange,
    NoOp,
    Release,
    Update,
)
from bulkx.journal import Journal, Operation, Sample
from bulkx.plan.model import Position
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.server import serve_in_thread

HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_ATTRIBUTE = '"onerror=alert(2) x="'
NUMBERS = [f"1201207{i:04d}" for i in range(30)]


class Page(HTMLParser):
    """A page parsed: its tags in order, every attribute, its text, and unclosed tags."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "line", "rect", "polyline"})
    INLINE = frozenset({"code", "span", "strong", "em", "b", "i"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._apart(tag)
        self.attributes += attrs
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def _apart(self, tag: str) -> None:
        """Text of separate cells and blocks is separate words; of inline tags, one text."""
        if tag not in self.INLINE:
            self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._apart(tag)
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join("".join(self.text).split())


def parsed(text: str) -> Page:
    page = Page(text)
    assert page.open == [], f"unclosed: {page.open}"
    assert page.tags[:1] == ["html"]
    return page


def assert_self_contained(page: Page) -> None:
    """No script runs and nothing is fetched: no script tag, no handler, no URL to load."""
    assert "script" not in page.tags
    assert not [name for name, _ in page.attributes if name.startswith("on")]
    assert not [value for name, value in page.attributes if name in ("src", "href")]


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in `cwd` (journals under `cwd/.bulkx`), with the sandbox token."""
    env = {k: v for k, v in os.environ.items() if k != "BULKX_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**env, "CARRIERX_TOKEN": "sandbox-token"},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A sandbox on 127.0.0.1 holding 30 ported numbers, answering 429 beyond 6 requests a
    second (so that a run of the plan lasts seconds, sampled, and meets 429s); its Core URL
    and a working folder with a plan that renames them (hostile names) and makes a trunk
    group."""
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=5, rate_limit=6))
    seed_ported(app.world, [(number, f"line {i}") for i, number in enumerate(NUMBERS)])
    work = tmp_path / "work"
    work.mkdir()
    names = [HOSTILE_SCRIPT, HOSTILE_ATTRIBUTE]
    items = "".join(
        f"      - {{phonenumber: '{n}', ensure: adopted, name: {json.dumps(names[i % 2])}}}\n"
        for i, n in enumerate(NUMBERS)
    )
    (work / "plan.yaml").write_text(
        "version: 1\nsteps:\n  - kind: trunk_group\n    name: groups\n    items:\n"
        f"      - {{name: {json.dumps('tg ' + HOSTILE_SCRIPT)}}}\n"
        f"  - kind: did\n    name: rename\n    items:\n{items}"
    )
    with serve_in_thread(app) as server:
        yield f"{server.url}/core/v2", work


def test_the_plan_page_shows_counts_and_changes_and_escapes_hostile_values(
    served: tuple[str, Path],
) -> None:
    base, work = served
    done = bulkx(work, "plan", "plan.yaml", "-o", "html", "--base-url", base)
    assert done.returncode == 0, done.stderr
    page = parsed(done.stdout)
    assert_self_contained(page)
    words = page.words
    # Items per step: create, update.
    assert "step create update groups 1 0 rename 0 30 total 1 30" in words
    assert f"name: line 0 → {HOSTILE_SCRIPT}" in words  # old → new, as text
    assert f"name: line 1 → {HOSTILE_ATTRIBUTE}" in words
    assert "<script>" not in done.stdout and '"onerror=' not in done.stdout
    assert "allow_release=false" in words and base in words  # the options, the target

    to_file = bulkx(
        work, "plan", "plan.yaml", "-o", "html", "--output-file", "audit.html", "--base-url", base
    )
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == "" and "rename 0 30" in parsed((work / "audit.html").read_text()).words


def test_the_run_page_shows_outcome_counts_and_what_a_revert_could_undo(
    served: tuple[str, Path],
) -> None:
    base, work = served
    applied = bulkx(work, "apply", "plan.yaml", "--yes", "--base-url", base)
    assert applied.returncode == 0, applied.stderr
    run_id = applied.stderr.split("run id: ")[1].split()[0]

    done = bulkx(work, "report", run_id, "-o", "html", "--output-file", "run.html")
    assert done.returncode == 0, done.stderr
    text = (work / "run.html").read_text()
    page = parsed(text)
    assert_self_contained(page)
    words = page.words
    assert f"Run {run_id} completed, exit 0: 31 succeeded, 0 failed, 0 skipped of 31" in words
    assert "step succeeded groups 1 rename 30 total 31" in words
    # Paced by the sandbox's 429s over seconds: samples, and a chart of them.
    assert "svg" in page.tags and "polyline" in page.tags and "sample intervals over" in words
    # 30 names set back, the trunk group made by the run removed; nothing irreversible.
    assert "30 object(s) set back" in words and "1 created or rented object(s) removed" in words
    assert "Nothing the run did is irreversible" in words
    assert "<script>" not in text

    both = bulkx(work, "report", run_id, "-o", "html", "--failed")
    assert both.returncode == 2 and "-o html reports the whole run" in both.stderr
    assert "Traceback" not in both.stderr


def test_the_run_page_lists_failures_with_their_error_and_charts_429s(tmp_path: Path) -> None:
    """A journal as a run writes it: failures whose error holds hostile text, and samples
    with 429s between them (the served runs above are too short to sample)."""
    journal = Journal.create(
        tmp_path / ".bulkx",
        plan_path=f"plans/{HOSTILE_SCRIPT}.yaml",
        plan_digest="d1",
        target_label="sandbox http://127.0.0.1:1",
        is_sandbox=True,
        options={},
        changeset_json='{"changes": []}',
    )
    ops = [
        Operation(
            op_key=f"k{i}",
            step="numbers",
            kind="did",
            key=f"1201208{i:04d}",
            action="update",
            position=f"plan.yaml:{i + 4}",
            depends_on=(),
            change={
                "changes": [{"field": "name", "old": "a", "new": "b"}],
                "values": {"phonenumber": f"1201208{i:04d}", "name": "b"},
            },
        )
        for i in range(6)
    ]
    ids = journal.add_ops(ops)
    journal.start(ids)
    for op_id in ids[:4]:
        journal.succeed(op_id, f"sid-{op_id}")
    journal.fail(ids[4], f"400 {HOSTILE_ATTRIBUTE} {HOSTILE_SCRIPT}")
    journal.fail(ids[5], "409 conflict")
    for finished, throttled in ((0, 0), (2, 3), (4, 7), (6, 7)):
        journal.sample(done=finished, failed=0, in_flight=1, throttled=throttled)
    journal.set_run_state("failed", 1)
    run_id = journal.run_id
    journal.close()

    done = bulkx(tmp_path, "report", run_id, "-o", "html")
    assert done.returncode == 0, done.stderr
    page = parsed(done.stdout)
    assert_self_contained(page)
    words = page.words
    assert "failed, exit 1: 4 succeeded, 2 failed" in words
    assert "2 item(s) failed" in words
    assert f"failed numbers did 12012080004 plan.yaml:8 400 {HOSTILE_ATTRIBUTE}" in words
    assert "409 conflict" in words and f"plans/{HOSTILE_SCRIPT}.yaml" in words
    # Sampled within milliseconds: no chart, but every 429 counted (3 + 4, cumulative).
    assert "svg" not in page.tags and "7 answer(s) 429 in all" in words
    assert "<script>" not in done.stdout and '"onerror=' not in done.stdout


def _change(i: int, step: str) -> Update:
    return Update(
        kind="did",
        key=f"1{i:010d}",
        step=step,
        position=Position("big.csv", i + 2),
        sid=f"sid-{i}",
        changes=(FieldChange("name", f"old {i}", f"new {i}"),),
    )


def test_a_blocked_change_shows_what_it_needs_in_the_words_it_is_given() -> None:
    """The page is the core's: it names the permission, unless the CLI gives its flags."""
    at = Position("texts.yaml", 4)
    blocked = Blocked("sms.message", "hi-1", "texts", at, "the plan would send it", "ask", "send")
    changeset = Changeset("texts.yaml", "digest", "sandbox", (blocked,), "2026-12-07T12:00:00Z")
    named = parsed(plan_page(changeset, {})).words
    assert "the plan would send it (hint: ask) (needs: send)" in named
    flagged = parsed(plan_page(changeset, {}, ALLOW_FLAGS)).words
    assert "the plan would send it (hint: ask) (needs: --allow-send)" in flagged


def test_a_100000_change_plan_is_summarised_under_2_mb() -> None:
    changes: list[Change] = [_change(i, "huge") for i in range(99_000)]
    changes += [_change(i, f"small-{i % 10}") for i in range(99_000, 100_000)]
    changes += [
        Release(
            kind="did",
            key="12015550000",
            step="gone",
            position=Position("big.csv", 1),
            sid="sid-gone",
        ),
        Create(
            kind="trunk_group",
            key="new",
            step="gone",
            position=Position("big.csv", 1),
            values={"name": "new"},
        ),
        NoOp(
            kind="did",
            key="12015550001",
            step="gone",
            position=Position("big.csv", 1),
            sid="sid-same",
        ),
    ]
    changeset = Changeset("big.csv", "digest", "sandbox", tuple(changes), "2026-12-07T12:00:00Z")
    text = plan_page(changeset, {"kind": "did"})
    assert len(text.encode()) < 2_000_000
    words = parsed(text).words
    assert "huge: 99,000 change(s), 0 unchanged; 50 listed, 98,950 more not listed" in words
    listed = PER_STEP * 11 + 2  # the first of each big step, both of "gone"
    assert f"100,002 change(s), {listed} listed" in words
    assert "name: old 0 → new 0" in words and "old 98999" not in words  # past its step's first
    assert "1 change(s) release, delete or send" in words and "sid sid-gone" in words


def test_the_chart_counts_429s_per_interval_and_survives_a_counter_restart() -> None:
    at = [f"2026-12-07T12:00:0{s}.000Z" for s in range(5)]
    samples = [
        Sample(at[0], 0, 0, 0, None, 0, 0),
        Sample(at[1], 10, 0, 4, None, 2, 0),
        Sample(at[2], 30, 0, 4, None, 2, 0),
        Sample(at[3], 5, 0, 4, None, 1, 0),
        Sample(at[4], 15, 0, 4, None, 4, 0),
    ]
    drawn = chart(samples)
    assert (drawn.intervals, drawn.seconds, drawn.throttled) == (4, 4.0, 2 + 1 + 3)
    assert drawn.peak_rate == 20.0 and drawn.peak_throttled == 3
    assert len(drawn.line.split()) == 4 and len(drawn.bars) == 3
    assert chart(samples[:2]).intervals == 0  # one interval is no line
    # The last sample a moment after the one before: one interval with it, its 429s kept.
    late = Sample("2026-12-07T12:00:04.010Z", 16, 0, 0, None, 5, 0)
    merged = chart([*samples, late])
    assert (merged.intervals, merged.throttled) == (4, 2 + 1 + 3 + 1)
    assert merged.seconds == pytest.approx(4.01)


def test_listing_runs_does_not_import_the_template_library(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom bulkx.cli.main import app\n"
        "try:\n    app(['runs'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('jinja2', 'bulkx.audit'))),"
        " file=sys.__stdout__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert out.strip() == "[]"


def test_long_hostile_values_in_many_steps_stay_under_2_mb() -> None:
    """The worst a plan can do to the page's size: 2,000 steps of 50 changes of 5 fields,
    every value long and made of characters that escaping lengthens."""
    value = '<"&' * 200
    changes = tuple(
        Update(
            kind="did",
            key=f"{value}{i}",
            step=f"step {i // 50} {value}",
            position=Position(value, i),
            sid=value,
            changes=tuple(FieldChange(f"f{j}", value, value + "x") for j in range(5)),
        )
        for i in range(100_000)
    )
    text = plan_page(Changeset(value, "digest", value, changes, value), {"kind": value})
    assert len(text.encode()) < 2_000_000
    page = parsed(text)
    assert_self_contained(page)
    assert "more step(s)" in page.words and "100,000 change(s)" in page.words
