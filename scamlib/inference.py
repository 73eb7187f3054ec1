"""Fixation prediction with trained student networks: STA, STA+ and their fusion (STANet+ Sec. 5).

Once trained on pseudo-fixations, the students need no tags: frames and sound in, fixation
maps out. This module is the one path from a checkpoint to maps on disk, shared by
``scamlib predict``, the pipeline's prediction stage and your own scripts:

1. :func:`save_student` writes a student's weights as safetensors together with everything
   needed to rebuild it (network name and preset, input size, multi-granularity settings, the
   audio front end's settings); :func:`load_student` / :func:`load_students` rebuild it.
2. :class:`Predictor` runs the students on the frames of a video of a frame dataset (such as
   :class:`~scamlib.data.AVSaliency` built with ``annotations=False``) and fuses the three
   students' maps with PF_final (Eq. 21) and PF_agg (Eq. 23).
3. :func:`video_dataset` turns your own video file (or a folder of frames with a WAV) into a
   one-video dataset in the STAViS layout, so your video goes down the same path as the test
   sets.

Student variants (the names of checkpoints and prediction folders):

==============  ==========================================================  ============
variant         network                                                      equation
==============  ==========================================================  ============
``sta``         :class:`~scamlib.models.STANet`                              Eqs. 15-16
``sta_short``   :class:`~scamlib.models.STAPlusNet`, short-term MG frames    Eqs. 18-19
``sta_long``    :class:`~scamlib.models.STAPlusNet`, long-term MG frames     Eqs. 18-19
``pf_final``    ``½ Z(Z(a)·Z(b)·Z(c)) + ½ Z(a + b + c)`` of the three        Eq. 21
``pf_agg``      ``¼ Z(Z(a)·Z(b)·Z(c)) · Z(a + b + c)`` (ablation)            Eq. 23
==============  ==========================================================  ============

Example:
    >>> import tempfile, pathlib
    >>> from scamlib.models import create
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sta.safetensors"
    >>> _ = save_student(path, create("sta", preset="tiny"), name="sta", image_size=32)
    >>> model, info = load_student(path)
    >>> info.variant, info.image_size, type(model).__name__
    ('sta', 32, 'STANet')
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import functional as SF
from .data import AVSaliency, DataError, MultiGranularity
from .data._base import FrameDataset
from .data.audio import DEFAULT_SAMPLE_RATE
from .nn import ConservativeGCN, FixationRefineLayer

__all__ = [
    "DEFAULT_FPS",
    "FUSED_VARIANTS",
    "STUDENT_FORMAT",
    "STUDENT_VARIANTS",
    "VARIANTS",
    "Predictor",
    "StudentInfo",
    "best_variant",
    "load_student",
    "load_students",
    "resolve_device",
    "save_student",
    "video_dataset",
    "write_maps",
]

#: Value of the ``format`` metadata key that marks a scamlib student checkpoint.
STUDENT_FORMAT = "scamlib.student/1"
#: The three student networks, in the order PF_final takes them (Eq. 21: a, b, c).
STUDENT_VARIANTS: tuple[str, ...] = ("sta", "sta_short", "sta_long")
#: The fusions of the three students' maps: PF_final (Eq. 21) and PF_agg (Eq. 23).
FUSED_VARIANTS: tuple[str, ...] = ("pf_final", "pf_agg")
#: Every variant a :class:`Predictor` can return, in this order.
VARIANTS: tuple[str, ...] = STUDENT_VARIANTS + FUSED_VARIANTS
#: Frame rate at which a video file is sampled by default (the pipeline samples AVE at 8 fps).
DEFAULT_FPS = 8.0

_KINDS = ("short", "long")
# metadata keys every student checkpoint must hold (``extra`` and ``overrides`` are optional)
_REQUIRED = (
    "format",
    "name",
    "kind",
    "preset",
    "image_size",
    "n_mg",
    "cgcn_steps",
    "num_classes",
    "clip_len",
    "audio_seconds",
    "sample_rate",
    "spectrogram",
)
_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# ----------------------------------------------------------------------------------------------
# checkpoints


@dataclass(frozen=True)
class StudentInfo:
    """What a student checkpoint records about its network and its inputs.

    Attributes:
        name: ``"sta"`` or ``"sta+"`` (the :func:`scamlib.models.create` name).
        kind: ``None`` for STA; ``"short"`` or ``"long"``: the multi-granularity frames STA+
            was trained with.
        preset: the :data:`scamlib.models.PRESETS` name the network was built from.
        image_size: side of the square network input in pixels.
        n_mg: multi-granularity nodes ``n`` of STA+ (2 in the paper).
        cgcn_steps: C-GCN reasoning steps ``m`` of STA+ (3 in the paper).
        num_classes: ``C`` of the classification nets of the run (28 for AVE).
        clip_len: frames per input clip (3).
        audio_seconds: length of the audio window centred on a frame (1 s).
        sample_rate: audio sample rate of the spectrogram front end.
        spectrogram: ``"stft"`` or ``"mel"`` (see :func:`scamlib.data.log_spectrogram`).
        overrides: :class:`~scamlib.models.Preset` fields that differ from ``preset``.
        refine: the fixation refine layer of every C-GCN of the network (Eqs. 13-14), by
            module name: ``[t_d, t_r]``, or ``None`` for a C-GCN built without one. Its
            thresholds are settings, not weights, so the state dict does not hold them.
        switch: the STA branch carries an audio switch (:class:`~scamlib.nn.AudioSwitch`).
        version: the scamlib version that wrote the checkpoint.
        extra: free-form string metadata given to :func:`save_student`.
        path: the file it was read from (``None`` before saving).
    """

    name: str
    image_size: int
    kind: str | None = None
    preset: str = "tiny"
    n_mg: int = 2
    cgcn_steps: int = 3
    num_classes: int = 28
    clip_len: int = 3
    audio_seconds: float = 1.0
    sample_rate: int = DEFAULT_SAMPLE_RATE
    spectrogram: str = "stft"
    overrides: dict[str, Any] = field(default_factory=dict)
    refine: dict[str, list[float] | None] = field(default_factory=dict)
    switch: bool = False
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.name not in ("sta", "sta+"):
            raise ValueError(f"name must be 'sta' or 'sta+', got {self.name!r}")
        if self.name == "sta" and self.kind is not None:
            raise ValueError(f"kind is only for 'sta+' students, got kind={self.kind!r} for 'sta'")
        if self.name == "sta+" and self.kind not in _KINDS:
            raise ValueError(f"an 'sta+' student needs kind 'short' or 'long', got {self.kind!r}")
        for key in ("image_size", "n_mg", "cgcn_steps", "num_classes", "clip_len", "sample_rate"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if not self.audio_seconds > 0:
            raise ValueError(f"audio_seconds must be positive, got {self.audio_seconds!r}")
        if self.spectrogram not in ("stft", "mel"):
            raise ValueError(f"spectrogram must be 'stft' or 'mel', got {self.spectrogram!r}")

    @property
    def variant(self) -> str:
        """``"sta"``, ``"sta_short"`` or ``"sta_long"``.

        Example:
            >>> StudentInfo("sta+", 64, kind="long").variant
            'sta_long'
        """
        return "sta" if self.name == "sta" else f"sta_{self.kind}"

    @property
    def dataset_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that build a dataset with this student's inputs.

        For :class:`~scamlib.data.AVSaliency` or :class:`~scamlib.data.AVE`: the frame ``size``
        and the clip / audio settings the student was trained with.

        Example:
            >>> StudentInfo("sta", 64).dataset_kwargs["size"]
            64
        """
        return {
            "size": self.image_size,
            "clip_len": self.clip_len,
            "audio_seconds": self.audio_seconds,
            "sample_rate": self.sample_rate,
            "spectrogram": self.spectrogram,
        }

    def to_metadata(self) -> dict[str, str]:
        """The safetensors metadata (``str -> str``) that :meth:`from_metadata` reads back."""
        meta = {
            "format": STUDENT_FORMAT,
            "name": self.name,
            "kind": self.kind or "",
            "preset": self.preset,
            "image_size": str(self.image_size),
            "n_mg": str(self.n_mg),
            "cgcn_steps": str(self.cgcn_steps),
            "num_classes": str(self.num_classes),
            "clip_len": str(self.clip_len),
            "audio_seconds": repr(float(self.audio_seconds)),
            "sample_rate": str(self.sample_rate),
            "spectrogram": self.spectrogram,
            "overrides": json.dumps(self.overrides, sort_keys=True),
            "refine": json.dumps(self.refine, sort_keys=True),
            "switch": "1" if self.switch else "0",
            "scamlib_version": self.version,
            "extra": json.dumps(self.extra, sort_keys=True),
        }
        return meta

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], path: str | os.PathLike | None = None):
        """Parse checkpoint metadata written by :meth:`to_metadata`.

        Raises:
            ValueError: not a scamlib student checkpoint (the message names the file and the
                missing key), or a value that does not parse.

        Example:
            >>> info = StudentInfo("sta+", 48, kind="short")
            >>> StudentInfo.from_metadata(info.to_metadata()) == info
            True
        """
        where = f"{path}: " if path is not None else ""
        fmt = meta.get("format")
        if fmt is None or not str(fmt).startswith("scamlib.student/"):
            raise ValueError(
                f"{where}not a scamlib student checkpoint: its metadata lacks the key 'format' = "
                f"{STUDENT_FORMAT!r} (found keys {sorted(meta)}); save students with "
                "scamlib.inference.save_student"
            )
        if fmt != STUDENT_FORMAT:
            raise ValueError(
                f"{where}student checkpoint format {fmt!r} is not supported by this scamlib "
                f"(expected {STUDENT_FORMAT!r})"
            )
        absent = [k for k in _REQUIRED if k not in meta]
        if absent:
            raise ValueError(
                f"{where}not a complete scamlib student checkpoint: metadata key(s) {absent} "
                "missing"
            )
        try:
            return cls(
                name=meta["name"],
                kind=meta["kind"] or None,
                preset=meta["preset"],
                image_size=int(meta["image_size"]),
                n_mg=int(meta["n_mg"]),
                cgcn_steps=int(meta["cgcn_steps"]),
                num_classes=int(meta["num_classes"]),
                clip_len=int(meta["clip_len"]),
                audio_seconds=float(meta["audio_seconds"]),
                sample_rate=int(meta["sample_rate"]),
                spectrogram=meta["spectrogram"],
                overrides=json.loads(meta.get("overrides") or "{}"),
                refine=json.loads(meta.get("refine") or "{}"),
                switch=meta.get("switch", "0") == "1",
                version=meta.get("scamlib_version", ""),
                extra=json.loads(meta.get("extra") or "{}"),
                path=Path(path) if path is not None else None,
            )
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{where}malformed student checkpoint metadata: {exc}") from exc

    def build(self) -> nn.Module:
        """A freshly initialised network of this kind (weights not loaded)."""
        from .models import create

        overrides = dict(self.overrides)
        if self.name == "sta+":
            overrides.setdefault("steps", self.cgcn_steps)
        model = create(self.name, self.preset, num_classes=self.num_classes, **overrides)
        if self.switch:
            switch = create("audio_switch", self.preset, num_classes=self.num_classes, **overrides)
            _sta_branch(model).switch = switch
        gcns = dict(_gcns(model))
        for name, thresholds in self.refine.items():
            if name not in gcns:
                raise ValueError(f"no C-GCN named {name!r} in a {self.name!r} network")
            gcns[name].refine = None if thresholds is None else FixationRefineLayer(*thresholds)
        return model


def _gcns(model: nn.Module) -> Iterator[tuple[str, ConservativeGCN]]:
    """``(name, module)`` of every conservative GCN inside ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, ConservativeGCN):
            yield name, module


def _refine_settings(model: nn.Module) -> dict[str, list[float] | None]:
    """The FRL thresholds ``[t_d, t_r]`` (or ``None``) of every C-GCN of ``model``."""
    return {
        name: None if gcn.refine is None else [float(gcn.refine.t_d), float(gcn.refine.t_r)]
        for name, gcn in _gcns(model)
    }


def _sta_branch(model: nn.Module) -> nn.Module:
    """The STA branch of an STA (itself) or STA+ (its ``branch``) net."""
    return model.branch if hasattr(model, "branch") else model


def _unwrap(model: nn.Module) -> nn.Module:
    """Strip DistributedDataParallel / DataParallel and ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def save_student(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    name: str,
    preset: str = "tiny",
    image_size: int,
    kind: str | None = None,
    n_mg: int = 2,
    cgcn_steps: int = 3,
    num_classes: int = 28,
    extra: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    clip_len: int = 3,
    audio_seconds: float = 1.0,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    spectrogram: str = "stft",
) -> Path:
    """Save a student network as safetensors with the metadata that rebuilds it.

    The file is written atomically (:func:`scamlib.pipeline.io.save_checkpoint`). Its metadata
    is :meth:`StudentInfo.to_metadata`: the :func:`scamlib.models.create` name, preset and
    overrides, the input size, the STA+ settings (with the fixation refine layers' thresholds,
    read from the model: they are not in its state dict), the audio front end's settings, and
    the scamlib version. DistributedDataParallel and ``torch.compile`` wrappers are removed first.

    Args:
        path: the ``.safetensors`` file to write (parent folders are created). The pipeline
            names them ``<variant>.safetensors``, which :func:`load_students` looks for.
        model: an :class:`~scamlib.models.STANet` (``name="sta"``) or
            :class:`~scamlib.models.STAPlusNet` (``name="sta+"``).
        name: ``"sta"`` or ``"sta+"``.
        preset: the preset the network was created with (``"tiny"`` or ``"paper"``).
        image_size: side of the square input the network was trained at.
        kind: ``"short"`` or ``"long"`` for STA+ (its multi-granularity frames); ``None`` for STA.
        n_mg: MG nodes ``n`` of STA+.
        cgcn_steps: C-GCN steps ``m`` of STA+ (passed to ``create`` as ``steps``).
        num_classes: ``C`` of the run (recorded; the students themselves have no classifier).
        extra: more metadata to record (values converted with ``str``), e.g. the run's seed.
        overrides: :class:`~scamlib.models.Preset` fields the network was created with.
        clip_len, audio_seconds, sample_rate, spectrogram: the dataset settings of its inputs
            (:class:`~scamlib.data.AVSaliency` defaults).

    Returns:
        The path written.

    Raises:
        ValueError: an unknown ``name`` / ``kind`` / setting, or a ``model`` that is not the
            network ``name`` says.

    Example:
        >>> import tempfile, pathlib
        >>> from scamlib.models import create
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "sta_short.safetensors"
        >>> save_student(p, create("sta+", preset="tiny"), name="sta+", kind="short",
        ...              image_size=64).name
        'sta_short.safetensors'
    """
    from . import __version__
    from .models import STANet, STAPlusNet
    from .pipeline.io import save_checkpoint  # lazy: the pipeline package imports this module

    model = _unwrap(model)
    expected = {"sta": STANet, "sta+": STAPlusNet}.get(name)
    if expected is None:
        raise ValueError(f"name must be 'sta' or 'sta+', got {name!r}")
    if type(model) is not expected:
        raise ValueError(
            f"name={name!r} expects a {expected.__name__}, got a {type(model).__name__}"
        )
    overrides = dict(overrides or {})
    switch = _sta_branch(model).switch
    if switch is not None and hasattr(switch, "hard"):
        overrides.setdefault("hard", bool(switch.hard))  # a setting, not a weight
    info = StudentInfo(
        name=name,
        kind=kind,
        preset=preset,
        image_size=image_size,
        n_mg=n_mg,
        cgcn_steps=cgcn_steps,
        num_classes=num_classes,
        clip_len=clip_len,
        audio_seconds=float(audio_seconds),
        sample_rate=sample_rate,
        spectrogram=spectrogram,
        overrides=overrides,
        refine=_refine_settings(model),
        switch=switch is not None,
        version=__version__,
        extra={str(k): str(v) for k, v in (extra or {}).items()},
    )
    json.dumps(info.overrides)  # fail early (TypeError) on overrides JSON cannot hold
    return save_checkpoint(path, model.state_dict(), info.to_metadata())


def load_student(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, StudentInfo]:
    """Rebuild a student saved by :func:`save_student`, in eval mode on ``device``.

    Returns:
        ``(model, info)``: the network with its weights, and its :class:`StudentInfo`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not a safetensors file, not a scamlib student checkpoint (names the file
            and the missing metadata key), or weights that do not fit the recorded network
            (names the missing and unexpected parameters).

    Example:
        >>> import tempfile, pathlib
        >>> load_student(pathlib.Path(tempfile.mkdtemp()) / "none.safetensors")
        Traceback (most recent call last):
        ...
        FileNotFoundError: student checkpoint not found: .../none.safetensors
    """
    from .pipeline.io import load_checkpoint  # lazy, see save_student

    path = Path(path)
    if not path.is_file():
        hint = " (it is a folder: use load_students)" if path.is_dir() else ""
        raise FileNotFoundError(f"student checkpoint not found: {path}{hint}")
    device = resolve_device(device)
    try:
        state, meta = load_checkpoint(path, "cpu")
    except Exception as exc:  # safetensors raises its own SafetensorError, OSError, ...
        raise ValueError(
            f"{path}: not a readable safetensors checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    info = StudentInfo.from_metadata(meta, path)
    model = info.build()
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path}: the weights do not fit a {info.name!r} network with preset "
            f"{info.preset!r} and overrides {info.overrides}: missing "
            f"{result.missing_keys[:5]}{'...' if len(result.missing_keys) > 5 else ''}, "
            f"unexpected {result.unexpected_keys[:5]}"
            f"{'...' if len(result.unexpected_keys) > 5 else ''}"
        )
    return model.to(device).eval(), info


def _student_files(path: Path) -> list[Path]:
    """The checkpoint files ``path`` names: itself, or ``<variant>.safetensors`` inside."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"student checkpoint (file or folder) not found: {path}")
    for folder in (path, path / "checkpoints" / "students"):
        found = [folder / f"{v}.safetensors" for v in STUDENT_VARIANTS]
        found = [f for f in found if f.is_file()]
        if found:
            return found
    present = sorted(p.name for p in path.iterdir())[:10]
    raise FileNotFoundError(
        f"no student checkpoint in {path}: expected sta.safetensors, sta_short.safetensors "
        f"and/or sta_long.safetensors in it or in {path / 'checkpoints' / 'students'} "
        f"(the pipeline's output folder); found {present}"
    )


def load_students(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> dict[str, tuple[nn.Module, StudentInfo]]:
    """Load one student or a folder of students, keyed by variant.

    Args:
        path: a ``.safetensors`` file written by :func:`save_student`; or a folder holding
            ``sta.safetensors``, ``sta_short.safetensors``, ``sta_long.safetensors`` (any
            subset); or a pipeline output folder, whose students are in
            ``checkpoints/students/``.
        device: where the networks go (``"auto"``: CUDA when available).

    Returns:
        ``{variant: (model, info)}`` in the order ``sta``, ``sta_short``, ``sta_long``.

    Raises:
        FileNotFoundError: nothing at ``path``, or a folder without student checkpoints.
        ValueError: what :func:`load_student` raises; two files of the same variant.

    Example:
        >>> import tempfile, pathlib
        >>> from scamlib.models import create
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = save_student(folder / "sta.safetensors", create("sta"), name="sta", image_size=32)
        >>> list(load_students(folder))
        ['sta']
    """
    students: dict[str, tuple[nn.Module, StudentInfo]] = {}
    for file in _student_files(Path(path)):
        model, info = load_student(file, device)
        if info.variant in students:
            raise ValueError(f"{file}: a second {info.variant!r} student in {path}")
        students[info.variant] = (model, info)
    return {v: students[v] for v in STUDENT_VARIANTS if v in students}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or ``None``): CUDA when available, else the CPU; other names as given.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def best_variant(variants: Sequence[str]) -> str:
    """The variant to show when only one is wanted: ``pf_final`` when present, else the first
    student in the order ``sta_long``, ``sta_short``, ``sta``.

    Example:
        >>> best_variant(["sta", "sta_short", "sta_long", "pf_final", "pf_agg"])
        'pf_final'
        >>> best_variant(["sta"])
        'sta'
    """
    for v in ("pf_final", "sta_long", "sta_short", "sta", "pf_agg"):
        if v in variants:
            return v
    raise ValueError(f"no known variant in {list(variants)}; expected names from {VARIANTS}")


# ----------------------------------------------------------------------------------------------
# prediction


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

    Args:
        students: ``{variant: (model, info)}`` as :func:`load_students` returns, or a path it
            accepts.
        n_mg: MG nodes per STA+ target; ``None`` takes each student's recorded ``n_mg``.
        seed: seed of the MG draws.
        batch_size: target frames per forward pass.
        device: where the networks run (``"auto"``: CUDA when available).
        progress: show a progress bar (tqdm) per video.

    The networks are moved to ``device`` and put in eval mode; prediction runs under
    ``torch.inference_mode``. Clips and spectrograms shared by neighbouring targets and their
    MG frames are computed once per batch window (a small memo, not the whole video).

    Raises:
        TypeError: an entry that is not a ``(model, StudentInfo)`` pair.
        ValueError: no students, a key that is not the student's variant, or students trained
            with different input settings (image size, clip length, audio settings).

    Example:
        >>> from scamlib.models import create
        >>> info = StudentInfo("sta", image_size=32)
        >>> p = Predictor({"sta": (create("sta").eval(), info)})
        >>> p.variants, p.dataset_kwargs["size"]
        (('sta',), 32)
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
    ) -> None:
        self.device = resolve_device(device)
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
        self.students = {
            v: (students[v][0].to(self.device).eval(), students[v][1])
            for v in STUDENT_VARIANTS
            if v in students
        }
        self.n_mg, self.seed, self.batch_size, self.progress = n_mg, int(seed), batch_size, progress
        self._settings = next(iter(settings.values()))

    # ---- what it needs and gives ----------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        """Variants :meth:`predict_video` returns: the students present, then ``pf_final`` and
        ``pf_agg`` when all three students are."""
        fused = FUSED_VARIANTS if len(self.students) == len(STUDENT_VARIANTS) else ()
        return (*self.students, *fused)

    @property
    def dataset_kwargs(self) -> dict[str, Any]:
        """Settings a dataset must be built with (``size``, ``clip_len``, audio settings)."""
        return dict(self._settings)

    @property
    def image_size(self) -> int:
        """Side of the square network input."""
        return int(self._settings["size"])

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
        size = (want["size"], want["size"])
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
            clips, audio = clips.to(self.device), audio.to(self.device)
            for variant, (model, _info) in self.students.items():
                if variant == "sta":
                    maps = model(clips, audio)
                else:
                    mg_clips, mg_audio = self._mg_inputs(mgs[variant], batch, memo)
                    maps = model(clips, audio, mg_clips.to(self.device), mg_audio.to(self.device))
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
        if len(maps) == len(STUDENT_VARIANTS):
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


def write_maps(
    maps: Mapping[str, Tensor],
    root: str | os.PathLike,
    frame_indices: Sequence[int],
    *,
    subdir: str | None = None,
) -> dict[str, Path]:
    """Write ``{variant: (N, h, w)}`` maps as 8-bit PNGs, ``img_<frame_index:05d>.png``.

    Files go to ``<root>/<variant>/<subdir>/`` (or ``<root>/<variant>/`` without ``subdir``),
    each written atomically by :func:`scamlib.pipeline.io.write_map_png` (values clipped to
    ``[0, 1]`` and scaled to ``0..255``).

    Returns:
        ``{variant: folder written}``.

    Raises:
        ValueError: a map count that differs from ``len(frame_indices)``.

    Example:
        >>> import tempfile
        >>> out = write_maps({"sta": torch.rand(2, 4, 4)}, tempfile.mkdtemp(), [1, 2])
        >>> sorted(p.name for p in out["sta"].iterdir())
        ['img_00001.png', 'img_00002.png']
    """
    from .pipeline.io import write_map_png  # lazy, see save_student

    folders = {}
    for variant, stack in maps.items():
        if len(stack) != len(frame_indices):
            raise ValueError(
                f"maps[{variant!r}] holds {len(stack)} maps for {len(frame_indices)} frame indices"
            )
        folder = Path(root) / variant
        if subdir:
            folder = folder / subdir
        for k, m in zip(frame_indices, stack):
            write_map_png(folder / f"img_{int(k):05d}.png", m)
        folders[variant] = folder
    return folders


# ----------------------------------------------------------------------------------------------
# your own video as a one-video dataset


def _safe_name(name: str) -> str:
    """A video name usable in a fold list (no white space) and as a folder name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "video"


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _frames_from_folder(folder: Path, target: Path) -> int:
    """Copy (JPEG) or convert (other formats) the images of ``folder`` to ``img_%05d.jpg``."""
    from PIL import Image

    from .data.video import frame_name

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

    from .data.audio import load_waveform

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
    """Your own video as a one-video STAViS-layout dataset, ready for :class:`Predictor`.

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
            :attr:`Predictor.dataset_kwargs`).

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
    from .data.audio import wav_duration
    from .data.video import decode_mp4

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
    (lists / f"{dataset}_list_test_fps.txt").write_text(f"{name} {nframes} {rate:.6f}\n")
    options = {"on_short_audio": "ignore" if silent else "warn", **dataset_kwargs}
    return AVSaliency(root, dataset, None, "test", annotations=False, **options)


def _audio_path(dataset: AVSaliency, video: str) -> Path:
    """``video_audio/<DB>/<video>/<video>.wav`` of a STAViS-layout dataset."""
    return Path(dataset.root) / "video_audio" / dataset.dataset / video / f"{video}.wav"


def _info_dict(info: StudentInfo) -> dict[str, Any]:
    """A JSON-able dict of a :class:`StudentInfo` (for reports)."""
    out = asdict(info)
    out["path"] = str(info.path) if info.path is not None else None
    out["variant"] = info.variant
    return out
