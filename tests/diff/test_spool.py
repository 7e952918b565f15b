"""A spooled changeset (`ChangeStream`) renders exactly as the same changes held whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bulkx.cli.render import render
from bulkx.diff.changes import Changeset
from bulkx.diff.spool import ChangeStream
from tests.diff.test_render import _changeset


def _rendered(changeset: Changeset | ChangeStream, fmt: str) -> str:
    out = io.StringIO()
    render(changeset, fmt, out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "csv"])
def test_every_format_is_the_same_spooled_or_whole(fmt: str) -> None:
    whole = _changeset()
    with ChangeStream(
        whole.plan_path, whole.plan_digest, whole.target, whole.created_at
    ) as spooled:
        # Two chunks, as the diff gives them.
        spooled.add(whole.changes[:1])
        spooled.add(whole.changes[1:])
        assert _rendered(spooled, fmt) == _rendered(whole, fmt)
        assert spooled.has_changes and spooled.total == len(whole.changes)


def test_an_empty_changeset_renders_as_an_empty_one() -> None:
    whole = Changeset("p.yaml", "d", "the embedded sandbox", ())
    with ChangeStream("p.yaml", "d", "the embedded sandbox", "") as spooled:
        spooled.add([])
        for fmt in ("text", "json", "jsonl", "csv"):
            assert _rendered(spooled, fmt) == _rendered(whole, fmt)
        assert not spooled.has_changes


def test_the_spool_is_removed_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    whole = _changeset()
    with ChangeStream("p.yaml", "d", "t", "") as spooled:
        spooled.add(whole.changes)
        assert len(list(tmp_path.glob("bulkx-plan-*/changes.jsonl"))) == 1
        assert [c.key for c in spooled.changes] == [c.key for c in whole.changes]
    assert list(tmp_path.iterdir()) == []
