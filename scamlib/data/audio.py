"""Audio front end: WAV loading, the window centred on a frame, log spectrograms.

The models take audio as a log-magnitude spectrogram ``(b, 1, f, s)`` of a window centred on
the target frame (1 s; 3 s for the long-term SA+ input, STANet+ Sec. 4). Frame ``k`` (1-based) of a
video at ``fps`` frames per second sits at time ``(k - 1) / fps``; its window covers
``[t - seconds / 2, t + seconds / 2)``. Samples outside the recording (before 0 s, after the
end, or all of a silent/too-short file) are zeros: the window always has exactly
``round(seconds * sample_rate)`` samples.

WAV files are read with ``soundfile`` (``torchaudio.load`` needs torchcodec in recent
torchaudio releases) and resampled with :func:`torchaudio.functional.resample`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from scamlib._validation import check_finite, check_floating, check_ndim

from ._errors import DataError, missing

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "audio_window",
    "load_waveform",
    "log_mel_spectrogram",
    "log_spectrogram",
    "wav_duration",
]

DEFAULT_SAMPLE_RATE = 16_000


def wav_duration(path: str | os.PathLike) -> float:
    """Duration in seconds of an audio file, read from its header only.

    Raises:
        DataError: the file is missing or not a readable audio file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise missing(path, "audio file")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise DataError(f"{path}: not a readable audio file ({exc})") from exc
    return info.frames / info.samplerate


def load_waveform(
    path: str | os.PathLike, sample_rate: int | None = DEFAULT_SAMPLE_RATE
) -> tuple[Tensor, int]:
    """Load an audio file as a mono ``(n,)`` float32 waveform, resampled to ``sample_rate``.

    Channels are averaged (mono mixdown). ``sample_rate=None`` keeps the file's own rate.
    An empty file gives an empty waveform (callers zero-pad, see :func:`audio_window`).

    Returns:
        ``(waveform, rate)``: ``(n,)`` float32 tensor and its sample rate.

    Raises:
        DataError: the file is missing or cannot be decoded (the message names it).

    Example:
        >>> import soundfile, tempfile, numpy as np, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
        >>> soundfile.write(p, np.zeros((8000, 2), dtype="float32"), 8000)
        >>> w, sr = load_waveform(p, 16000)
        >>> tuple(w.shape), sr
        ((16000,), 16000)
    """
    import soundfile as sf
    import torchaudio.functional as taf

    path = Path(path)
    if not path.is_file():
        raise missing(path, "audio file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise DataError(f"{path}: not a readable audio file ({exc})") from exc
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if not bool(torch.isfinite(wave).all()):
        raise DataError(f"{path}: audio holds NaN/Inf samples")
    if sample_rate is not None and sample_rate != rate and wave.numel() > 0:
        wave = taf.resample(wave, int(rate), int(sample_rate))
    return wave, int(sample_rate if sample_rate is not None else rate)


@lru_cache(maxsize=64)
def _cached_waveform(path: str, mtime: float, sample_rate: int | None) -> tuple[Tensor, int]:
    return load_waveform(path, sample_rate)


def cached_waveform(path: str | os.PathLike, sample_rate: int | None) -> tuple[Tensor, int]:
    """:func:`load_waveform` memoised per process on (path, modification time, rate)."""
    path = Path(path)
    if not path.is_file():
        raise missing(path, "audio file")
    return _cached_waveform(str(path), path.stat().st_mtime, sample_rate)


def audio_window(waveform: Tensor, sample_rate: int, center: float, seconds: float = 1.0) -> Tensor:
    """Cut the ``seconds``-long window centred on time ``center`` (seconds), zero-padded.

    The window starts at sample ``round((center - seconds / 2) * sample_rate)`` and has
    ``round(seconds * sample_rate)`` samples; positions before the start or after the end of
    the waveform are zeros (so silent, empty and too-short audio all give a valid window).

    Args:
        waveform: ``(n,)`` mono samples.
        sample_rate: samples per second of ``waveform``.
        center: window centre in seconds (frame ``k`` of a video at ``fps``: ``(k-1)/fps``).
        seconds: window length (1 s per frame; 3 s for the long-term SA+ input).

    Returns:
        ``(round(seconds * sample_rate),)`` tensor.

    Example:
        >>> audio_window(torch.arange(1.0, 11.0), 10, center=0.0, seconds=0.4)
        tensor([0., 0., 1., 2.])
    """
    check_ndim(waveform, "waveform", 1, "(n,)")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    length = round(seconds * sample_rate)
    start = round((center - seconds / 2) * sample_rate)
    out = waveform.new_zeros(length)
    lo, hi = max(start, 0), min(start + length, waveform.numel())
    if hi > lo:
        out[lo - start : hi - start] = waveform[lo:hi]
    return out


def log_spectrogram(
    waveform: Tensor,
    n_fft: int = 512,
    hop_length: int = 160,
    win_length: int | None = 400,
    eps: float = 1e-6,
) -> Tensor:
    """Log-magnitude STFT ``log(|STFT(x)| + eps)`` of one or a batch of windows.

    Hann window, centred frames (``torchaudio.transforms.Spectrogram(power=1)``). At 16 kHz the
    defaults are 25 ms windows every 10 ms: a 1 s window gives ``f = 257`` bins by ``s = 101``
    steps. Silence gives the constant ``log(eps)``.

    Args:
        waveform: ``(n,)`` or ``(b, n)`` samples.

    Returns:
        ``(1, f, s)`` for a single window, ``(b, 1, f, s)`` for a batch.

    Example:
        >>> log_spectrogram(torch.zeros(16000)).shape
        torch.Size([1, 257, 101])
    """
    import torchaudio.transforms as tat

    check_floating(waveform, "waveform")
    check_ndim(waveform, "waveform", (1, 2), "(n,) or (b, n)")
    check_finite(waveform, "waveform")
    spec = tat.Spectrogram(n_fft=n_fft, hop_length=hop_length, win_length=win_length, power=1.0).to(
        waveform.device, waveform.dtype
    )(waveform)
    return torch.log(spec + eps).unsqueeze(-3)


def log_mel_spectrogram(
    waveform: Tensor,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    n_mels: int = 64,
    n_fft: int = 512,
    hop_length: int = 160,
    win_length: int | None = 400,
    eps: float = 1e-6,
) -> Tensor:
    """Log-mel spectrogram ``log(mel(|STFT(x)|^2) + eps)``, the variant used by VGGish-style
    audio encoders.

    Args:
        waveform: ``(n,)`` or ``(b, n)`` samples at ``sample_rate``.

    Returns:
        ``(1, n_mels, s)`` or ``(b, 1, n_mels, s)``.

    Example:
        >>> log_mel_spectrogram(torch.zeros(2, 16000)).shape
        torch.Size([2, 1, 64, 101])
    """
    import torchaudio.transforms as tat

    check_floating(waveform, "waveform")
    check_ndim(waveform, "waveform", (1, 2), "(n,) or (b, n)")
    check_finite(waveform, "waveform")
    mel = tat.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        n_mels=n_mels,
        power=2.0,
    ).to(waveform.device, waveform.dtype)(waveform)
    return torch.log(mel + eps).unsqueeze(-3)
