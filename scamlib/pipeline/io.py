"""The pipeline's file output: every file appears whole or not at all.

The writers live in :mod:`scamlib._fs`, the package's one home for atomic writes, JSON,
checkpoints and map images; this module names the ones the pipeline uses.
"""

from __future__ import annotations

import os
from pathlib import Path

# every name of scamlib._fs (its __all__) is re-exported here, under the same name
from .._fs import *  # noqa: F403
from .._fs import __all__ as _FS_NAMES

__all__ = sorted([*_FS_NAMES, "check_output_dir", "check_output_file"])


def _first_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_creatable(path: Path, option: str) -> None:
    """``path`` does not exist yet: its nearest existing ancestor must be a writable folder."""
    anchor = _first_existing(path.parent if path.parent != path else path)
    if not anchor.is_dir():
        raise NotADirectoryError(
            f"{option} {path}: {anchor} is a file, not a folder, so nothing can be written under it"
        )
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {path}: the folder {anchor} is not writable")


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check, before any work, that ``path`` is (or can be created as) a writable folder.

    Nothing is created. The command-line option is named in the message.

    Raises:
        NotADirectoryError: ``path`` or one of its parents is a file.
        PermissionError: the folder (or the nearest existing parent) is not writable.

    Example:
        >>> import tempfile
        >>> check_output_dir(Path(tempfile.mkdtemp()) / "new" / "run").name
        'run'
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{option} {path}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"{option} {path}: the folder is not writable")
        return path
    _check_creatable(path, option)
    return path


def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check, before any work, that a file can be written at ``path`` (nothing is created).

    Raises:
        IsADirectoryError: ``path`` is a folder.
        NotADirectoryError: a parent of ``path`` is a file.
        PermissionError: the target folder is not writable.

    Example:
        >>> import tempfile
        >>> check_output_file(Path(tempfile.mkdtemp()) / "a" / "scores.json").name
        'scores.json'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path}: is a folder; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(f"{option} {path}: {path.parent} is a file, not a folder")
    if path.parent.is_dir():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(f"{option} {path}: the folder {path.parent} is not writable")
        return path
    _check_creatable(path.parent, option)
    return path
