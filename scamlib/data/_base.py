"""What the AVE and STAViS-layout datasets share: clips around a frame, audio windows, the
frame-size check, and the grouping the multi-granularity sampler relies on."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from scamlib._validation import as_size

from ._errors import DataError
from ._io import normalize, read_rgb, resize_frames
from .audio import (
    DEFAULT_SAMPLE_RATE,
    audio_window,
    cached_waveform,
    log_mel_spectrogram,
    log_spectrogram,
)

__all__ = ["AUDIO_FRONT_ENDS", "FrameDataset"]

#: The audio a dataset item carries (its ``spectrogram`` setting): a log-magnitude STFT
#: ``(1, f, s)``, a log-mel spectrogram ``(1, n_mels, s)`` (DAVE Sec. IV-A.2), or the raw
#: waveform window ``(1, L)`` (STAViS Sec. 3.2: SoundNet takes samples).
AUDIO_FRONT_ENDS: tuple[str, ...] = ("stft", "mel", "waveform")


class FrameDataset(Dataset):
    """Base class of the frame-level datasets (not instantiated directly).

    Subclasses fill ``self._items`` with ``(video_key, frame_index)`` pairs and implement
    the per-video file lookups. Every item is one target frame; its model input is the clip of
    ``clip_len`` frames centred on it (frame indices ``k - (T-1)//2 ... k + T//2``, clamped to
    the video: edge frames repeat) and the audio window centred on ``(k - 1) / fps``.
    """

    def __init__(
        self,
        *,
        size: int | Sequence[int] | None,
        clip_len: int,
        audio_seconds: float,
        sample_rate: int,
        spectrogram: str,
        return_raw: bool,
        on_short_audio: str,
    ) -> None:
        if not isinstance(clip_len, int) or clip_len < 1:
            raise ValueError(f"clip_len must be a positive int, got {clip_len!r}")
        if audio_seconds <= 0:
            raise ValueError(f"audio_seconds must be positive, got {audio_seconds}")
        if spectrogram not in AUDIO_FRONT_ENDS:
            raise ValueError(f"spectrogram must be one of {AUDIO_FRONT_ENDS}, got {spectrogram!r}")
        if on_short_audio not in ("warn", "error", "ignore"):
            raise ValueError(
                f"on_short_audio must be 'warn', 'error' or 'ignore', got {on_short_audio!r}"
            )
        self.size = as_size(size, "size") if size is not None else None
        self.clip_len = clip_len
        self.audio_seconds = float(audio_seconds)
        self.sample_rate = int(sample_rate or DEFAULT_SAMPLE_RATE)
        self.spectrogram = spectrogram
        self.return_raw = return_raw
        self.on_short_audio = on_short_audio
        self._items: list[tuple[Hashable, int]] = []
        self._frame_sizes: dict[Hashable, tuple[int, int]] = {}
        self._groups: dict[Hashable, list[int]] | None = None

    # ---- per-video lookups a subclass provides -------------------------------------------
    def _frame_path(self, video: Hashable, k: int) -> Path:
        raise NotImplementedError

    def _num_frames(self, video: Hashable) -> int:
        raise NotImplementedError

    def _audio_path(self, video: Hashable) -> Path:
        raise NotImplementedError

    def _fps(self, video: Hashable) -> float:
        raise NotImplementedError

    def _group(self, video: Hashable) -> Hashable:
        """Key of the unit the MG sampler treats as "the same video" (AVE: the event row)."""
        return video

    # ---- public helpers -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    def _check_index(self, index: int) -> tuple[Hashable, int]:
        if not -len(self._items) <= index < len(self._items):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        return self._items[index]

    def frame_index(self, index: int) -> int:
        """1-based frame number of item ``index`` in its video."""
        return self._check_index(index)[1]

    def _read_frame(self, video: Hashable, k: int) -> Tensor:
        path = self._frame_path(video, k)
        img = read_rgb(path)
        size = (int(img.shape[1]), int(img.shape[2]))
        ref = self._frame_sizes.get(video)
        if ref is None:
            first = read_rgb(self._frame_path(video, 1)) if k != 1 else img
            ref = self._frame_sizes.setdefault(video, (int(first.shape[1]), int(first.shape[2])))
        if size != ref:
            raise DataError(
                f"{path}: frame size {size} differs from the video's first frame {ref}; "
                "all frames of a video must have one size"
            )
        return img

    def raw_frame(self, index: int) -> Tensor:
        """The target frame of item ``index`` as stored: ``(3, h, w)`` in ``[0, 1]``."""
        video, k = self._check_index(index)
        return self._read_frame(video, min(k, self._num_frames(video)))

    def frame_size(self, index: int) -> tuple[int, int]:
        """``(h, w)`` of the stored frames of item ``index``'s video (maps are written at it)."""
        video, _k = self._check_index(index)
        if video not in self._frame_sizes:
            self._read_frame(video, 1)
        return self._frame_sizes[video]

    def clip(self, index: int, length: int | None = None, center: int | None = None) -> Tensor:
        """Model input frames around item ``index`` (or around frame ``center`` of its video).

        Returns:
            ``(t, 3, H, W)`` ImageNet-normalised frames at ``size``, ``t = length`` (default
            ``clip_len``), frames beyond the video's ends repeated.
        """
        video, k = self._check_index(index)
        k = k if center is None else int(center)
        t = self.clip_len if length is None else int(length)
        n = self._num_frames(video)
        ks = [min(max(j, 1), n) for j in range(k - (t - 1) // 2, k + t // 2 + 1)]
        loaded = {j: self._read_frame(video, j) for j in dict.fromkeys(ks)}
        frames = [loaded[j] for j in ks]
        return normalize(resize_frames(torch.stack(frames), self.size))

    def _waveform(self, video: Hashable) -> Tensor:
        path = self._audio_path(video)
        wave, rate = cached_waveform(path, self.sample_rate)
        need = self._num_frames(video) / self._fps(video)
        have = wave.numel() / rate
        if have + 1.0 / self._fps(video) < need and self.on_short_audio != "ignore":
            msg = (
                f"{path}: audio lasts {have:.3f} s but the video {need:.3f} s; "
                "windows past the end of the audio are zero-padded"
            )
            if self.on_short_audio == "error":
                raise DataError(msg)
            warnings.warn(msg, stacklevel=3)
        return wave

    def audio(self, index: int, seconds: float | None = None, center: int | None = None) -> Tensor:
        """Log spectrogram ``(1, f, s)`` of the window centred on item ``index``'s frame
        (``spectrogram="waveform"``: the raw window ``(1, L)``, as STAViS Sec. 3.2 takes it).

        ``seconds`` defaults to ``audio_seconds``; ``center`` picks another frame of the same
        video. Missing samples (before 0 s, past the end) are zeros.
        """
        video, k = self._check_index(index)
        k = k if center is None else int(center)
        wave = self._waveform(video)
        fps = self._fps(video)
        seg = audio_window(wave, self.sample_rate, (k - 1) / fps, seconds or self.audio_seconds)
        if self.spectrogram == "waveform":
            return seg[None]
        if self.spectrogram == "mel":
            return log_mel_spectrogram(seg, self.sample_rate)
        return log_spectrogram(seg)

    # ---- grouping for multi-granularity sampling -----------------------------------------
    def groups(self) -> dict[Hashable, list[int]]:
        """Item indices per group (video, or event row for AVE), sorted by frame index."""
        if self._groups is None:
            groups: dict[Hashable, list[int]] = {}
            for i, (video, _k) in enumerate(self._items):
                groups.setdefault(self._group(video), []).append(i)
            for idx in groups.values():
                idx.sort(key=lambda i: self._items[i][1])
            self._groups = groups
        return self._groups

    def group_of(self, index: int) -> Hashable:
        """Group key of item ``index``."""
        return self._group(self._check_index(index)[0])

    def video_of(self, index: int) -> str:
        """Name of the video item ``index`` comes from (AVE: its VideoID)."""
        return str(self._check_index(index)[0])

    def tag_of(self, index: int) -> int | None:
        """Class tag of item ``index``; ``None`` for datasets without tags."""
        return None

    def _base_item(self, index: int) -> dict:
        _video, k = self._check_index(index)
        item = {
            "frames": self.clip(index),
            "audio": self.audio(index),
            "frame_index": k,
            "frame_size": torch.tensor(self.frame_size(index)),
            "index": index,
        }
        if self.return_raw:
            item["raw"] = self.raw_frame(index)
        return item
