"""The AVE dataset (Tian et al., ECCV 2018) as a frame-level torch ``Dataset``.

Layout (``root`` may be the folder holding ``AVE_Dataset`` or ``AVE_Dataset`` itself)::

    AVE_Dataset/Annotations.txt                 Category&VideoID&Quality&StartTime&EndTime
    AVE_Dataset/{train,val,test}Set.txt         same format; or {train,val,test}_order.h5
    AVE_Dataset/AVE/<VideoID>.mp4               10 s clips with sound

or, with frames extracted beforehand (``frames_root=...``)::

    <frames_root>/frames/<VideoID>/img_00001.jpg ...   frame k shown at (k-1)/fps
    <frames_root>/audio/<VideoID>.wav

Videos are decoded once into ``cache_dir`` (default ``<AVE_Dataset>/.scamlib_cache/fps<fps>``)
in that same frames/audio layout, atomically; later epochs and later runs read the JPEGs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from . import video as _video
from ._base import FrameDataset
from ._errors import DataError, missing
from .annotations import MAX_FPS, AVEEvent, ave_categories, read_annotations, read_ave_split
from .audio import DEFAULT_SAMPLE_RATE

__all__ = ["AVE", "event_frames", "find_ave_dir"]


def event_frames(start: float, end: float, fps: float) -> range:
    """1-based indices ``k`` of the frames inside the event ``[start, end)`` seconds at ``fps``.

    Frame ``k`` is shown at ``(k - 1) / fps``; it belongs to the event when
    ``start <= (k - 1) / fps < end`` (with a 1e-9 s tolerance on both ends, so a frame exactly
    at ``start`` is in and one exactly at ``end`` is out). An empty event (``start == end``)
    has no frame. Computed in closed form, so the cost does not depend on the times.

    Raises:
        ValueError: a non-finite or negative time, ``start > end``, or ``fps`` outside
            ``(0, 1000]``.

    Example:
        >>> list(event_frames(0.0, 1.0, 4.0)), list(event_frames(6.0, 8.0, 1.0))
        ([1, 2, 3, 4], [7, 8])
    """
    if not (0 <= start <= end < math.inf):
        raise ValueError(f"need finite times 0 <= start <= end, got start={start}, end={end}")
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be a finite number in (0, {MAX_FPS:g}], got {fps}")
    # first j = k - 1 with j / fps >= start - 1e-9, first j with j / fps >= end - 1e-9;
    # the closed forms are nudged by one step where floating point rounds across a frame
    lo = max(0, math.ceil((start - 1e-9) * fps))
    while lo > 0 and (lo - 1) / fps >= start - 1e-9:
        lo -= 1
    while lo / fps < start - 1e-9:
        lo += 1
    hi = max(0, math.ceil((end - 1e-9) * fps))
    while hi > 0 and (hi - 1) / fps >= end - 1e-9:
        hi -= 1
    while hi / fps < end - 1e-9:
        hi += 1
    return range(lo + 1, max(lo, hi) + 1)


def find_ave_dir(root: str | os.PathLike) -> Path:
    """The folder holding ``Annotations.txt``: ``root`` itself or ``root/AVE_Dataset``.

    Raises:
        DataError: neither holds ``Annotations.txt``.
    """
    root = Path(root)
    for cand in (root, root / "AVE_Dataset"):
        if (cand / "Annotations.txt").is_file():
            return cand
    raise DataError(
        f"AVE annotation file not found: expected {root / 'Annotations.txt'} or "
        f"{root / 'AVE_Dataset' / 'Annotations.txt'}"
    )


class AVE(FrameDataset):
    """Frames of the tagged events of AVE, one item per frame inside an event.

    Frame ``k`` (1-based) of a video is the frame at time ``(k - 1) / fps``; the items of the
    event in row ``r`` are the frames with ``start <= (k - 1) / fps < end``. If a decoded
    video is shorter than its event, the missing trailing frames repeat the last frame.

    Items are dicts:

    - ``frames``: ``(t, 3, H, W)`` float, ImageNet-normalised, the ``clip_len`` frames centred
      on the target (edge frames repeated at the video's ends), at ``size``;
    - ``audio``: ``(1, f, s)`` log spectrogram of the ``audio_seconds`` window centred on the
      target (see :mod:`scamlib.data.audio`);
    - ``tag`` (int, index into :attr:`categories`), ``video_id`` (str), ``row`` (0-based row
      of ``Annotations.txt``, header excluded), ``frame_index`` (1-based), ``index``;
    - ``frame_size``: ``(2,)`` stored frame ``(h, w)``; ``raw`` ``(3, h, w)`` in ``[0, 1]``
      when ``return_raw=True`` (also :meth:`raw_frame`).

    Args:
        root: folder holding ``AVE_Dataset`` (or ``AVE_Dataset`` itself).
        split: ``"train"``, ``"val"``, ``"test"`` (official split files) or ``"all"``.
        fps: frame rate frames are sampled at, in ``(0, 1000]``.
        size: model input size ``(H, W)`` or int; ``None`` keeps the stored size.
        clip_len: frames per clip (3 for the ST nets).
        audio_seconds: audio window length (1 s; 3 s for the SA+ long-term input).
        sample_rate: audio rate after resampling.
        spectrogram: ``"stft"`` (log-magnitude STFT), ``"mel"`` (log-mel) or ``"waveform"``
            (the raw window ``(1, L)``, for STAViS' SoundNet path).
        frames_root: read frames/audio extracted beforehand from here instead of decoding.
        cache_dir: where decoded frames go (default ``<AVE_Dataset>/.scamlib_cache/fps<fps>``).
        on_short_audio: ``"warn"`` (default), ``"error"`` or ``"ignore"`` when a WAV is shorter
            than its video (the missing part is zero-padded).

    Raises:
        ValueError: ``fps`` outside ``(0, 1000]`` or another bad argument.
        DataError: missing annotation/split files, a bad annotation row (see
            :func:`~scamlib.data.read_annotations`: times must be finite and within 60 s), or a
            listed video without mp4 / frames.

    Example:
        >>> from scamlib.data.synthetic import SyntheticConfig, generate
        >>> import tempfile
        >>> paths = generate(tempfile.mkdtemp(), SyntheticConfig(num_train=4, num_test_videos=1))
        >>> ds = AVE(paths.root, split="train", fps=8, size=32)
        >>> item = ds[0]
        >>> item["frames"].shape, item["audio"].shape[0]
        (torch.Size([3, 3, 32, 32]), 1)
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        fps: float = 8.0,
        size: int | Sequence[int] | None = 224,
        *,
        clip_len: int = 3,
        audio_seconds: float = 1.0,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        spectrogram: str = "stft",
        frames_root: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
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
        if not 0 < fps <= MAX_FPS:
            raise ValueError(f"fps must be a finite number in (0, {MAX_FPS:g}], got {fps}")
        self.fps = float(fps)
        self.ave_dir = find_ave_dir(root)
        self.events: list[AVEEvent] = read_annotations(self.ave_dir / "Annotations.txt")
        self.categories: list[str] = ave_categories(self.events)
        self._tag = {c: i for i, c in enumerate(self.categories)}
        self.rows: list[int] = read_ave_split(self.ave_dir, split, self.events)
        self.split = split
        self.video_dir = self.ave_dir / "AVE"
        if frames_root is not None:
            self.frames_root: Path | None = Path(frames_root)
            self.cache_dir = self.frames_root
        else:
            self.frames_root = None
            self.cache_dir = (
                Path(cache_dir)
                if cache_dir is not None
                else self.ave_dir / ".scamlib_cache" / f"fps{self.fps:g}"
            )
        for r in dict.fromkeys(self.rows):
            vid = self.events[r].video_id
            if self.frames_root is not None:
                folder = self.frames_root / "frames" / vid
                if not folder.is_dir():
                    raise missing(folder, f"frame folder of video {vid} (row {r})")
            elif not self._is_cached(vid) and not (self.video_dir / f"{vid}.mp4").is_file():
                raise missing(self.video_dir / f"{vid}.mp4", f"video of row {r}")
        self._nframes: dict[str, int] = {}
        # items: (row, k); the "video" key of an item is its row (rows share files by VideoID)
        for r in self.rows:
            e = self.events[r]
            self._items.extend((r, k) for k in event_frames(e.start, e.end, self.fps))

    # ---- files ---------------------------------------------------------------------------
    def _is_cached(self, vid: str) -> bool:
        return (self.cache_dir / "frames" / vid).is_dir() and (
            self.cache_dir / "audio" / f"{vid}.wav"
        ).is_file()

    def _ensure(self, vid: str) -> None:
        if self.frames_root is None and not self._is_cached(vid):
            _video.decode_mp4(self.video_dir / f"{vid}.mp4", self.cache_dir, self.fps, vid)

    def _vid(self, video) -> str:
        return self.events[video].video_id

    def _frame_path(self, video, k: int) -> Path:
        vid = self._vid(video)
        self._ensure(vid)
        return self.cache_dir / "frames" / vid / _video.frame_name(k)

    def _num_frames(self, video) -> int:
        vid = self._vid(video)
        if vid not in self._nframes:
            self._ensure(vid)
            folder = self.cache_dir / "frames" / vid
            n = len([p for p in os.listdir(folder) if p.startswith("img_")])
            if n == 0:
                raise DataError(f"{folder}: no frames img_%05d.jpg found")
            self._nframes[vid] = n
        return self._nframes[vid]

    def _audio_path(self, video) -> Path:
        vid = self._vid(video)
        self._ensure(vid)
        return self.cache_dir / "audio" / f"{vid}.wav"

    def _fps(self, video) -> float:
        return self.fps

    def _read_frame(self, video, k: int):
        return super()._read_frame(video, min(k, self._num_frames(video)))

    # ---- public --------------------------------------------------------------------------
    def tag_of(self, index: int) -> int:
        """Class index (into :attr:`categories`) of item ``index``'s event."""
        return self._tag[self.events[self._check_index(index)[0]].category]

    def video_of(self, index: int) -> str:
        """VideoID of item ``index``."""
        return self._vid(self._check_index(index)[0])

    def row_of(self, index: int) -> int:
        """0-based ``Annotations.txt`` row of item ``index``."""
        return int(self._check_index(index)[0])

    def indices_of(self, *, row: int | None = None, video_id: str | None = None) -> list[int]:
        """Item indices of one event row or of every row of one VideoID, by frame index.

        Raises:
            ValueError: neither or both of ``row`` and ``video_id`` given.
        """
        if (row is None) == (video_id is None):
            raise ValueError("give exactly one of row= or video_id=")
        groups = self.groups()
        if row is not None:
            return list(groups.get(row, []))
        return sorted(
            (i for r, idx in groups.items() if self.events[r].video_id == video_id for i in idx),
            key=lambda i: (self._items[i][1], self._items[i][0]),
        )

    def decode_all(self) -> None:
        """Decode every video of the split into the cache now (otherwise done on first use)."""
        for r in dict.fromkeys(self.rows):
            self._ensure(self.events[r].video_id)

    def __getitem__(self, index: int) -> dict:
        row, _k = self._check_index(index)
        item = self._base_item(index)
        item.update(tag=self.tag_of(index), video_id=self._vid(row), row=int(row))
        return item

    @property
    def num_classes(self) -> int:
        """Number of categories (28 for AVE)."""
        return len(self.categories)

    def tags(self) -> torch.Tensor:
        """``(n,)`` int64 tag of every item (for samplers and class statistics)."""
        return torch.tensor([self._tag[self.events[r].category] for r, _ in self._items])
