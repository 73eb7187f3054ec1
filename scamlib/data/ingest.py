"""Your own video as a one-video dataset in the STAViS layout.

:func:`video_dataset` decodes a video file (or copies a folder of frames and a WAV) into the
layout :class:`~scamlib.data.AVSaliency` reads, so your video goes down the same path as the
test sets: frames, a sound track and a one-line fold list.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._fs import write_text
from ._errors import DataError
from .audio import DEFAULT_SAMPLE_RATE, load_waveform, wav_duration
from .stavis import AVSaliency
from .video import decode_mp4, frame_name

__all__ = ["DEFAULT_FPS", "video_dataset", "video_wav_path"]

#: Frame rate at which a video file is sampled by default (the pipeline samples AVE at 8 fps).
DEFAULT_FPS = 8.0

_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _safe_name(name: str) -> str:
    """A video name usable in a fold list (no white space) and as a folder name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "video"


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _frames_from_folder(folder: Path, target: Path) -> int:
    """Copy (JPEG) or convert (other formats) the images of ``folder`` to ``img_%05d.jpg``."""
    from PIL import Image

    images = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _FRAME_SUFFIXES),
        key=_natural_key,
    )
    if not images:
        present = sorted(p.name for p in folder.iterdir())[:8]
        raise DataError(
            f"{folder}: no frame images found (expected files ending in "
            f"{', '.join(_FRAME_SUFFIXES)}, e.g. img_00001.jpg); found {present}"
        )
    target.mkdir(parents=True, exist_ok=True)
    size = None
    for k, src in enumerate(images, start=1):
        try:
            with Image.open(src) as img:
                img.load()
                if size is None:
                    size = img.size
                elif img.size != size:
                    raise DataError(
                        f"{src}: frame size {img.size[1]}x{img.size[0]} differs from the first "
                        f"frame's {size[1]}x{size[0]}; all frames of a video must have one size"
                    )
                if src.suffix.lower() in (".jpg", ".jpeg") and img.mode == "RGB":
                    shutil.copyfile(src, target / frame_name(k))
                else:
                    img.convert("RGB").save(target / frame_name(k), quality=95)
        except (OSError, SyntaxError) as exc:
            raise DataError(f"{src}: not a decodable image ({exc})") from exc
    return len(images)


def _write_wav(src: Path | None, target: Path) -> float:
    """Copy ``src`` (any format soundfile reads) to a WAV at ``target``; silence if ``None``.

    Returns the duration in seconds."""
    import soundfile as sf

    target.parent.mkdir(parents=True, exist_ok=True)
    if src is None:
        sf.write(str(target), np.zeros(0, np.float32), DEFAULT_SAMPLE_RATE, subtype="PCM_16")
        return 0.0
    wave, rate = load_waveform(src, sample_rate=None)
    sf.write(str(target), np.clip(wave.numpy(), -1.0, 1.0), rate, subtype="PCM_16")
    return wave.numel() / rate


def video_dataset(
    video: str | os.PathLike,
    workdir: str | os.PathLike,
    *,
    fps: float | None = None,
    audio: str | os.PathLike | None = None,
    name: str | None = None,
    dataset: str = "video",
    on_missing_audio: str = "warn",
    **dataset_kwargs: Any,
) -> AVSaliency:
    """Your own video as a one-video STAViS-layout dataset, ready for the students'
    :class:`~scamlib.inference.Predictor`.

    Writes, under ``workdir``::

        video_frames/<dataset>/<name>/img_00001.jpg ...
        video_audio/<dataset>/<name>/<name>.wav
        fold_lists/<dataset>_list_test_fps.txt          one line: <name> <frames> <fps>

    and returns ``AVSaliency(workdir, dataset, split=None, annotations=False,
    **dataset_kwargs)``.

    Args:
        video: a video file (any container and codec FFmpeg decodes, e.g. ``.mp4``), sampled at
            ``fps`` with :func:`scamlib.data.video.decode_mp4` (frame ``k`` is the frame shown at
            ``(k - 1) / fps``; the sound track is kept at its own rate); or a folder of frame
            images (``.jpg``, ``.png``, ...; sorted by name, numbers compared as numbers) and
            optionally one ``.wav`` file.
        workdir: folder to write the layout into (e.g. a temporary folder).
        fps: frame rate to sample a video file at (default :data:`DEFAULT_FPS`); for a folder,
            the rate its frames were taken at (required when it has sound, to align the two;
            else :data:`DEFAULT_FPS`).
        audio: a sound file to use instead of the video's own track (or the folder's WAV).
        name: the video's name (default: the file or folder name, made safe for a fold list).
        dataset: the dataset name ``<DB>`` of the layout.
        on_missing_audio: a video without sound is predicted with silence (all-zero audio
            windows, the input the data layer gives past the end of a track): ``"warn"``
            (default) says so with a warning, ``"ignore"`` does not, ``"error"`` raises.
        **dataset_kwargs: for :class:`~scamlib.data.AVSaliency`: ``size``, ``clip_len``,
            ``audio_seconds``, ``sample_rate``, ``spectrogram`` (pass
            :attr:`scamlib.inference.Predictor.dataset_kwargs`).

    Returns:
        The dataset; its only video is ``dataset.videos[0]``.

    Raises:
        scamlib.data.DataError: a missing or undecodable video, a folder without frames, frames
            of different sizes, an unreadable sound file, or no sound with
            ``on_missing_audio="error"``.
        ValueError: a folder with sound but no ``fps``, or more than one WAV in the folder.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for k in range(1, 4):
        ...     Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(folder / f"f{k}.png")
        >>> ds = video_dataset(folder, tempfile.mkdtemp(), name="demo", size=32,
        ...                    on_missing_audio="ignore")
        >>> ds.videos, len(ds), ds.frame_size(0)
        (['demo'], 3, (24, 32))
    """
    if on_missing_audio not in ("warn", "ignore", "error"):
        raise ValueError(
            f"on_missing_audio must be 'warn', 'ignore' or 'error', got {on_missing_audio!r}"
        )
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    src = Path(video)
    if not src.exists():
        raise DataError(f"video not found: {src}")
    root = Path(workdir)
    name = _safe_name(name or (src.name if src.is_dir() else src.stem))
    frames_dir = root / "video_frames" / dataset / name
    wav = root / "video_audio" / dataset / name / f"{name}.wav"
    for old in (frames_dir, wav.parent):
        if old.exists():
            shutil.rmtree(old)
    if src.is_dir():
        wavs = sorted(p for p in src.iterdir() if p.suffix.lower() == ".wav")
        if audio is None and len(wavs) > 1:
            raise ValueError(
                f"{src}: several WAV files {[p.name for p in wavs]}; name the one to use (audio=)"
            )
        sound = Path(audio) if audio is not None else (wavs[0] if wavs else None)
        if sound is not None and fps is None:
            raise ValueError(
                f"{src}: a folder of frames with sound needs fps (the rate the frames were taken "
                "at), to align the frames with the sound"
            )
        rate = float(fps or DEFAULT_FPS)
        nframes = _frames_from_folder(src, frames_dir)
        seconds = _write_wav(sound, wav)
    else:
        rate = float(fps or DEFAULT_FPS)
        staging = root / ".decode"  # decode_mp4's own layout, moved into the STAViS one
        shutil.rmtree(staging, ignore_errors=True)  # never reuse frames of an earlier call
        try:
            nframes = decode_mp4(src, staging, rate, name)
            frames_dir.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / "frames" / name, frames_dir)
            if audio is not None:
                seconds = _write_wav(Path(audio), wav)
            else:
                wav.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / "audio" / f"{name}.wav", wav)
                seconds = wav_duration(wav)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if nframes == 0:
        raise DataError(f"{src}: no frames decoded")
    silent = seconds == 0.0
    if silent:
        msg = f"{src}: no sound track; predicting with silence (all-zero audio windows)"
        if on_missing_audio == "error":
            raise DataError(msg)
        if on_missing_audio == "warn":
            warnings.warn(msg, stacklevel=2)
    lists = root / "fold_lists"
    lists.mkdir(parents=True, exist_ok=True)
    write_text(lists / f"{dataset}_list_test_fps.txt", f"{name} {nframes} {rate:.6f}\n")
    options = {"on_short_audio": "ignore" if silent else "warn", **dataset_kwargs}
    return AVSaliency(root, dataset, None, "test", annotations=False, **options)


def video_wav_path(dataset: AVSaliency, video: str) -> Path:
    """``<root>/video_audio/<DB>/<video>/<video>.wav``: where a STAViS-layout dataset keeps the
    sound of ``video`` (the file :func:`video_dataset` writes).

    Example:
        >>> class Layout:
        ...     root, dataset = "/data", "DIEM"
        >>> video_wav_path(Layout(), "clip").as_posix()
        '/data/video_audio/DIEM/clip/clip.wav'
    """
    return Path(dataset.root) / "video_audio" / dataset.dataset / video / f"{video}.wav"
