"""Decoding ``.mp4`` files into the frame/audio layout every dataset here reads.

:func:`decode_mp4` resamples a video to a fixed frame rate (frame ``k``, 1-based, is the
frame shown at time ``(k - 1) / fps``: the last decoded frame whose timestamp is at or before
it) and writes::

    <out>/frames/<name>/img_00001.jpg, img_00002.jpg, ...   (JPEG, quality 95)
    <out>/audio/<name>.wav                                  (mono 16-bit PCM, native rate)

which is also the layout accepted for frames extracted beforehand. Writes are atomic: the
frame folder is filled under a temporary name and renamed when complete, the WAV is written
to a temporary file and renamed, so a killed run never leaves a half-decoded video that a
later run would trust.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from scamlib._fs import atomic_dir, atomic_path

from ._errors import DataError, missing

__all__ = ["MAX_VIDEO_SECONDS", "decode_mp4", "frame_name"]

MAX_VIDEO_SECONDS = 4 * 3600.0
"""Longest video :func:`decode_mp4` accepts (4 hours): a timestamp beyond it is refused."""


def frame_name(k: int) -> str:
    """File name of 1-based frame ``k``: ``img_%05d.jpg``."""
    return f"img_{k:05d}.jpg"


def _timestamp(time, default: float, path: Path, what: str) -> float:
    """A frame's time in seconds, checked to be finite and within :data:`MAX_VIDEO_SECONDS`
    (a damaged container can carry absurd timestamps, which would make the frame loop
    write frames without end)."""
    t = float(time) if time is not None else default
    if not (math.isfinite(t) and t <= MAX_VIDEO_SECONDS):
        raise DataError(
            f"{path}: {what} timestamp must be a finite time within {MAX_VIDEO_SECONDS:g} s, "
            f"found {t} s (damaged container?)"
        )
    return t


def _decode_audio(container, path: Path) -> tuple[np.ndarray, int]:
    import av

    stream = container.streams.audio[0]
    rate = int(stream.codec_context.sample_rate or stream.rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    offset = None
    if not 0 < rate <= 768_000:
        raise DataError(f"{path}: audio sample rate must be in (0, 768000] Hz, found {rate}")
    for frame in container.decode(stream):
        if offset is None:
            offset = max(0, round(_timestamp(frame.time, 0.0, path, "audio frame") * rate))
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    samples = np.concatenate([np.zeros(offset or 0, np.float32), samples])
    return samples, rate


def decode_mp4(path: str | os.PathLike, out_dir: str | os.PathLike, fps: float, name: str) -> int:
    """Decode ``path`` into ``out_dir/frames/<name>/`` at ``fps`` and ``out_dir/audio/<name>.wav``.

    A video without an audio stream gets an empty WAV (its windows are all zeros, and the
    datasets warn that the audio is shorter than the video).

    Returns:
        the number of frames written, ``N = ceil(duration * fps)`` with ``duration`` the last
        frame's timestamp plus one frame period.

    Videos longer than :data:`MAX_VIDEO_SECONDS` and frames with non-finite timestamps are
    refused, so a damaged container cannot make the decoder write frames without end.

    Raises:
        ValueError: ``fps`` outside ``(0, 1000]``.
        DataError: missing or undecodable file, a file without a video stream, a frame
            timestamp that is not finite or beyond :data:`MAX_VIDEO_SECONDS`, or an audio
            stream with an absurd sample rate.

    Example:
        >>> frame_name(3)
        'img_00003.jpg'
    """
    import av
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise missing(path, "video file")
    if not 0 < fps <= 1000:
        raise ValueError(f"fps must be a finite number in (0, 1000], got {fps}")
    out_dir = Path(out_dir)
    frames_dir = out_dir / "frames" / name
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream")
            vstream = container.streams.video[0]
            native = float(vstream.average_rate or vstream.guessed_rate or fps)
            if not 0 < native < math.inf:
                native = fps
            with atomic_dir(frames_dir) as tmp:
                k = 1
                prev: np.ndarray | None = None
                last_time = 0.0
                for frame in container.decode(vstream):
                    t = _timestamp(frame.time, last_time, path, "video frame")
                    # frames k with (k-1)/fps < t show the previous decoded frame
                    while prev is not None and (k - 1) / fps < t - 1e-6:
                        Image.fromarray(prev).save(tmp / frame_name(k), quality=95)
                        k += 1
                    prev, last_time = frame.to_ndarray(format="rgb24"), t
                if prev is None:
                    raise DataError(f"{path}: the video stream holds no decodable frame")
                end = min(last_time + 1.0 / native, MAX_VIDEO_SECONDS)
                while (k - 1) / fps < end - 1e-6:
                    Image.fromarray(prev).save(tmp / frame_name(k), quality=95)
                    k += 1
            has_audio = bool(container.streams.audio)
        samples, rate = np.zeros(0, np.float32), 16_000
        if has_audio:
            with av.open(str(path)) as container:
                samples, rate = _decode_audio(container, path)
    except av.error.FFmpegError as exc:
        raise DataError(f"{path}: not a decodable video ({exc})") from exc
    wav = out_dir / "audio" / f"{name}.wav"
    with atomic_path(wav, suffix=".wav") as tmp_wav:
        sf.write(str(tmp_wav), np.clip(samples, -1, 1), rate, subtype="PCM_16", format="WAV")
    return k - 1
