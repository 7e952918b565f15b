"""`bulkx plan` and `bulkx audit` diff a plan a chunk of rows at a time (2,000) and spool the
changes: every output of a plan of several chunks holds every change, in plan order, and the
spool is gone after, against a sandbox served on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.server import serve_in_thread

NUMBERS = [f"1201314{i:04d}" for i in range(2_500)]
RENAMED = NUMBERS[::10]
#: `python -m bulkx` under a limit on the size of the files it writes (as a disk filling up:
#: Python ignores SIGXFSZ, so a write past the limit fails with EFBIG).
LIMITED = (
    "import resource, runpy, sys; n = int(sys.argv.pop(1));"
    " resource.setrlimit(resource.RLIMIT_FSIZE, (n, n));"
    " runpy.run_module('bulkx', run_name='__main__', alter_sys=True)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The base URL of a sandbox holding 2,500 DIDs, and a plan renaming every tenth."""
    work = tmp_path_factory.mktemp("streamed")
    app = create_app(SandboxConfig(db=work / "served.db", seed=3))
    seed_ported(app.world, [(n, f"line {i}") for i, n in enumerate(NUMBERS)])
    plan = work / "dids.csv"
    rows = [f"{n},{'renamed' if i % 10 == 0 else 'line'} {i}" for i, n in enumerate(NUMBERS)]
    plan.write_text("phonenumber,name\n" + "\n".join(rows) + "\n")
    with serve_in_thread(app) as server:
        yield f"{server.url}/core/v2", plan


def bulkx(
    served: tuple[str, Path], *args: str, file_size_limit: int | None = None
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The command on the plan, with a temporary directory of its own (the spool's place);
    `file_size_limit`: no file it writes may grow past so many bytes (a disk filling up)."""
    base, plan = served
    tmp = plan.parent / f"tmp-{len(list(plan.parent.glob('tmp-*')))}"
    tmp.mkdir()
    env = {**os.environ, "CARRIERX_TOKEN": "sandbox-token", "TMPDIR": str(tmp)}
    argv = [sys.executable, "-m", "bulkx", *args[:1], str(plan), "--kind", "did", *args[1:]]
    argv += ["--base-url", base]
    if file_size_limit is not None:
        argv[1:3] = ["-c", LIMITED, str(file_size_limit)]
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=plan.parent, env=env, timeout=120
    )
    return done, tmp


def test_every_change_of_every_chunk_is_in_the_machine_outputs(
    served: tuple[str, Path],
) -> None:
    as_jsonl, tmp = bulkx(served, "plan", "-o", "jsonl", "--save", "saved.json")
    assert as_jsonl.returncode == 0, as_jsonl.stderr
    header, *lines = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert header["summary"] == {"did": {"update": 250, "noop": 2_250}}
    assert [c["key"] for c in lines] == NUMBERS
    assert [c["key"] for c in lines if c["action"] == "update"] == RENAMED
    assert list(tmp.iterdir()) == []  # the spool went with the command
    saved = json.loads((served[1].parent / "saved.json").read_text())
    assert saved["changes"] == [{k: v for k, v in c.items() if k != "type"} for c in lines]

    as_json, _ = bulkx(served, "plan", "-o", "json")
    document = json.loads(as_json.stdout)
    assert as_json.stdout == json.dumps(document, indent=2) + "\n"
    assert [c["key"] for c in document["changes"]] == NUMBERS

    as_csv, _ = bulkx(served, "plan", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["key"] for r in rows if r["action"] == "update"] == RENAMED
    assert len(rows) == 2_500


def test_the_text_lists_the_first_changes_counts_the_rest_and_shows_progress(
    served: tuple[str, Path],
) -> None:
    shown, _ = bulkx(served, "plan")
    assert shown.returncode == 0, shown.stderr
    listed = [line for line in shown.stdout.splitlines() if line.startswith("~ did ")]
    assert listed == [f"~ did {n}" for n in RENAMED[:200]]
    assert "… and 50 more changes" in shown.stdout
    assert "0 to create, 0 to rent, 250 to update, 0 to release; 2250 unchanged." in shown.stdout
    assert "reading live state: 2,500/2,500 DIDs" in shown.stderr.splitlines()


def test_audit_of_a_drifted_plan_of_several_chunks_exits_2(served: tuple[str, Path]) -> None:
    audited, tmp = bulkx(served, "audit")
    assert audited.returncode == 2, audited.stderr
    assert "250 to update" in audited.stdout
    assert list(tmp.iterdir()) == []


def test_a_spool_that_cannot_be_written_is_a_clear_error(served: tuple[str, Path]) -> None:
    """A full disk where the changes are spooled: exit 6 and what to do, no traceback, no
    spool left behind."""
    full, tmp = bulkx(served, "plan", "-o", "jsonl", file_size_limit=64_000)
    assert full.returncode == 6, full.stderr
    assert "cannot keep the changes in" in full.stderr and "TMPDIR" in full.stderr
    assert "Traceback" not in full.stderr
    assert list(tmp.iterdir()) == []
