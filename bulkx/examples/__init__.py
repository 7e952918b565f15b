"""The example plans and their data, shipped inside the package (`plans/`, `samples/`).

This is their only copy: the repository's top-level `plans/` and `samples/` are links to these
directories, so the README's commands in a checkout and `bulkx demo` after a `pip install` read
the same files. A plan names its data relative to itself (`../samples/x.csv`), so the two
directories always travel together.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

#: The directories of examples, as they appear next to each other (in a checkout, in the
#: package, and in a folder `bulkx demo` wrote them into).
DIRECTORIES = ("plans", "samples")


def shipped_root() -> Path:
    """The installed directory holding `plans/` and `samples/`. Wheels install unpacked, so
    this is a real directory whose files can be opened by path (plans name their CSVs so)."""
    root = files(__name__)
    if not isinstance(root, Path):  # a zipped install: nothing bulkx is built or tested for
        raise RuntimeError(f"bulkx's examples are not a directory on disk: {root}")
    return root


def shipped_files() -> dict[str, bytes]:
    """Every shipped example file by its path relative to the root (`plans/port-in.yaml`)."""
    found: dict[str, bytes] = {}
    root = files(__name__)
    for directory in DIRECTORIES:
        _collect(root / directory, directory, found)
    return found


def _collect(folder: Traversable, prefix: str, found: dict[str, bytes]) -> None:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):  # .gitkeep, __pycache__: not examples
            continue
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            _collect(entry, name, found)
        else:
            found[name] = entry.read_bytes()


def holds_the_examples(folder: Path) -> bool:
    """Whether `folder` has every shipped example file, byte for byte (a checkout, or a
    folder an earlier `bulkx demo` wrote them into, unedited)."""
    for name, content in shipped_files().items():
        path = folder / name
        try:
            if path.stat().st_size != len(content) or path.read_bytes() != content:
                return False
        except OSError:
            return False
    return True


def write_into_empty(folder: Path) -> bool:
    """Write `plans/` and `samples/` into `folder` when neither exists there yet (the plans
    name their data in `../samples/`, so one without the other would not work). A folder with
    either of them (the user's own plans, say) is never changed or added to. Returns whether
    the examples were written."""
    if any((folder / d).exists() or (folder / d).is_symlink() for d in DIRECTORIES):
        return False
    for name, content in shipped_files().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return True
