"""Student checkpoints: a safetensors file that rebuilds its network without any other input.

:func:`save_student` writes a student's weights together with everything needed to rebuild it:
its :class:`~scamlib.models.ModelConfig` (network, preset, C-GCN steps, fixation refine
thresholds of STANet+ Eqs. 13-14, audio switch) and the settings of its inputs (size, clip,
audio front end, multi-granularity nodes). :func:`load_student` / :func:`load_students` rebuild
it with :func:`~scamlib.models.create_from_config`; nothing is patched after the build.
Checkpoints written before the config was recorded are read through their older metadata keys.

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
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._device import resolve_device
from .._fs import load_checkpoint, save_checkpoint
from .._validation import check_required_keys
from .._version import __version__
from ..nn import ConservativeGCN
from .batch import unwrap
from .factory import PRESETS, ModelConfig, _override, create_from_config
from .saliency import STANet, STAPlusNet
from .supervised import FULL_NETWORKS, build_full, full_settings
from .variants import STUDENT_VARIANTS

__all__ = [
    "STUDENT_FORMAT",
    "StudentInfo",
    "load_student",
    "load_students",
    "save_student",
    "student_info_dict",
]

#: Value of the ``format`` metadata key that marks a scamlib student checkpoint.
STUDENT_FORMAT = "scamlib.student/1"
#: Audio sample rate of the spectrogram front end by default; the same value as
#: :data:`scamlib.data.audio.DEFAULT_SAMPLE_RATE` (models do not import the data layer).
DEFAULT_SAMPLE_RATE = 16_000

_KINDS = ("short", "long")
# metadata keys every student checkpoint must hold (the others are optional)
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

_INT_KEYS = ("image_size", "n_mg", "cgcn_steps", "num_classes", "clip_len", "sample_rate")
_PARSED_AS = {int: "an integer", float: "a number", json.loads: "JSON"}


@dataclass(frozen=True)
class StudentInfo:
    """What a student checkpoint records about its network and its inputs.

    Attributes:
        name: ``"sta"`` or ``"sta+"`` (the :func:`scamlib.models.create` name), or a fully
            supervised network: ``"dave"`` or ``"stavis"`` (:mod:`scamlib.models.supervised`).
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
        spectrogram: ``"stft"``, ``"mel"`` (see :func:`scamlib.data.log_spectrogram`) or
            ``"waveform"`` (the raw window, STAViS).
        overrides: :class:`~scamlib.models.Preset` fields that differ from ``preset``.
        refine: the fixation refine layer of every C-GCN of the network (Eqs. 13-14), by
            module name: ``[t_d, t_r]``, or ``None`` for a C-GCN built without one. Its
            thresholds are settings, not weights, so the state dict does not hold them.
        switch: the STA branch carries an audio switch (:class:`~scamlib.nn.AudioSwitch`).
        version: the scamlib version that wrote the checkpoint.
        extra: free-form string metadata given to :func:`save_student`.
        path: the file it was read from (``None`` before saving).
        config: the network's complete :class:`~scamlib.models.ModelConfig` (``None`` in
            checkpoints written before it was recorded: :attr:`model_config` then derives it
            from ``preset``, ``overrides``, ``cgcn_steps``, ``refine`` and ``switch``).
        arch: DAVE / STAViS: the fields of the network's own config (``net.arch``), which
            rebuild it and give its input size; empty for the students.
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
    config: ModelConfig | None = None
    arch: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ("sta", "sta+", *FULL_NETWORKS):
            names = ("sta", "sta+", *FULL_NETWORKS)
            raise ValueError(f"name must be one of {names}, got {self.name!r}")
        if self.name != "sta+" and self.kind is not None:
            raise ValueError(f"kind is only for 'sta+' students, got kind={self.kind!r}")
        if self.name == "sta+" and self.kind not in _KINDS:
            raise ValueError(f"an 'sta+' student needs kind 'short' or 'long', got {self.kind!r}")
        for key in _INT_KEYS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if not self.audio_seconds > 0:
            raise ValueError(f"audio_seconds must be positive, got {self.audio_seconds!r}")
        if self.spectrogram not in ("stft", "mel", "waveform"):
            raise ValueError(
                f"spectrogram must be 'stft', 'mel' or 'waveform', got {self.spectrogram!r}"
            )
        if self.config is not None and self.config.name != self.name:
            raise ValueError(
                f"the model config builds a {self.config.name!r} network, not {self.name!r}"
            )

    @property
    def variant(self) -> str:
        """``"sta"``, ``"sta_short"`` or ``"sta_long"``.

        Example:
            >>> StudentInfo("sta+", 64, kind="long").variant
            'sta_long'
        """
        return self.name if self.kind is None else f"sta_{self.kind}"

    @property
    def dataset_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that build a dataset with this student's inputs.

        For :class:`~scamlib.data.AVSaliency` or :class:`~scamlib.data.AVE`: the frame ``size``
        and the clip / audio settings the student was trained with (DAVE / STAViS: the
        ``(H, W)`` of their config).

        Example:
            >>> StudentInfo("sta", 64).dataset_kwargs["size"]
            64
        """
        return {
            "size": tuple(self.arch["input_size"]) if self.arch else self.image_size,
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
        if self.config is not None:
            meta["model_config"] = json.dumps(self.config.to_dict(), sort_keys=True)
        if self.arch:
            meta["arch"] = json.dumps(self.arch, sort_keys=True)
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
            found = "lacks the key 'format'" if fmt is None else f"has 'format' = {fmt!r}"
            raise ValueError(
                f"{where}not a scamlib student checkpoint: its metadata {found}, expected "
                f"{STUDENT_FORMAT!r} (found keys {sorted(meta)}); save students with "
                "scamlib.models.save_student"
            )
        if fmt != STUDENT_FORMAT:
            raise ValueError(
                f"{where}student checkpoint format {fmt!r} is not supported by this scamlib "
                f"(expected {STUDENT_FORMAT!r})"
            )
        check_required_keys(
            meta, _REQUIRED, f"{where}not a complete scamlib student checkpoint", "metadata keys"
        )
        def parsed(key: str, parse: Any, default: str | None = None) -> Any:
            text = meta.get(key) or default
            try:
                return parse(text)
            except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
                raise ValueError(
                    f"{where}malformed student checkpoint metadata: {key!r} must be "
                    f"{_PARSED_AS.get(parse, 'valid')}, found {text!r} ({exc})"
                ) from exc

        config = parsed("model_config", json.loads, "null")
        values = {k: parsed(k, int) for k in _INT_KEYS}
        values |= {k: parsed(k, json.loads, "{}") for k in ("overrides", "refine", "extra", "arch")}
        try:
            return cls(
                name=meta["name"],
                kind=meta["kind"] or None,
                preset=meta["preset"],
                audio_seconds=parsed("audio_seconds", float),
                spectrogram=meta["spectrogram"],
                **values,
                switch=meta.get("switch", "0") == "1",
                version=meta.get("scamlib_version", ""),
                path=Path(path) if path is not None else None,
                config=ModelConfig.from_dict(config) if config else None,
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}malformed student checkpoint metadata: {exc}") from exc

    @property
    def model_config(self) -> ModelConfig:
        """The :class:`~scamlib.models.ModelConfig` that rebuilds the network.

        :attr:`config` when recorded; for older checkpoints, the one their ``preset``,
        ``overrides``, ``cgcn_steps``, ``refine`` thresholds and ``switch`` describe.

        Raises:
            ValueError: an unknown preset or override, or C-GCNs with different thresholds.

        Example:
            >>> info = StudentInfo("sta+", 64, kind="long", cgcn_steps=2, refine={"gcn": None})
            >>> cfg = info.model_config
            >>> cfg.arch.steps, cfg.arch.refine
            (2, False)
        """
        if self.config is not None:
            return self.config
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {self.preset!r}")
        overrides = dict(self.overrides)
        if self.name == "sta+":
            overrides.setdefault("steps", self.cgcn_steps)
        thresholds = {None if t is None else tuple(t) for t in self.refine.values()}
        if len(thresholds) > 1:
            raise ValueError(
                f"the C-GCNs of this checkpoint have different refine settings {self.refine}; "
                "one network config holds one pair (t_d, t_r)"
            )
        if thresholds == {None}:
            overrides["refine"] = False
        elif thresholds:
            t_d, t_r = next(iter(thresholds))
            overrides.update(refine=True, t_d=float(t_d), t_r=float(t_r))
        if self.switch:
            overrides["switch"] = True
        arch = _override(PRESETS[self.preset], overrides, where="checkpoint override")
        return ModelConfig(self.name, self.preset, self.num_classes, arch)

    def build(self) -> nn.Module:
        """A freshly initialised network of this kind (weights not loaded), built completely
        from :attr:`model_config`.

        Example:
            >>> StudentInfo("sta", 32).build().config.name
            'sta'
        """
        if self.name in FULL_NETWORKS:
            return build_full(self.name, self.preset, self.num_classes, self.arch)
        return create_from_config(self.model_config)


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


def _live_config(model: nn.Module, config: ModelConfig) -> ModelConfig:
    """``config`` brought in line with the settings the modules of ``model`` hold now.

    C-GCN steps, fixation refine thresholds and the audio switch are settings, not weights:
    a network whose modules were changed after it was built is saved as it is. The audio
    weights file is dropped (the state dict holds those weights).
    """
    arch = replace(config.arch, audio_weights=None)
    gcns = [gcn for _name, gcn in _gcns(model)]
    if gcns:
        gcn = gcns[0]
        arch = replace(arch, steps=int(gcn.steps), refine=gcn.refine is not None)
        if gcn.refine is not None:
            arch = replace(arch, t_d=float(gcn.refine.t_d), t_r=float(gcn.refine.t_r))
    switch = getattr(_sta_branch(model), "switch", None)
    arch = replace(arch, switch=switch is not None)
    if switch is not None and hasattr(switch, "hard"):
        arch = replace(arch, hard=bool(switch.hard))
    return replace(config, arch=arch)


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

    The file is written atomically (:func:`scamlib._fs.save_checkpoint`). Its metadata is
    :meth:`StudentInfo.to_metadata`: the network's :class:`~scamlib.models.ModelConfig` (the
    one :func:`~scamlib.models.create` stamped on it, brought in line with the C-GCN steps,
    fixation refine thresholds and audio switch its modules hold: those are settings, not
    weights), the input size, the multi-granularity and audio front-end settings, and the
    scamlib version. DistributedDataParallel and ``torch.compile`` wrappers are removed first.
    A network built without :func:`~scamlib.models.create` gets its config from ``preset``,
    ``overrides``, ``cgcn_steps`` and ``num_classes``.

    Args:
        path: the ``.safetensors`` file to write (parent folders are created). The pipeline
            names them ``<variant>.safetensors``, which :func:`load_students` looks for.
        model: an :class:`~scamlib.models.STANet` (``name="sta"``) or
            :class:`~scamlib.models.STAPlusNet` (``name="sta+"``), or a DAVE / STAViS network
            (``name="dave"`` / ``"stavis"``): its input settings (size, clip, audio front
            end) and preset then come from its own config and the arguments are not used.
        name: ``"sta"``, ``"sta+"``, ``"dave"`` or ``"stavis"``.
        preset: the preset the network was created with (``"tiny"`` or ``"paper"``).
        image_size: side of the square input the network was trained at.
        kind: ``"short"`` or ``"long"`` for STA+ (its multi-granularity frames); ``None`` for STA.
        n_mg: MG nodes ``n`` of STA+.
        cgcn_steps: C-GCN steps ``m`` of STA+ (passed to ``create`` as ``steps``).
        num_classes: ``C`` of the run (recorded; the students themselves have no classifier).
        extra: more metadata to record (values converted with ``str``), e.g. the run's seed.
        overrides: :class:`~scamlib.models.Preset` fields the network was created with
            (recorded as given; the network's own ``config`` is what rebuilds it).
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
    model = unwrap(model)
    if name in FULL_NETWORKS:  # input settings from the network's own config
        extras = {str(k): str(v) for k, v in (extra or {}).items()}
        settings = full_settings(model, name, num_classes)
        info = StudentInfo(name=name, version=__version__, extra=extras, **settings)
        return save_checkpoint(path, model.state_dict(), info.to_metadata())
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
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig) or config.name != name:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        legacy = {**overrides, "steps": cgcn_steps} if name == "sta+" else overrides
        arch = _override(PRESETS[preset], legacy)
        config = ModelConfig(name, preset, num_classes, arch)
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
        config=_live_config(model, config),
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
    path = Path(path)
    if not path.is_file():
        hint = " (it is a folder: use load_students)" if path.is_dir() else ""
        raise FileNotFoundError(f"student checkpoint not found: {path}{hint}")
    device = resolve_device(device)
    state, meta = load_checkpoint(path, "cpu")  # ValueError naming the file if unreadable
    info = StudentInfo.from_metadata(meta, path)
    try:
        model = info.build()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: the recorded network cannot be built: {exc}") from exc
    _check_weights(path, model, state)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path}: the weights do not fit a {info.name!r} network with preset "
            f"{info.model_config.preset!r} and overrides {info.model_config.overrides}: missing "
            f"{result.missing_keys[:5]}{'...' if len(result.missing_keys) > 5 else ''}, "
            f"unexpected {result.unexpected_keys[:5]}"
            f"{'...' if len(result.unexpected_keys) > 5 else ''}"
        )
    return model.to(device).eval(), info


def _check_weights(path: Path, model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights of another shape than the network's, or holding NaN/Inf."""
    own = model.state_dict()
    for key, value in state.items():
        if key in own and value.shape != own[key].shape:
            found, expected = tuple(value.shape), tuple(own[key].shape)
            raise ValueError(f"{path}: weight {key!r} has shape {found}, expected {expected}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{path}: weight {key!r} holds NaN/Inf values; expected finite")


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
    order = [*STUDENT_VARIANTS, *sorted(set(students) - set(STUDENT_VARIANTS))]
    return {v: students[v] for v in order if v in students}


def student_info_dict(info: StudentInfo) -> dict[str, Any]:
    """A JSON-able dict of a :class:`StudentInfo` (for reports), with its ``variant``.

    Example:
        >>> student_info_dict(StudentInfo("sta", 32))["variant"]
        'sta'
    """
    out = asdict(info)
    out["path"] = str(info.path) if info.path is not None else None
    out["variant"] = info.variant
    out["config"] = info.model_config.to_dict()
    return out
