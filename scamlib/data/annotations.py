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

import os
from dataclasses import dataclass
from pathlib import Path

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


def _parse_rows(path: Path, what: str) -> list[AVEEvent]:
    events: list[AVEEvent] = []
    for lineno, raw in enumerate(_read_text(path, what), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split("&")
        if len(parts) != 5:
            raise DataError(
                f"{path}:{lineno}: expected 5 '&'-separated fields "
                f"Category&VideoID&Quality&StartTime&EndTime, got {len(parts)}: {line!r}"
            )
        if tuple(p.strip().lower() for p in parts) == _HEADER:
            continue
        cat, vid, quality, start_s, end_s = (p.strip() for p in parts)
        try:
            start, end = float(start_s), float(end_s)
        except ValueError as exc:
            raise DataError(
                f"{path}:{lineno}: StartTime/EndTime must be numbers: {line!r}"
            ) from exc
        if not (0 <= start <= end):  # the real file has one empty event (0&0): kept, no frames
            raise DataError(f"{path}:{lineno}: need 0 <= StartTime <= EndTime, got {line!r}")
        events.append(AVEEvent(len(events), cat, vid, quality, start, end))
    return events


def read_annotations(path: str | os.PathLike) -> list[AVEEvent]:
    """Parse AVE's ``Annotations.txt`` (with or without its header line) into events.

    Returns:
        one :class:`AVEEvent` per non-empty data row, ``row`` numbered from 0.

    Raises:
        DataError: missing file, a row without 5 fields, non-numeric or inverted times.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "Annotations.txt"
        >>> _ = p.write_text("Category&VideoID&Quality&StartTime&EndTime\\n"
        ...                  "Violin, fiddle&abc&good&2&7\\n")
        >>> e = read_annotations(p)[0]
        >>> e.row, e.category, e.video_id, e.start, e.end
        (0, 'Violin, fiddle', 'abc', 2.0, 7.0)
    """
    return _parse_rows(Path(path), "AVE annotation file")


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

    Looks in ``root`` for ``{split}_order.h5`` (dataset ``order``) first, then for
    ``{split}Set.txt`` whose rows are matched to ``events`` by (category, VideoID, start,
    end); a row listed twice in ``Annotations.txt`` consumes matches in order.
    ``split="all"`` returns every row.

    Raises:
        ValueError: unknown ``split``.
        DataError: neither split file exists, an index is out of range, or a listed row is
            not in the annotations.
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
                order = [int(i) for i in f["order"][()].reshape(-1)]
        except (OSError, KeyError) as exc:
            raise DataError(f"{h5}: expected an HDF5 file with dataset 'order' ({exc})") from exc
        bad = [i for i in order if not 0 <= i < len(events)]
        if bad:
            raise DataError(f"{h5}: row indices must lie in [0, {len(events)}), found {bad[:5]}")
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


def read_fold_list(path: str | os.PathLike) -> list[FoldEntry]:
    """Parse a STAViS fold list (lines ``name nframes fps``).

    Raises:
        DataError: missing file, or a line that is not ``name nframes fps``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "X_list_test_fps.txt"
        >>> _ = p.write_text("V1_Dance 202 28.666571\\n")
        >>> read_fold_list(p)
        [FoldEntry(name='V1_Dance', nframes=202, fps=28.666571)]
    """
    path = Path(path)
    entries = []
    for lineno, raw in enumerate(_read_text(path, "fold list"), start=1):
        parts = raw.split()
        if not parts:
            continue
        try:
            name, nframes, fps = parts[0], int(parts[1]), float(parts[2])
            if len(parts) != 3 or nframes <= 0 or fps <= 0:
                raise ValueError
        except (ValueError, IndexError) as exc:
            raise DataError(
                f"{path}:{lineno}: expected 'name nframes fps' with positive numbers, got {raw!r}"
            ) from exc
        entries.append(FoldEntry(name, nframes, fps))
    return entries
