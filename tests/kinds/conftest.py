from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Sandbox
from tests.kinds.cli import Bulkx


@pytest.fixture
def bulkx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Bulkx:
    """`bulkx` against a fresh sandbox served on 127.0.0.1, run in an empty directory."""
    monkeypatch.chdir(tmp_path)
    return Bulkx(sandbox)
