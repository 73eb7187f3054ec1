"""Parsers of the text/HDF5 index files: AVE annotations and splits, STAViS fold lists.

AVE (Tian et al., ECCV 2018) lists one *event* per row of ``Annotations.txt``::

    Category&VideoID&Quality&StartTime&EndTime
    Church bell&RUhOCu3LNXM&good&0&10

Some copies start with that header line, some do not. An event with ``StartTime == EndTime``
(the real file has one, ``0&0``) is kept as a row but covers no frame. Category names may
contain commas ("Violin, fiddle"), and one VideoID may appear in several rows with different
categories, so samples are keyed by *row* (0-based, header excluded), never by VideoID. The
official split is either ``trainSet.txt`` / ``valSet.txt`` / ``testSet.txt`` (rows in the same
format) or
``{train,val,test}_order.h5`` (HDF5 dataset ``order``: 0-based row indices).

STAViS fold lists (``<DB>_list_<subset>_<split>_fps.txt``, DIEM: ``DIEM_list_<subset>_fps.txt``)
hold lines ``name nframes fps``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import DataError, missing

__all__ = [
    "AVEEvent",
    "FoldEntry",
    "available_splits",
    "ave_categories",
    "fold_list_path",
    "read_annotations",
    "read_ave_split",
    "read_fold_list",
]

AVE_SPLITS = ("train", "val", "test")
_HEADER = ("category", "videoid", "quality", "starttime", "endtime")
MAX_EVENT_SECONDS = 60.0
MAX_FOLD_FRAMES = 1_000_000
MAX_FPS = 1000.0


@dataclass(frozen=True)
class AVEEvent:
    """One row of AVE's ``Annotations.txt``: an event of ``category`` in ``video_id`` over
    ``[start, end]`` seconds. ``row`` is its 0-based position (header excluded)."""

    row: int
    category: str
    video_id: str
    quality: str
    start: float
    end: float


@dataclass(frozen=True)
class FoldEntry:
    """One line of a STAViS fold list: video ``name`` with ``nframes`` frames at ``fps``."""

    name: str
    nframes: int
    fps: float


def _read_text(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise missing(path, what)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} is not UTF-8 text ({exc})") from exc
    return text.splitlines()


def _check_name(value: str, field: str, where: str) -> None:
    """A name used as one path component: not empty, no separator, not ``.``/``..``."""
    if not value:
        raise DataError(f"{where}: {field} must not be empty")
    if "/" in value or "\\" in value or value in (".", ".."):
        raise DataError(
            f"{where}: {field} must be one folder or file name (no '/', '\\', '.', '..'), "
            f"found {value!r}"
        )


def _seconds(text: str, field: str, where: str, max_seconds: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {field} must be a number of seconds, found {text!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {field} must be a finite number of seconds, found {text!r}")
    if value < 0:
        raise DataError(f"{where}: {field} must be >= 0 seconds, found {text!r}")
    if value > max_seconds:
        raise DataError(
            f"{where}: {field} must be at most {max_seconds:g} s (AVE clips last 10 s), "
            f"found {text!r}"
        )
    return value


def _parse_rows(path: Path, what: str, max_seconds: float = MAX_EVENT_SECONDS) -> list[AVEEvent]:
    events: list[AVEEvent] = []
    first_line: dict[tuple, int] = {}
    for lineno, raw in enumerate(_read_text(path, what), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{path}:{lineno}"
        parts = line.split("&")
        if len(parts) != 5:
            raise DataError(
                f"{where}: expected 5 '&'-separated fields "
                f"Category&VideoID&Quality&StartTime&EndTime, got {len(parts)}: {line!r}"
            )
        if tuple(p.strip().lower() for p in parts) == _HEADER:
            continue
        cat, vid, quality, start_s, end_s = (p.strip() for p in parts)
        if not cat:
            raise DataError(f"{where}: Category must not be empty: {line!r}")
        _check_name(vid, "VideoID", where)
        start = _seconds(start_s, "StartTime", where, max_seconds)
        end = _seconds(end_s, "EndTime", where, max_seconds)
        if start > end:  # the real file has one empty event (0&0): kept, covers no frame
            raise DataError(
                f"{where}: need StartTime <= EndTime, found {start_s} > {end_s}: {line!r}"
            )
        key = (cat, vid, quality, start, end)
        if key in first_line:
            raise DataError(
                f"{where}: row {line!r} is a duplicate of line {first_line[key]} (every "
                "row is one event; a repeated row would count that event twice)"
            )
        first_line[key] = lineno
        events.append(AVEEvent(len(events), cat, vid, quality, start, end))
    return events


def read_annotations(
    path: str | os.PathLike, *, max_seconds: float = MAX_EVENT_SECONDS
) -> list[AVEEvent]:
    """Parse AVE's ``Annotations.txt`` (with or without its header line) into events.

    Blank lines are skipped. Each row must have a non-empty Category, a VideoID usable as a
    file name (no path separators), and times with ``0 <= StartTime <= EndTime <=
    max_seconds``, both finite. AVE clips last 10 s (Tian et al., ECCV 2018); the default
    bound of 60 s leaves room for AVE-format annotations of somewhat longer clips (such as
    the synthetic set's) while refusing absurd values (``inf``, ``1e308``) that would make the
    frame list of an event endless. A row repeated verbatim is refused (it would count one
    event twice); one VideoID in several rows with different categories is allowed (the real
    file has such rows).

    Args:
        path: the annotation file.
        max_seconds: largest StartTime/EndTime accepted.

    Returns:
        one :class:`AVEEvent` per non-empty data row, ``row`` numbered from 0.

    Raises:
        DataError: missing file, a file without event rows, or a bad row (the message names
            the file, the line, the field and the value found).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "Annotations.txt"
        >>> _ = p.write_text("Category&VideoID&Quality&StartTime&EndTime\\n"
        ...                  "Violin, fiddle&abc&good&2&7\\n")
        >>> e = read_annotations(p)[0]
        >>> e.row, e.category, e.video_id, e.start, e.end
        (0, 'Violin, fiddle', 'abc', 2.0, 7.0)
    """
    if not 0 < max_seconds < math.inf:
        raise ValueError(f"max_seconds must be a positive finite number, got {max_seconds}")
    path = Path(path)
    events = _parse_rows(path, "AVE annotation file", max_seconds)
    if not events:
        raise DataError(f"{path}: the AVE annotation file holds no event row")
    return events


def ave_categories(events: list[AVEEvent]) -> list[str]:
    """Class names in tag order: the sorted distinct categories of the events.

    Example:
        >>> ev = [AVEEvent(0, "b", "x", "good", 0, 1), AVEEvent(1, "a", "y", "good", 0, 1)]
        >>> ave_categories(ev)
        ['a', 'b']
    """
    return sorted({e.category for e in events})


def read_ave_split(root: str | os.PathLike, split: str, events: list[AVEEvent]) -> list[int]:
    """0-based rows of ``events`` in the official ``split`` (``"train"``, ``"val"``, ``"test"``).

    Looks in ``root`` for ``{split}_order.h5`` (dataset ``order``: a 1-D integer array;
    ``(1, n)`` and ``(n, 1)`` arrays are read as vectors) first, then for ``{split}Set.txt``
    whose rows are matched to ``events`` by (category, VideoID, start, end). An empty split
    file gives an empty split. ``split="all"`` returns every row.

    Raises:
        ValueError: unknown ``split``.
        DataError: neither split file exists; an unreadable HDF5 file, no dataset ``order``,
            non-integer or non-vector indices, an index out of range or listed twice; or a
            listed row that is not in the annotations.

    Example:
        >>> ev = [AVEEvent(0, "a", "x", "good", 0, 1), AVEEvent(1, "b", "y", "good", 0, 1)]
        >>> read_ave_split(".", "all", ev)
        [0, 1]
    """
    if split == "all":
        return list(range(len(events)))
    if split not in AVE_SPLITS:
        raise ValueError(f"split must be one of {(*AVE_SPLITS, 'all')}, got {split!r}")
    root = Path(root)
    h5 = root / f"{split}_order.h5"
    txt = root / f"{split}Set.txt"
    if h5.is_file():
        import h5py

        try:
            with h5py.File(h5, "r") as f:
                if "order" not in f:
                    raise DataError(
                        f"{h5}: expected an HDF5 dataset 'order', found only {sorted(f)[:10]}"
                    )
                dset = f["order"]
                if not isinstance(dset, h5py.Dataset) or dset.size > len(events):
                    found = f"{dset.size} indices" if isinstance(dset, h5py.Dataset) else "a group"
                    raise DataError(
                        f"{h5}: 'order' must list at most the {len(events)} rows of the "
                        f"annotations, found {found}"
                    )
                data = np.asarray(dset[()])
        except OSError as exc:
            raise DataError(f"{h5}: expected an HDF5 file with dataset 'order' ({exc})") from exc
        if not np.issubdtype(data.dtype, np.integer):
            raise DataError(f"{h5}: 'order' must hold integer row indices, found {data.dtype}")
        if data.ndim > 1 and sum(n > 1 for n in data.shape) <= 1:
            data = data.reshape(-1)  # a (1, n) or (n, 1) array, as MATLAB writes vectors
        if data.ndim != 1:
            raise DataError(f"{h5}: 'order' must be 1-D, found shape {data.shape}")
        order = [int(i) for i in data]
        bad = [i for i in order if not 0 <= i < len(events)]
        if bad:
            raise DataError(f"{h5}: row indices must lie in [0, {len(events)}), found {bad[:5]}")
        counts = np.bincount(np.asarray(order, dtype=np.int64), minlength=1)
        if counts.max(initial=0) > 1:
            row = int(counts.argmax())
            raise DataError(
                f"{h5}: row {row} is listed {int(counts[row])} times; each row of the split "
                "must appear once"
            )
        return order
    if txt.is_file():
        pool: dict[tuple, list[int]] = {}
        for e in events:
            pool.setdefault((e.category, e.video_id, e.start, e.end), []).append(e.row)
        rows = []
        for e in _parse_rows(txt, "AVE split file"):
            key = (e.category, e.video_id, e.start, e.end)
            if not pool.get(key):
                raise DataError(
                    f"{txt}: row {e.category}&{e.video_id}&{e.start:g}&{e.end:g} is not in "
                    "Annotations.txt (or is listed more often than there)"
                )
            rows.append(pool[key].pop(0))
        return rows
    raise DataError(f"no split file for {split!r}: expected {h5} or {txt}")


def fold_list_path(root: str | os.PathLike, dataset: str, subset: str, split: int | None) -> Path:
    """Path of a STAViS fold list: ``<DB>_list_<subset>_<split>_fps.txt`` or, with
    ``split=None``, ``<DB>_list_<subset>_fps.txt`` (DIEM's single fixed split)."""
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    tail = f"_{split}" if split is not None else ""
    return Path(root) / f"{dataset}_list_{subset}{tail}_fps.txt"


def available_splits(root: str | os.PathLike, dataset: str) -> list[int | None]:
    """The test folds of ``dataset`` in the STAViS-layout ``root``: ``[1, 2, 3]`` (those whose
    fold list exists), or ``[None]`` for a dataset with one fixed split (DIEM).

    Raises:
        DataError: ``root`` has no ``fold_lists/`` folder, or it holds no test fold list for
            ``dataset`` (the message lists the datasets it does hold).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "fold_lists").mkdir()
        >>> _ = (root / "fold_lists" / "DIEM_list_test_fps.txt").write_text("v 10 30\\n")
        >>> available_splits(root, "DIEM")
        [None]
    """
    root = Path(root)
    lists = root / "fold_lists"
    if not lists.is_dir():
        present = sorted(p.name for p in root.iterdir())[:10] if root.is_dir() else []
        raise DataError(
            f"{root} is not a STAViS-layout data root: expected the folders video_frames/, "
            f"video_audio/, annotations/ and fold_lists/; found {present}"
        )
    splits = [s for s in (1, 2, 3) if fold_list_path(lists, dataset, "test", s).is_file()]
    if splits:
        return splits
    if fold_list_path(lists, dataset, "test", None).is_file():
        return [None]
    names = sorted({p.name.split("_list_")[0] for p in lists.glob("*_list_*_fps.txt")})
    raise DataError(
        f"no test fold list for dataset {dataset!r} in {lists} (expected "
        f"{dataset}_list_test_1_fps.txt ... or {dataset}_list_test_fps.txt); datasets there: "
        f"{names}"
    )


def _fold_line(parts: list[str], where: str) -> FoldEntry:
    if len(parts) != 3:
        raise DataError(f"{where}: expected 'name nframes fps', found {len(parts)} fields")
    name, n_s, fps_s = parts
    _check_name(name, "video name", where)
    try:
        nframes = int(n_s)
    except ValueError:
        nframes = 0
    if nframes <= 0:
        raise DataError(f"{where}: nframes must be a positive integer, found {n_s!r}")
    if nframes > MAX_FOLD_FRAMES:
        raise DataError(f"{where}: nframes must be at most {MAX_FOLD_FRAMES}, found {n_s!r}")
    try:
        fps = float(fps_s)
    except ValueError:
        fps = math.nan
    if not 0 < fps <= MAX_FPS:
        raise DataError(
            f"{where}: fps must be a finite number in (0, {MAX_FPS:g}], found {fps_s!r}"
        )
    return FoldEntry(name, nframes, fps)


def read_fold_list(path: str | os.PathLike) -> list[FoldEntry]:
    """Parse a STAViS fold list (lines ``name nframes fps``).

    Blank lines are skipped. ``name`` must be one folder name (no path separators) and appear
    once; ``nframes`` an integer in ``[1, 1000000]``; ``fps`` a number in ``(0, 1000]``. The
    bounds refuse values no eye-tracking video has, which would otherwise make a dataset of
    absurd length.

    Raises:
        DataError: missing file, or a bad line (the message names the file, the line, the
            field and the value found).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "X_list_test_fps.txt"
        >>> _ = p.write_text("V1_Dance 202 28.666571\\n")
        >>> read_fold_list(p)
        [FoldEntry(name='V1_Dance', nframes=202, fps=28.666571)]
    """
    path = Path(path)
    entries: list[FoldEntry] = []
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(_read_text(path, "fold list"), start=1):
        parts = raw.split()
        if not parts:
            continue
        where = f"{path}:{lineno}"
        entry = _fold_line(parts, where)
        if entry.name in first_line:
            raise DataError(
                f"{where}: video {entry.name!r} is listed again (first on line "
                f"{first_line[entry.name]})"
            )
        first_line[entry.name] = lineno
        entries.append(entry)
    return entries
