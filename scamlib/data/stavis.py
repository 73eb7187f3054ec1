"""Eye-tracking test sets in the STAViS layout (AVAD, Coutrot_db1/2, DIEM, ETMD_av, SumMe, ...).

Layout under ``root`` (any dataset name ``<DB>`` works the same way)::

    video_frames/<DB>/<video>/img_00001.jpg ...          1-based frames
    video_audio/<DB>/<video>/<video>.wav
    annotations/<DB>/<video>/maps/eyeMap_00001.jpg ...   continuous fixation density
    annotations/<DB>/<video>/fixMap_00001.mat ...        variable ``eyeMap``: binary fixations
    fold_lists/<DB>_list_{train,test}_{1,2,3}_fps.txt    lines ``name nframes fps``
    fold_lists/<DB>_list_{train,test}_fps.txt            (DIEM: one fixed split)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ._base import FrameDataset
from ._errors import DataError, missing
from ._io import read_fixation_mat, read_gray, read_gray_levels
from .annotations import FoldEntry, fold_list_path, read_fold_list
from .audio import DEFAULT_SAMPLE_RATE
from .video import frame_name

__all__ = ["AVSaliency", "GroundTruth"]


class AVSaliency(FrameDataset):
    """One item per listed frame of a STAViS-layout eye-tracking dataset.

    Items are dicts with the model inputs of :class:`~scamlib.data.AVE` (``frames``,
    ``audio``, ``frame_size``, ``frame_index``, ``index``) plus

    - ``density``: ``(h, w)`` float in ``[0, 1]``, the ``eyeMap`` JPEG divided by 255, at the
      annotation's own size;
    - ``fixations``: ``(h, w)`` bool, the ``fixMap`` ``.mat`` variable ``eyeMap`` non-zero;
    - ``video`` (str), ``fps`` (float).

    Annotation tensors of different videos may differ in size: batch within one video
    (:meth:`frames_of`) or use ``batch_size=1``.

    Args:
        root: folder holding ``video_frames``, ``video_audio``, ``annotations``, ``fold_lists``.
        dataset: dataset name ``<DB>`` (e.g. ``"AVAD"``, ``"DIEM"``, or any other).
        split: fold 1, 2 or 3, or ``None`` for a split-less list (DIEM).
        subset: ``"test"`` or ``"train"``.
        annotations: load ``density``/``fixations`` (``False`` for frames and audio only).
        missing_videos: ``"error"`` (default) or ``"skip"`` (with a warning) when the fold list
            names a video whose frame folder is absent.
        size, clip_len, audio_seconds, sample_rate, spectrogram, return_raw, on_short_audio:
            as in :class:`~scamlib.data.AVE`.

    Raises:
        DataError: missing fold list (the message lists the ones present), a bad fold-list
            line (see :func:`~scamlib.data.read_fold_list`), a fold list that names no video,
            a listed video without its folder, or, when an item is read, an unreadable file or
            a fixation map whose size differs from its density map.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        dataset: str,
        split: int | None = None,
        subset: str = "test",
        size: int | Sequence[int] | None = 224,
        *,
        clip_len: int = 3,
        audio_seconds: float = 1.0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        spectrogram: str = "stft",
        annotations: bool = True,
        missing_videos: str = "error",
        return_raw: bool = False,
        on_short_audio: str = "warn",
    ) -> None:
        super().__init__(
            size=size,
            clip_len=clip_len,
            audio_seconds=audio_seconds,
            sample_rate=sample_rate,
            spectrogram=spectrogram,
            return_raw=return_raw,
            on_short_audio=on_short_audio,
        )
        if split is not None and split not in (1, 2, 3):
            raise ValueError(f"split must be 1, 2, 3 or None, got {split!r}")
        if missing_videos not in ("error", "skip"):
            raise ValueError(f"missing_videos must be 'error' or 'skip', got {missing_videos!r}")
        self.root = Path(root)
        self.dataset = dataset
        self.split = split
        self.subset = subset
        self.annotations = annotations
        lists = self.root / "fold_lists"
        path = fold_list_path(lists, dataset, subset, split)
        if not path.is_file():
            present = (
                sorted(p.name for p in lists.glob(f"{dataset}_list_*")) if lists.is_dir() else []
            )
            raise DataError(f"fold list not found: {path}; present for {dataset!r}: {present}")
        self.entries: dict[str, FoldEntry] = {}
        for entry in read_fold_list(path):
            folder = self.root / "video_frames" / dataset / entry.name
            if not folder.is_dir():
                if missing_videos == "skip":
                    warnings.warn(
                        f"{path}: skipping {entry.name}, {folder} not found", stacklevel=2
                    )
                    continue
                raise missing(folder, f"frame folder of video {entry.name!r} listed in {path}")
            if annotations and not (self.root / "annotations" / dataset / entry.name).is_dir():
                raise missing(
                    self.root / "annotations" / dataset / entry.name,
                    f"annotation folder of video {entry.name!r} listed in {path}",
                )
            self.entries[entry.name] = entry
            self._items.extend((entry.name, k) for k in range(1, entry.nframes + 1))
        if not self.entries:
            found = "every listed video was skipped" if missing_videos == "skip" else "it is empty"
            raise DataError(f"{path}: the fold list names no video ({found})")
        self._unions: dict[str, Tensor] = {}
        # fixations read by fixation_union, kept as (shape, flat indices) until the frame's
        # own read takes them: each fixMap is then decoded once per evaluation
        self._read_ahead: dict[tuple[str, int], tuple[torch.Size, Tensor]] = {}

    # ---- files ---------------------------------------------------------------------------
    def _frame_path(self, video, k: int) -> Path:
        return self.root / "video_frames" / self.dataset / video / frame_name(k)

    def _num_frames(self, video) -> int:
        return self.entries[video].nframes

    def _audio_path(self, video) -> Path:
        return self.root / "video_audio" / self.dataset / video / f"{video}.wav"

    def _fps(self, video) -> float:
        return self.entries[video].fps

    def density_path(self, video: str, k: int) -> Path:
        """``annotations/<DB>/<video>/maps/eyeMap_%05d.jpg``."""
        return self.root / "annotations" / self.dataset / video / "maps" / f"eyeMap_{k:05d}.jpg"

    def fixation_path(self, video: str, k: int) -> Path:
        """``annotations/<DB>/<video>/fixMap_%05d.mat``."""
        return self.root / "annotations" / self.dataset / video / f"fixMap_{k:05d}.mat"

    # ---- public --------------------------------------------------------------------------
    @property
    def videos(self) -> list[str]:
        """Names of the videos of this fold list, in list order."""
        return list(self.entries)

    def frames_of(self, video: str) -> list[int]:
        """Item indices of ``video``, in frame order."""
        if video not in self.entries:
            raise KeyError(f"video {video!r} is not in this fold list; have {self.videos[:5]}...")
        return list(self.groups()[video])

    def density(self, video: str, k: int) -> Tensor:
        """``(h, w)`` float in ``[0, 1]``: the continuous map of frame ``k`` of ``video``."""
        return read_gray(self.density_path(video, k))

    def fixations(self, video: str, k: int) -> Tensor:
        """``(h, w)`` bool: the binary fixations of frame ``k`` of ``video``."""
        ahead = self._read_ahead.pop((video, k), None)
        if ahead is None:
            return read_fixation_mat(self.fixation_path(video, k))
        shape, at = ahead
        fix = torch.zeros(shape, dtype=torch.bool)
        fix.view(-1)[at] = True
        return fix

    def annotation(self, video: str, k: int, levels: bool = False) -> tuple[Tensor, Tensor]:
        """``(density, fixations)`` of frame ``k`` of ``video``, checked to share one size.

        With ``levels``, the density is the eyeMap's ``(h, w)`` uint8 grey levels (the map
        :meth:`density` gives is their float32 quotient by 255).

        Raises:
            DataError: the two maps differ in size (the message names both files).
        """
        path = self.density_path(video, k)
        dens = read_gray_levels(path) if levels else read_gray(path)
        fix = self.fixations(video, k)
        if dens.shape != fix.shape:
            raise DataError(
                f"{self.fixation_path(video, k)}: fixation map size {tuple(fix.shape)} differs "
                f"from the density map {self.density_path(video, k)} {tuple(dens.shape)}; the "
                "metrics compare them pixel by pixel"
            )
        return dens, fix

    def fixation_union(self, video: str) -> Tensor:
        """``(h, w)`` bool: union of the fixation maps of every listed frame of ``video``.

        These are the negatives of the shuffled AUC (the fixations of other frames of the same
        video, as in the STAViS evaluation protocol; the metric removes the current frame's own
        fixations). Memoised per video. The maps it reads serve the next :meth:`fixations`
        call of each frame, so an evaluation decodes every fixation file once.

        Raises:
            DataError: fixation maps of one video differ in size (names the file).
        """
        if video not in self.entries:
            raise KeyError(f"video {video!r} is not in this fold list")
        if video not in self._unions:
            union: Tensor | None = None
            for k in range(1, self.entries[video].nframes + 1):
                fix = self.fixations(video, k)
                at = torch.from_numpy(np.flatnonzero(fix.numpy()))  # numpy's is the fast one
                self._read_ahead[(video, k)] = (fix.shape, at)
                if union is None:
                    union = fix.clone()
                elif fix.shape != union.shape:
                    raise DataError(
                        f"{self.fixation_path(video, k)}: fixation map size {tuple(fix.shape)} "
                        f"differs from frame 1's {tuple(union.shape)}"
                    )
                else:
                    union |= fix
            self._unions[video] = union
        return self._unions[video]

    def ground_truth(self, levels: bool = False) -> GroundTruth:
        """The annotations alone, item by item (what :func:`scamlib.metrics.evaluate` reads).

        Args:
            levels: densities as the eyeMaps' uint8 grey levels instead of float maps (see
                :class:`GroundTruth`).

        Example:
            >>> callable(AVSaliency.ground_truth)
            True
        """
        return GroundTruth(self, levels=levels)

    def __getitem__(self, index: int) -> dict:
        video, k = self._check_index(index)
        item = self._base_item(index)
        item.update(video=video, fps=self.entries[video].fps)
        if self.annotations:
            item["density"], item["fixations"] = self.annotation(video, k)
        return item


class GroundTruth:
    """The annotation-only view of an :class:`AVSaliency` (no frames or audio are read).

    Items are dicts with ``density``, ``fixations``, ``video``, ``frame_index`` and ``fps``, in
    the dataset's order; :meth:`fixation_union` is the dataset's. Reading items from several
    threads at once is safe. This is the ``dataset`` :func:`scamlib.metrics.evaluate` expects.

    Args:
        dataset: the :class:`AVSaliency` to view.
        levels: give each density as the eyeMap's ``(h, w)`` uint8 grey levels instead of the
            float map (the map :meth:`AVSaliency.density` gives is their float32 quotient by 255).
            :func:`scamlib.metrics.evaluate` scores both alike and converts levels where it
            copies them into its buffers, without a float copy per frame
            (:func:`scamlib.metrics.evaluate_dir` reads so).
    """

    def __init__(self, dataset: AVSaliency, levels: bool = False) -> None:
        self.dataset = dataset
        self.levels = bool(levels)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        ds = self.dataset
        video, k = ds.video_of(index), ds.frame_index(index)
        density, fixations = ds.annotation(video, k, levels=self.levels)
        return {
            "density": density,
            "fixations": fixations,
            "video": video,
            "frame_index": k,
            "fps": ds.entries[video].fps,
        }

    @property
    def videos(self) -> list[str]:
        """The dataset's videos."""
        return self.dataset.videos

    def video_of(self, index: int) -> str:
        """The video of item ``index`` (known without reading the item)."""
        return self.dataset.video_of(index)

    def fixation_union(self, video: str) -> Tensor:
        """:meth:`AVSaliency.fixation_union`."""
        return self.dataset.fixation_union(video)
