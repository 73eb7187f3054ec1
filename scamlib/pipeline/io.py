"""The pipeline's file output: every file appears whole or not at all.

The writers live in :mod:`scamlib._fs`, the package's one home for atomic writes, JSON,
checkpoints and map images; this module names the ones the pipeline uses.
"""

from __future__ import annotations

from scamlib._fs import (
    atomic_path,
    load_checkpoint,
    read_json,
    read_map,
    remove_tree,
    save_checkpoint,
    write_json,
    write_map_png,
    write_text,
)

__all__ = [
    "atomic_path",
    "load_checkpoint",
    "read_json",
    "read_map",
    "remove_tree",
    "save_checkpoint",
    "write_json",
    "write_map_png",
    "write_text",
]
