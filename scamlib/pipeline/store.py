"""Stage bookkeeping: which stage finished, with which configuration, and where its outputs are.

A stage's *key* is a hash of its own settings and of the keys of the stages it reads from, so
changing one stage's settings changes its key and the keys of everything downstream, and
nothing upstream. A finished stage whose key matches is reused; a stage whose key changed has
its old outputs removed before it runs again. State files are written atomically, so a run
killed at any point resumes from the last finished stage (stages also skip the output files they
already wrote, each written atomically).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .io import read_json, remove_tree, write_json

__all__ = ["StageStore", "stage_key"]

#: Bump when a change to the code makes earlier outputs invalid.
CODE_VERSION = "1"


def stage_key(name: str, settings: Mapping[str, Any], upstream: Iterable[str] = ()) -> str:
    """Hash of a stage's name, settings and upstream keys (16 hex digits).

    Example:
        >>> stage_key("a", {"lr": 0.1}) == stage_key("a", {"lr": 0.1})
        True
        >>> stage_key("a", {"lr": 0.1}) == stage_key("a", {"lr": 0.2})
        False
    """
    payload = json.dumps(
        {"name": name, "settings": settings, "upstream": list(upstream), "code": CODE_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class StageStore:
    """Records of the stages of one output directory, in ``<root>/state/<stage>.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.state_dir = self.root / "state"

    def _path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def record(self, name: str) -> dict[str, Any] | None:
        """The state record of ``name``, or None if it never started."""
        path = self._path(name)
        return read_json(path) if path.is_file() else None

    def is_done(self, name: str, key: str) -> bool:
        rec = self.record(name)
        return rec is not None and rec.get("status") == "done" and rec.get("key") == key

    def begin(self, name: str, key: str, outputs: Iterable[str | Path]) -> bool:
        """Mark ``name`` as running under ``key``; returns True when resuming the same key.

        When the recorded key differs (settings changed), the stage's previous ``outputs``
        (paths relative to the root, files or folders) are removed first, so no output of an
        older configuration survives under the new key.
        """
        rec = self.record(name)
        resuming = rec is not None and rec.get("key") == key
        if rec is not None and not resuming:
            for out in outputs:
                path = self.root / out
                if path.is_dir():
                    remove_tree(path)
                elif path.exists():
                    path.unlink()
        started = rec["started"] if resuming and "started" in rec else time.time()
        write_json(
            self._path(name),
            {
                "name": name,
                "key": key,
                "status": "running",
                "started": started,
                "outputs": [str(o) for o in outputs],
            },
        )
        return resuming

    def finish(self, name: str, key: str, wall_time_s: float, summary: Mapping[str, Any]) -> None:
        rec = self.record(name) or {}
        rec.update(
            {
                "name": name,
                "key": key,
                "status": "done",
                "finished": time.time(),
                "wall_time_s": wall_time_s,
                "summary": dict(summary),
            }
        )
        write_json(self._path(name), rec)
