"""`warmed`: a command's imports made on a thread while the main one waits on disk."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.cli.warm import warmed


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("warm_probe_ok", "warm_probe_broken", "warm_probe_after"):
        sys.modules.pop(name, None)


def test_the_modules_are_imported_on_a_thread_by_the_end_of_the_block(modules: Path) -> None:
    (modules / "warm_probe_ok.py").write_text(
        "import threading\nIMPORTED_ON = threading.current_thread().name\n"
    )
    with warmed("warm_probe_ok"):
        pass
    probe = sys.modules["warm_probe_ok"]
    assert probe.IMPORTED_ON == "bulkx-warm-imports"
    assert threading.current_thread().name != probe.IMPORTED_ON


def test_a_module_that_fails_fails_where_it_is_imported_for_use(modules: Path) -> None:
    (modules / "warm_probe_broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    (modules / "warm_probe_after.py").write_text("VALUE = 1\n")
    with warmed("warm_probe_broken", "warm_probe_after"):
        pass  # the warm-up says nothing
    assert "warm_probe_after" not in sys.modules  # it stops at the first failure
    with pytest.raises(RuntimeError, match="broken on purpose"):
        importlib.import_module("warm_probe_broken")
