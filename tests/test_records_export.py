"""Record exports over HTTP: cursor paging by time shard, CSV and Parquet, resumed after a stop
with no row lost or written twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bulkx.api import CarrierX, Secret, Target
from bulkx.errors import TransportError
from bulkx.records import RECORD_KINDS, ExportError, export_records
from bulkx.sandbox.resources.records import seed_records
from tests.conftest import TOKEN, Sandbox, module_sandbox


@pytest.fixture(scope="module")
def records_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    for served in module_sandbox(tmp_path_factory, "records"):
        seed_records(served.world, calls=2500, messages=300)
        yield served


def _window(sandbox: Sandbox) -> tuple[datetime, datetime, int]:
    with sandbox.core() as core:
        first = core.get("/calls/call_drs", params={"order": "date_start asc", "limit": 1}).json()
        last = core.get("/calls/call_drs", params={"order": "date_start desc", "limit": 1}).json()
    since = datetime.fromisoformat(first["items"][0]["date_start"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(last["items"][0]["date_start"].replace("Z", "+00:00"))
    return since, until, int(first["total"])


def _client(sandbox: Sandbox) -> CarrierX:
    return CarrierX(Target(sandbox.core_url, is_sandbox=True, label="records"), Secret(TOKEN))


def test_sharded_export_to_parquet_holds_every_record_once(
    records_sandbox: Sandbox, tmp_path: Path
) -> None:
    since, until, total = _window(records_sandbox)
    out = tmp_path / "cdrs.parquet"

    async def run() -> Any:
        async with _client(records_sandbox) as client:
            # `until` is exclusive: reach just past the newest record.
            end = until.replace(year=until.year + 1)
            return await export_records(
                client, RECORD_KINDS["cdr"], out, since=since, until=end, shards=3
            )

    result = asyncio.run(run())
    frame = pl.read_parquet(out)
    assert result.rows == frame.height == total
    assert frame["dr_sid"].n_unique() == total
    assert result.shards == 3
    assert not out.with_name(out.name + ".parts").exists()


def test_a_stopped_export_resumes_without_losing_or_repeating_rows(
    records_sandbox: Sandbox, tmp_path: Path
) -> None:
    since, until, total = _window(records_sandbox)
    out = tmp_path / "cdrs.csv"
    kind = RECORD_KINDS["cdr"]
    end = until.replace(year=until.year + 1)

    async def stopped_after(pages: int) -> None:
        async with _client(records_sandbox) as client:
            real_get = client.get
            calls = 0

            async def flaky_get(api: str, path: str, **kwargs: Any) -> Any:
                nonlocal calls
                calls += 1
                if calls > pages:
                    raise TransportError("connection reset", None, "GET", path)
                return await real_get(api, path, **kwargs)

            client.get = flaky_get  # type: ignore[method-assign]
            with pytest.raises(TransportError):
                await export_records(client, kind, out, since=since, until=end, shards=2)

    asyncio.run(stopped_after(3))
    parts = out.with_name(out.name + ".parts")
    assert parts.exists() and not out.exists()
    # A page written to a part but not yet recorded is cut on resume: simulate one.
    with open(parts / "shard-0000.csv", "a") as part:
        part.write("a,row,that,was,never,committed\n")

    async def finish() -> Any:
        async with _client(records_sandbox) as client:
            return await export_records(client, kind, out, since=since, until=end, shards=2)

    result = asyncio.run(finish())
    frame = pl.read_csv(out, infer_schema=False)
    assert result.resumed_shards >= 1
    assert frame.height == total and frame["dr_sid"].n_unique() == total

    async def other_export() -> None:
        async with _client(records_sandbox) as client:
            await export_records(client, kind, out, since=since, until=end, shards=2)

    (parts / "export.json").parent.mkdir()
    (parts / "export.json").write_text('{"kind": "mdr"}')
    with pytest.raises(ExportError, match="stopped export of something else"):
        asyncio.run(other_export())


def test_export_command_writes_records_and_plan_kinds(
    records_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {**os.environ, "CARRIERX_TOKEN": TOKEN}

    def bulkx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bulkx", *args, "--base-url", records_sandbox.core_url],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    mdrs = bulkx("export", "mdr", "-o", "mdrs.csv")
    assert mdrs.returncode == 0, mdrs.stderr
    assert pl.read_csv(tmp_path / "mdrs.csv", infer_schema=False).height == 300
    assert "300 mdr record(s)" in mdrs.stderr
    no_file = bulkx("export", "cdr")
    assert no_file.returncode == 2 and "--output-file" in no_file.stderr
    bad_window = bulkx(
        "export", "cdr", "-o", "x.csv", "--since", "2026-02-01", "--until", "2026-01-01"
    )
    assert bad_window.returncode == 2 and "must be after" in bad_window.stderr
