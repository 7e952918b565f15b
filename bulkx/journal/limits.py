"""Rate limits learned from 429s, remembered per target and credential beside the run journals
(`<root>/limits.json`), so a later run or resume starts at the pace the last one learned
instead of learning it again from 429s (issue 18).

A credential is kept only as a fingerprint (`Secret.fingerprint`: a salted hash, 16 hex
digits), never the token. Entries older than MAX_AGE are ignored: an account's limit can change.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bulkx.errors import JournalError
from bulkx.journal.run_files import mkdir_private

#: A limit learned longer ago than this is learned again.
MAX_AGE = 30 * 24 * 3600.0


@dataclass(frozen=True)
class Remembered:
    target: str
    credential: str
    #: Requests/s the server admitted, as the limiter fitted it.
    limit: float
    learned_at: float
    #: The server's burst at that limit, in requests (None: not known; a file of an older bulkx).
    burst: float | None = None
    #: Whether the spells agreed on the limit narrowly (False: a guess, or an older bulkx's
    #: entry): a fitted limit is probed upward later (`AdaptiveLimiter.start_from`).
    fitted: bool = False

    @property
    def age(self) -> float:
        return time.time() - self.learned_at


def limits_path(root: Path) -> Path:
    return Path(root) / "limits.json"


def _read(root: Path) -> list[Remembered]:
    try:
        document = json.loads(limits_path(root).read_text())
    except (OSError, ValueError):
        return []  # none yet, or damaged: learning again is always safe
    entries = document.get("limits") if isinstance(document, dict) else None
    return [e for e in map(_entry, entries if isinstance(entries, list) else []) if e]


def _entry(entry: object) -> Remembered | None:
    """One entry as written, or None if it is not one (damaged, or another version's)."""
    if not isinstance(entry, dict):
        return None
    try:
        target, credential = str(entry["target"]), str(entry["credential"])
        limit, learned_at = float(entry["limit"]), float(entry["learned_at"])
        burst = None if entry.get("burst") is None else float(entry["burst"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(limit) and limit > 0):
        return None
    if burst is not None and not (math.isfinite(burst) and burst >= 0):
        burst = None
    return Remembered(target, credential, limit, learned_at, burst, entry.get("fitted") is True)


def _write(root: Path, entries: list[Remembered]) -> None:
    mkdir_private(Path(root))
    text = json.dumps({"limits": [asdict(e) for e in entries]}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".limits-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.replace(tmp, limits_path(root))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def recall(root: Path, target: str, credential: str) -> Remembered | None:
    """The limit remembered for `target` and `credential`, unless it is too old."""
    for entry in _read(root):
        if entry.target == target and entry.credential == credential and entry.age < MAX_AGE:
            return entry
    return None


def remember(
    root: Path,
    target: str,
    credential: str,
    limit: float,
    burst: float | None = None,
    fitted: bool = False,
) -> None:
    """Keep `limit` (and `burst`) for `target` and `credential`, replacing what was kept.
    Best effort: a workspace that cannot be written only means the next run learns again."""
    kept = [e for e in _read(root) if (e.target, e.credential) != (target, credential)]
    rounded = None if burst is None else round(burst, 1)
    kept.append(Remembered(target, credential, round(limit, 3), time.time(), rounded, fitted))
    with contextlib.suppress(OSError, JournalError):
        _write(root, kept)


def remembered(root: Path) -> list[Remembered]:
    return _read(root)


def forget(root: Path, target: str | None = None) -> int:
    """Forget what is remembered for `target` (None: everything); how many were forgotten."""
    entries = _read(root)
    kept = [e for e in entries if target is not None and e.target != target]
    if len(kept) != len(entries):
        _write(root, kept)
    return len(entries) - len(kept)
