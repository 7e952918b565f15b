"""`bulkx lookup`: the port-in pre-check report against a served sandbox."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import TOKEN, Sandbox


def test_lookup_reports_every_number_in_file_order(
    sandbox: Sandbox, core: httpx.Client, tmp_path: Path
) -> None:
    owned = core.get("/phonenumber/available_dids", params={"limit": 1}).json()["items"][0]
    assert core.post("/phonenumber/dids", json={"phonenumber": owned["phonenumber"]}).is_success
    numbers = tmp_path / "port.csv"
    numbers.write_text(
        "# kind: did\nname,phonenumber\n"
        f"a,+{owned['phonenumber']}\nb,1-800-555-1234\nc,12\nd,(516) 206-5575\n"
    )
    env = {**os.environ, "CARRIERX_TOKEN": TOKEN}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkx",
            "lookup",
            str(numbers),
            "--rates",
            "--base-url",
            sandbox.core_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3, done.stderr  # one row could not be looked up: partial
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["line"], r["valid"], r["on_account"]) for r in rows] == [
        ("3", "True", "True"),
        ("4", "True", "False"),
        ("5", "False", ""),
        ("6", "True", "False"),
    ]
    assert rows[1]["resporg"] and not rows[0]["resporg"]  # toll-free only
    assert all(r["carrier"] and r["inbound_rate"] for r in rows if r["valid"] == "True")
    assert rows[2]["error"] == "not a valid phone number"
    assert "4 number(s)" in done.stderr and "1 already on the account" in done.stderr
    assert f"{numbers}:5: '12': not a valid phone number" in done.stderr
