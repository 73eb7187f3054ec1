"""The one exception type of the data layer, and a helper that attaches the offending path."""

from __future__ import annotations

import os

__all__ = ["DataError"]


class DataError(ValueError):
    """A file on disk is missing, unreadable or inconsistent with its neighbours.

    The message always names the file (or folder) and says what was expected and what was
    found, so an error raised inside a ``DataLoader`` worker still points at the culprit.
    Subclasses ``ValueError`` so callers that catch bad input generically still catch it.

    Example:
        >>> err = DataError("frames/abc/img_00001.jpg: not a decodable image")
        >>> isinstance(err, ValueError)
        True
    """


def missing(path: str | os.PathLike, what: str) -> DataError:
    """Build the error for a file or folder that should exist but does not."""
    return DataError(f"{what} not found: {os.fspath(path)}")
