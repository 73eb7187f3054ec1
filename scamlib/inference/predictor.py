"""The :class:`Predictor`: trained students -> fixation maps for the frames of any video.

Once trained on pseudo-fixations, the students need no tags: frames and sound in, fixation maps
out (STANet+ Sec. 5). The three students' maps are fused with PF_final (Eq. 21) and PF_agg
(Eq. 23).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import functional as SF
from .._device import resolve_device
from ..data import AVSaliency, MultiGranularity
from ..data._base import FrameDataset
from ..models import (
    FUSED_VARIANTS,
    STUDENT_VARIANTS,
    StudentInfo,
    load_students,
    run_batch,
)
from .maps import write_maps

__all__ = [
    "BF16_TOLERANCE",
    "PRECISIONS",
    "Predictor",
    "autocast_dtype",
    "channels_last_clip",
    "to_channels_last",
]

#: Values of ``Predictor(precision=...)`` and ``scamlib predict --precision``.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: Bound on ``max |bf16 - fp32|`` over a student's maps (values in ``[0, 1]``) on the fast path;
#: the tests hold bf16 autocast on the CPU to it. Measured on the CPU with the tiny students a
#: short pipeline run trains (``quick`` profile, 32 px, 16 test frames): at most 3.1e-3 (mean
#: 7.5e-4) for STA, STA+ short and STA+ long. PF_final and PF_agg (Eqs. 21, 23) min-max
#: normalise the product of the three maps, which stretches the rounding wherever that product
#: is small: there the same run measured max 0.27 / 0.12 (mean 0.02 / 0.005).
BF16_TOLERANCE = 0.02


def to_channels_last(net: nn.Module) -> nn.Module:
    """Store the 4-D (2-D convolution) weights of ``net`` in ``channels_last`` (NHWC), in place.

    On GPUs with tensor cores, 2-D convolutions run fastest on NHWC tensors under reduced
    precision. Only 4-D parameters are moved: a 5-D ``Conv3d`` weight has no ``channels_last``
    layout (its NDHWC layout is ``channels_last_3d``, which the 3-D convolutions of the STA
    encoder gain nothing from), and 1-D / 2-D parameters have none at all. Values are unchanged.

    Args:
        net: any module; its parameters keep their device and dtype.

    Returns:
        ``net`` itself.

    Example:
        >>> conv = to_channels_last(nn.Conv2d(3, 4, 3))
        >>> conv.weight.is_contiguous(memory_format=torch.channels_last)
        True
        >>> to_channels_last(nn.Conv3d(3, 4, 3)).weight.is_contiguous()
        True
    """
    for param in net.parameters():
        if param.dim() == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
    return net


def autocast_dtype(precision: str, device: str | torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device``; ``None`` means plain float32.

    ``"auto"`` is bfloat16 on CUDA (float16 on GPUs without bfloat16) and float32 elsewhere,
    so on the CPU the default path is the exact float32 one. ``"bf16"`` / ``"fp16"`` ask for
    that autocast dtype on any device (``"fp16"`` on the CPU needs a torch whose CPU autocast
    supports it).

    Raises:
        ValueError: ``precision`` not one of :data:`PRECISIONS`.

    Example:
        >>> autocast_dtype("auto", "cpu") is None, autocast_dtype("bf16", "cpu")
        (True, torch.bfloat16)
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = torch.device(device)
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "auto" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def channels_last_clip(x: Tensor) -> Tensor:
    """``x`` ``(..., c, h, w)`` with the same values, laid out so that its ``(... c) h w``
    flattening to ``(n, c, h, w)`` (the view the encoders take of a clip) is ``channels_last``.

    Tensors of fewer than 4 dimensions are returned as they are.

    Example:
        >>> y = channels_last_clip(torch.rand(2, 3, 3, 8, 8))
        >>> y.shape, y.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)
        (torch.Size([2, 3, 3, 8, 8]), True)
    """
    if x.dim() < 4:
        return x
    flat = x.reshape(-1, *x.shape[-3:]).contiguous(memory_format=torch.channels_last)
    return flat.view(x.shape) if flat.is_contiguous() else flat.reshape(x.shape)


class _Memo:
    """A small least-recently-used memo of model inputs (clips, spectrograms) by key."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: OrderedDict[Hashable, Tensor] = OrderedDict()

    def get(self, key: Hashable, make) -> Tensor:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return value


class Predictor:
    """Predict fixation maps for the frames of a video with STA / STA+ students (Sec. 5).

    Every frame of the video is a target: STA gets its ``clip_len``-frame clip and the audio
    window centred on it; STA+ gets the same plus ``n`` multi-granularity clips with their 1 s
    audio, drawn as in training by :class:`~scamlib.data.MultiGranularity` (``net="sta"``,
    ``kind`` the student's: short = frames within ±4 of the target, long = farther frames of
    the same video) from a generator seeded by ``(seed, frame item)``, so predictions are
    deterministic given ``seed``. STA+ returns a map per node; node 0 (the target) is kept.
    Maps are bilinearly resized from the network size to the stored frame size. When all
    three students are present, PF_final (Eq. 21) and PF_agg (Eq. 23) fuse them at that size.
    A fully supervised DAVE or STAViS checkpoint (:mod:`scamlib.models.supervised`) runs the
    same way: the dataset built with :attr:`dataset_kwargs` gives it the clip length, frame
    size ``(H, W)`` and audio front end (log-mel, raw waveform) of its recorded config.

    Args:
        students: ``{variant: (model, info)}`` as :func:`load_students` returns, or a path it
            accepts.
        n_mg: MG nodes per STA+ target; ``None`` takes each student's recorded ``n_mg``.
        seed: seed of the MG draws.
        batch_size: target frames per forward pass.
        device: where the networks run (``"auto"``: CUDA when available).
        progress: show a progress bar (tqdm) per video.
        precision: the arithmetic of the forward passes. ``"fp32"``: plain float32.
            ``"bf16"`` / ``"fp16"``: ``torch.autocast`` in that dtype, with the 2-D conv
            weights and the input clips in ``channels_last``. ``"auto"`` (default): ``"bf16"``
            on CUDA (``"fp16"`` where the GPU has no bfloat16), ``"fp32"`` elsewhere. The maps
            are cast back to float32 before resizing and fusion. bf16 changes a student's maps
            (values in ``[0, 1]``) by at most ``BF16_TOLERANCE`` (0.02; measured 3.1e-3 on
            trained tiny students on the CPU); the fused maps, which min-max normalise a
            product of the three, by more where that product is small (measured max 0.27,
            mean 0.02 for PF_final).
        compile: ``torch.compile`` each student (worth it for many videos of one size; the
            first batch pays the compilation).

    The networks are moved to ``device`` and put in eval mode; prediction runs under
    ``torch.inference_mode``. Clips and spectrograms shared by neighbouring targets and their
    MG frames are computed once per batch window (a small memo, not the whole video).

    Raises:
        TypeError: an entry that is not a ``(model, StudentInfo)`` pair.
        ValueError: no students, a key that is not the student's variant, students trained
            with different input settings (image size, clip length, audio settings), or a
            ``precision`` not in :data:`PRECISIONS`.

    Example:
        >>> from scamlib.models import create
        >>> info = StudentInfo("sta", image_size=32)
        >>> p = Predictor({"sta": (create("sta").eval(), info)})
        >>> p.variants, p.dataset_kwargs["size"], p.autocast_dtype
        (('sta',), 32, None)
    """

    def __init__(
        self,
        students: Mapping[str, tuple[nn.Module, StudentInfo]] | str | os.PathLike,
        *,
        n_mg: int | None = None,
        seed: int = 0,
        batch_size: int = 8,
        device: str | torch.device = "cpu",
        progress: bool = False,
        precision: str = "auto",
        compile: bool = False,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = precision
        self.autocast_dtype = autocast_dtype(precision, self.device)
        if isinstance(students, (str, os.PathLike)):
            students = load_students(students, self.device)
        if not isinstance(students, Mapping) or not students:
            raise ValueError("students must be a non-empty {variant: (model, info)} mapping")
        for key, pair in students.items():
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"students[{key!r}] must be a pair (model, StudentInfo)")
            if not isinstance(pair[1], StudentInfo):
                raise TypeError(
                    f"students[{key!r}][1] must be a StudentInfo, got {type(pair[1]).__name__}"
                )
            if pair[1].variant != key:
                raise ValueError(f"students[{key!r}] holds a {pair[1].variant!r} student")
        settings = {k: info.dataset_kwargs for k, (_m, info) in students.items()}
        if len({tuple(sorted(s.items())) for s in settings.values()}) > 1:
            raise ValueError(
                "the students were trained with different input settings and cannot share one "
                f"dataset: {settings}"
            )
        if n_mg is not None and (isinstance(n_mg, bool) or not isinstance(n_mg, int) or n_mg < 1):
            raise ValueError(f"n_mg must be a positive int or None, got {n_mg!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        order = [*STUDENT_VARIANTS, *(v for v in students if v not in STUDENT_VARIANTS)]
        self.students = {
            v: (students[v][0].to(self.device).eval(), students[v][1])
            for v in order
            if v in students
        }
        if self.autocast_dtype is not None:
            for model, _info in self.students.values():
                to_channels_last(model)
        self._run = {v: m for v, (m, _i) in self.students.items()}
        if compile:
            self._run = {v: torch.compile(m) for v, m in self._run.items()}
        self.n_mg, self.seed, self.batch_size, self.progress = n_mg, int(seed), batch_size, progress
        self._settings = next(iter(settings.values()))

    # ---- what it needs and gives ----------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        """Variants :meth:`predict_video` returns: the students present, then ``pf_final`` and
        ``pf_agg`` when all three students are."""
        fused = FUSED_VARIANTS if set(STUDENT_VARIANTS) <= set(self.students) else ()
        return (*self.students, *fused)

    @property
    def dataset_kwargs(self) -> dict[str, Any]:
        """Settings a dataset must be built with (``size``, ``clip_len``, audio settings)."""
        return dict(self._settings)

    @property
    def image_size(self) -> int:
        """Side of the square network input (a ``(H, W)`` input: its height)."""
        size = self._settings["size"]
        return int(size if isinstance(size, int) else size[0])

    def open_dataset(
        self,
        root: str | os.PathLike,
        dataset: str,
        split: int | None = None,
        subset: str = "test",
        **kwargs: Any,
    ) -> AVSaliency:
        """A STAViS-layout dataset without annotations, built with :attr:`dataset_kwargs`.

        ``kwargs`` go to :class:`~scamlib.data.AVSaliency` (e.g. ``missing_videos="skip"``).
        """
        options = {**self.dataset_kwargs, "annotations": False, **kwargs}
        return AVSaliency(root, dataset, split, subset, **options)

    def check_dataset(self, dataset: FrameDataset) -> None:
        """Raise ``ValueError`` when ``dataset`` does not give the students' inputs."""
        want = self.dataset_kwargs
        size = tuple(want["size"]) if isinstance(want["size"], tuple) else (want["size"],) * 2
        have = {
            "size": getattr(dataset, "size", None),
            "clip_len": getattr(dataset, "clip_len", None),
            "audio_seconds": getattr(dataset, "audio_seconds", None),
            "sample_rate": getattr(dataset, "sample_rate", None),
            "spectrogram": getattr(dataset, "spectrogram", None),
        }
        expected = {**want, "size": size}
        wrong = {k: have[k] for k in expected if have[k] != expected[k]}
        if wrong:
            raise ValueError(
                f"the dataset gives inputs the students were not trained on: it has {wrong}, "
                f"the students need { ({k: expected[k] for k in wrong}) }; build it with "
                "Predictor.open_dataset or with **predictor.dataset_kwargs"
            )

    # ---- prediction -----------------------------------------------------------------------
    def _mg_inputs(
        self, mg: MultiGranularity, indices: Sequence[int], memo: _Memo
    ) -> tuple[Tensor, Tensor]:
        """``(b, n, 3, 3, H, W)`` MG clips and ``(b, n, 1, f, s)`` MG audio, as
        :class:`~scamlib.data.MultiGranularity` (``net="sta"``) builds them."""
        base = mg.base
        clips, audio = [], []
        for i in indices:
            picks, _fallback = mg.draw(i)
            clips.append(
                torch.stack([memo.get(("c", j, 3), lambda j=j: base.clip(j, 3)) for j in picks])
            )
            audio.append(
                torch.stack(
                    [memo.get(("a", j, 1.0), lambda j=j: base.audio(j, seconds=1.0)) for j in picks]
                )
            )
        return torch.stack(clips), torch.stack(audio)

    def _clip(self, clips: Tensor) -> Tensor:
        """Clips on the device, in ``channels_last`` on the fast path."""
        clips = clips.to(self.device)
        return clips if self.autocast_dtype is None else channels_last_clip(clips)

    def _forward(self, variant: str, inputs: dict[str, Tensor]) -> Tensor:
        """One student's maps on a batch, under autocast on the fast path, as float32."""
        if self.autocast_dtype is None:
            return run_batch(self._run[variant], inputs).float()
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return run_batch(self._run[variant], inputs).float()

    @torch.inference_mode()
    def predict_indices(self, dataset: FrameDataset, indices: Sequence[int]) -> dict[str, Tensor]:
        """Student maps ``(N, H, W)`` at the network size for items ``indices`` of ``dataset``.

        The students only (no fusion, no resize); :meth:`predict_video` builds on it.
        """
        self.check_dataset(dataset)
        indices = list(indices)
        if not indices:
            raise ValueError("indices must name at least one item of the dataset")
        mgs = {
            v: MultiGranularity(
                dataset, info.kind, net="sta", n=self.n_mg or info.n_mg, seed=self.seed
            )
            for v, (_m, info) in self.students.items()
            if info.name == "sta+"
        }
        # big enough to reuse the short-term neighbours' clips across consecutive batches
        memo = _Memo(capacity=2 * self.batch_size * (1 + max([m.n for m in mgs.values()] or [0])))
        out: dict[str, list[Tensor]] = {v: [] for v in self.students}
        batches = [
            indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)
        ]
        desc = dataset.video_of(indices[0]) if indices else "predict"
        for batch in _progress(batches, self.progress, desc):
            clip_len = dataset.clip_len
            clips = torch.stack(
                [memo.get(("c", i, clip_len), lambda i=i: dataset.clip(i)) for i in batch]
            )
            audio = torch.stack(
                [
                    memo.get(("a", i, dataset.audio_seconds), lambda i=i: dataset.audio(i))
                    for i in batch
                ]
            )
            inputs = {"frames": self._clip(clips), "audio": audio.to(self.device)}
            for variant in self.students:
                if variant in mgs:
                    mg_clips, mg_audio = self._mg_inputs(mgs[variant], batch, memo)
                    inputs["mg_frames"] = self._clip(mg_clips)
                    inputs["mg_audio"] = mg_audio.to(self.device)
                maps = self._forward(variant, inputs)
                if maps.ndim == 4:  # STA+: a map per node, node 0 is the target
                    maps = maps[:, 0]
                out[variant].append(maps.float().cpu())
        return {v: torch.cat(maps) for v, maps in out.items()}

    def predict_video(self, dataset: FrameDataset, video: str) -> dict[str, Tensor]:
        """Fixation maps for every frame of ``video``.

        Args:
            dataset: a frame dataset with ``frames_of(video)`` (e.g.
                :class:`~scamlib.data.AVSaliency` with ``annotations=False``) built with
                :attr:`dataset_kwargs`.
            video: a video name of ``dataset``.

        Returns:
            ``{variant: (N, h, w)}`` float32 maps in ``[0, 1]`` (PF_agg in ``[0, 0.25]``, Eq.
            23 as printed) at the stored frame size ``(h, w)``, one per frame of
            ``dataset.frames_of(video)`` in that order; variants as :attr:`variants`.

        Raises:
            KeyError: ``video`` is not in ``dataset``.
            ValueError: a dataset built with other input settings (see :meth:`check_dataset`).
            scamlib.data.DataError: unreadable frames or audio (the message names the file).
        """
        indices = dataset.frames_of(video)
        size = dataset.frame_size(indices[0])
        maps = {
            v: _resize(m, size).clamp_(0.0, 1.0)
            for v, m in self.predict_indices(dataset, indices).items()
        }
        if set(STUDENT_VARIANTS) <= set(maps):
            a, b, c = (maps[v] for v in STUDENT_VARIANTS)
            maps["pf_final"] = SF.pf_final(a, b, c)
            maps["pf_agg"] = SF.pf_agg(a, b, c)
        return maps

    def predict_to_dir(
        self,
        dataset: FrameDataset,
        root: str | os.PathLike,
        *,
        videos: Sequence[str] | None = None,
        prefix: str = "",
    ) -> dict[str, int]:
        """Predict every video (or ``videos``) of ``dataset`` and write the maps as PNGs.

        Files: ``<root>/<variant>/<prefix>/<video>/img_<frame_index:05d>.png`` (``prefix``
        empty: ``<root>/<variant>/<video>/...``), the layout :func:`scamlib.metrics.evaluate`
        reads (``pred_root = <root>/<variant>/<prefix>``). The pipeline writes
        ``predictions/<variant>/<DB>/<video>/`` with ``prefix=<DB>``.

        Returns:
            ``{video: number of frames written}``.
        """
        written = {}
        for video in dataset.videos if videos is None else videos:
            maps = self.predict_video(dataset, video)
            frames = [dataset.frame_index(i) for i in dataset.frames_of(video)]
            write_maps(maps, root, frames, subdir=str(Path(prefix) / video) if prefix else video)
            written[video] = len(frames)
        return written


def _resize(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize (``align_corners=False``) of ``(n, h, w)`` maps to ``size``."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps.clone()
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _progress(items: list, enabled: bool, desc: str) -> Iterator:
    """``items``, through a tqdm bar when ``enabled``."""
    if not enabled:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, unit="batch", leave=False)


