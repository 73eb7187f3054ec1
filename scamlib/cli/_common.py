"""What every subcommand of ``scamlib`` shares: argument types, messages, output folders."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROG = "scamlib"


class UsageError(Exception):
    """A command line that cannot work (reported with exit status 2)."""


# ---- argument types (a bad value is a usage error: one line, exit status 2) ------------------
def _int_at_least(text: str, low: int, expected: str) -> int:
    """``text`` as an integer ``>= low``; otherwise a usage error that says ``expected``."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """``N >= 1``."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """``N >= 0``."""
    return _int_at_least(text, 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """A finite number ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def add_command(
    sub: Any, name: str, *, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` to the subparsers ``sub``: its one-line ``help``, its
    ``description`` and ``epilog`` texts, in the package's help layout."""
    return sub.add_parser(
        name,
        prog=f"{PROG} {name}",
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=formatter,
    )


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: ``scamlib CMD: error: ...``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---- messages ---------------------------------------------------------------------------------
def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command: one line, ``scamlib: warning: ...``."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


# ---- whole output folders -----------------------------------------------------------------------
def _stale_temps(target: Path) -> Iterator[Path]:
    """Hidden siblings of ``target`` left by a killed command.

    Those are the half-written ``.<name>.*.tmp`` folders and the ``.<name>.trash-<pid>``
    folders of a removal that was killed part-way (a trash folder of a process that is still
    running is its own and left alone).
    """
    parent = target.parent
    if parent.is_dir():
        yield from (p for p in parent.glob(f".{target.name}.*.tmp") if p.is_dir())
        for p in parent.glob(f".{target.name}.trash-*"):
            pid = p.name.rpartition("-")[2]
            if p.is_dir() and not (pid.isdigit() and _running(int(pid))):
                yield p


def _running(pid: int) -> bool:
    """Whether another process with this id is running. This process's own trash counts as
    left over (:func:`scamlib._fs.remove_tree` deletes it before it returns)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def replaced_folder(target: Path, *, owned: str) -> Iterator[Path]:
    """Write a whole output folder elsewhere, then swap it in for ``target``.

    Yields a fresh hidden folder beside ``target``. When the block succeeds, ``target`` (if
    any) is removed and the new folder renamed onto it, so ``target`` holds exactly this run's
    files; if the block fails or the process is killed, ``target`` is left as it was. A hidden
    folder that a killed run left behind is removed the next time the same ``target`` is
    written.

    ``owned`` names the file that marks a folder as one this command wrote (for example
    ``prediction.json``): an existing, non-empty ``target`` without it is not replaced
    (:class:`UsageError`), so no folder of the user's is ever deleted.
    """
    from scamlib._fs import atomic_dir, remove_tree

    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {target}: is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / owned).is_file():
        raise UsageError(
            f"--out {target}: the folder holds files that this command did not write (no "
            f"{owned}); choose a new or empty folder"
        )
    for stale in _stale_temps(target):
        shutil.rmtree(stale, ignore_errors=True)
    with atomic_dir(target) as tmp:
        yield tmp
        if target.exists():
            remove_tree(target)


def check_out_dir(path: Path) -> None:
    """``--out`` must be (or be creatable as) a writable folder: checked before any work."""
    from scamlib.pipeline.io import check_output_dir

    check_output_dir(path, "--out")
    if path.is_dir() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"--out {path}: its parent folder {path.parent} is not writable, so the folder "
            "cannot be replaced"
        )
