"""Configuration of the STANet+ pipeline: frozen dataclasses, two profiles, JSON round trip.

``quick`` runs the whole method on the built-in generated set on a 2-core CPU in minutes (tiny
backbones, small images, few epochs). ``paper`` uses the settings STANet+ reports (Sec. 6.1):
256 px coarse / 356 px fine inputs, batch sizes 20 / 3 / 16 / 3, SGD with learning rate 5e-5
for the student nets, m = 3 reasoning steps, n = 2 multi-granularity nodes, T_d = 0.8,
T_r = 0.6. Where the paper states no value (epochs, the classifiers' learning rates), the
``paper`` profile's choice is marked "not stated in the paper" below.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from scamlib._validation import check_required_keys
from scamlib.baselines import BASELINES

__all__ = [
    "DEFAULT_DATASETS",
    "FULL_MODELS",
    "DataConfig",
    "PipelineConfig",
    "TrainConfig",
    "check_config",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "profile",
]

#: The networks the harness can train fully supervised on the ground truth of the STAViS train
#: lists (``--full-models``): the STA student, DAVE and STAViS.
FULL_MODELS: tuple[str, ...] = ("sta", "dave", "stavis")

#: The six STAViS-layout eye-tracking test sets STANet+ reports on (Tables 2-3).
DEFAULT_DATASETS: tuple[str, ...] = (
    "AVAD",
    "Coutrot_db1",
    "Coutrot_db2",
    "DIEM",
    "ETMD_av",
    "SumMe",
)


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained.

    Attributes:
        epochs: passes over the training items.
        batch_size: samples per step (per process under torchrun).
        lr: learning rate.
        optimizer: ``"sgd"`` (momentum) or ``"adam"``.
        momentum: SGD momentum.
        weight_decay: L2 penalty.
        image_size: side of the square network input in pixels.
        max_steps_per_epoch: cap on steps per epoch (``None``: the whole epoch).
    """

    epochs: int = 1
    batch_size: int = 8
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    image_size: int = 64
    max_steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        for name in ("epochs", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from.

    Attributes:
        ave_root: folder holding ``AVE_Dataset/`` (or the AVE folder itself); ``None`` with
            ``avsal_root`` also ``None`` generates the built-in set into the output folder.
        avsal_root: folder holding ``video_frames/``, ``video_audio/``, ``annotations/`` and
            ``fold_lists/`` (the STAViS layout).
        datasets: STAViS-layout dataset names to predict and evaluate.
        fps: frame rate at which AVE videos are sampled (frame ``k`` is at ``(k-1)/fps``).
        synthetic: keyword arguments of :class:`scamlib.data.synthetic.SyntheticConfig` for the
            built-in set.
    """

    ave_root: str | None = None
    avsal_root: str | None = None
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    fps: float = 8.0
    synthetic: dict[str, Any] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        """True when the pipeline runs on the generated set."""
        return self.ave_root is None and self.avsal_root is None


def _known_names(value: Any, known: tuple[str, ...], setting: str) -> tuple[str, ...]:
    """A setting that lists names out of ``known`` (or ``"none"``), as a tuple.

    Example:
        >>> _known_names(["b", "a"], ("a", "b"), "x"), _known_names("none", ("a",), "x")
        (('b', 'a'), ())
    """
    names = (value,) if isinstance(value, str) else tuple(value)
    names = () if names == ("none",) else names
    if any(n not in known for n in names) or len(set(names)) != len(names):
        raise ValueError(
            f"{setting} must be distinct names out of {known} (or 'none' alone), got {list(names)}"
        )
    return names


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting of one pipeline run (written to ``config.json`` beside its outputs).

    Attributes:
        profile: ``"quick"`` or ``"paper"`` (the profile this config started from).
        seed: seed of every random choice (data order, MG sampling, initialisation).
        preset: model preset for :func:`scamlib.models.create` (``"tiny"``, ``"mobilenet"`` or
            ``"paper"``).
        pretrained: backbone weights: False, True (timm's cache, or torchvision's MobileNetV2
            file for ``preset="mobilenet"``) or a local file.
        amp: mixed precision on CUDA (training, and bf16 prediction).
        num_workers: DataLoader workers per process.
        clip_frames: frames per ST clip (3 in the papers).
        coarse / fine / switch / mg / student: training settings per stage (``student``: the
            STA net).
        student_plus: training of the STA+ nets, which start from the trained STA net's
            weights.
        lam: ``lambda`` of Eqs. 2 and 8.
        box_factor: coarse-box threshold as a multiple of the mean (Sec. 3.2: 2).
        n_mg: multi-granularity nodes per C-GCN (n = 2).
        cgcn_steps: reasoning steps m (3).
        t_d / t_r: FRL thresholds (Eqs. 13-14: 0.8 / 0.6).
        smooth: temporal smoothing + sparsification of the pseudo-ground truth (STANet+ Sec. 5).
        smooth_window / sparsify_factor: its parameters (5 frames, 3 x mean).
        eval_splits: s-AUC splits of the evaluation (100 as the MIT code).
        map_side: longest side of the grid the pseudo-maps are fused on (the PNGs are written
            at the frame's size); bounds the work files of long, large-frame datasets.
        quality_stride: score every ``k``-th training frame when the pseudo-fixations are
            compared with a ground truth (the built-in set), to bound that stage's time.
        baselines: the CAM-family baselines (:data:`scamlib.baselines.BASELINES`) whose
            pseudo-fixations are written beside CAM_S / SCAM / SCAM+ (the comparison of
            STANet+ Table 7); empty (or ``("none",)``) for none. Every name but ``"centre"``
            needs the pytorch-grad-cam library (``pip install "scamlib[baselines]"``).
        ablation_students: train the STA student once per pseudo-fixation source (each
            baseline, CAM_S, SCAM coarse, SCAM fine, SCAM+; Tables 1 and 7) and evaluate it.
        full_models: networks of :data:`FULL_MODELS` trained fully supervised, one per fold,
            on the ground-truth maps of the STAViS-layout train lists (the way STAViS trains),
            and scored beside the weak students (STANet+ Table 7); empty (or ``("none",)``)
            for none.
        keep_weights: keep the weights of the ablation students and the fully supervised
            networks once their test sets are predicted (about 1.1 GB each at the ``paper``
            preset). With ``False`` each file is deleted after its predictions are written;
            predictions, scores and the other stages' weights stay, and a resumed run does not
            train those networks again.
        full: training of the fully supervised networks (``image_size``: the STA net's input;
            DAVE and STAViS take the input size of their own config).
        data: :class:`DataConfig`.
    """

    profile: str = "quick"
    seed: int = 0
    preset: str = "tiny"
    pretrained: bool | str = False
    amp: bool = False
    num_workers: int = 0
    clip_frames: int = 3
    coarse: TrainConfig = TrainConfig()
    fine: TrainConfig = TrainConfig()
    switch: TrainConfig = TrainConfig()
    mg: TrainConfig = TrainConfig()
    student: TrainConfig = TrainConfig()
    student_plus: TrainConfig = TrainConfig()
    lam: float = 1e-4
    box_factor: float = 2.0
    n_mg: int = 2
    cgcn_steps: int = 3
    t_d: float = 0.8
    t_r: float = 0.6
    smooth: bool = True
    smooth_window: int = 5
    sparsify_factor: float = 3.0
    eval_splits: int = 100
    map_side: int = 128
    quality_stride: int = 1
    baselines: tuple[str, ...] = BASELINES
    ablation_students: bool = False
    full_models: tuple[str, ...] = ("sta",)
    keep_weights: bool = True
    full: TrainConfig = TrainConfig()
    data: DataConfig = DataConfig()

    def __post_init__(self) -> None:
        if self.profile not in ("quick", "paper"):
            raise ValueError(f"profile must be 'quick' or 'paper', got {self.profile!r}")
        if self.clip_frames < 1 or self.clip_frames % 2 == 0:
            raise ValueError(f"clip_frames must be a positive odd number, got {self.clip_frames}")
        if self.n_mg < 1:
            raise ValueError(f"n_mg must be >= 1, got {self.n_mg}")
        # a JSON list comes back as a tuple; ("none",) as ()
        for setting, known in (("baselines", BASELINES), ("full_models", FULL_MODELS)):
            object.__setattr__(self, setting, _known_names(getattr(self, setting), known, setting))

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with some fields changed (nested configs take dicts of changes too)."""
        updates = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if is_dataclass(current) and isinstance(value, dict):
                value = replace(current, **value)
            updates[name] = value
        return replace(self, **updates)


def profile(name: str, **changes: Any) -> PipelineConfig:
    """The ``quick`` or ``paper`` configuration, with optional changes.

    Example:
        >>> profile("paper").fine.image_size, profile("paper").coarse.batch_size
        (356, 20)
        >>> profile("quick", seed=3).seed
        3
    """
    if name == "quick":
        # Sized for a 2-core CPU in ~12 minutes on the built-in set. The "+" nets start from the
        # trained coarse nets and the STA+ nets from the trained STA net, so they are fine-tuned
        # for a bounded number of steps rather than trained from scratch.
        base = PipelineConfig(
            profile="quick",
            preset="tiny",
            coarse=TrainConfig(epochs=3, batch_size=16, lr=2e-3, image_size=64),
            fine=TrainConfig(epochs=2, batch_size=16, lr=2e-3, image_size=64),
            switch=TrainConfig(epochs=2, batch_size=16, lr=2e-3, image_size=64),
            mg=TrainConfig(epochs=1, batch_size=8, lr=1e-3, image_size=64, max_steps_per_epoch=20),
            student=TrainConfig(
                epochs=3, batch_size=8, lr=2e-3, image_size=64, max_steps_per_epoch=30
            ),
            student_plus=TrainConfig(
                epochs=2, batch_size=4, lr=2e-3, image_size=64, max_steps_per_epoch=30
            ),
            eval_splits=20,
            quality_stride=2,
            full=TrainConfig(
                epochs=3, batch_size=8, lr=2e-3, image_size=64, max_steps_per_epoch=30
            ),
        )
    elif name == "paper":
        # Sec. 6.1. Epochs and the classifiers' learning rate are not stated in the paper.
        sgd = {"optimizer": "sgd", "momentum": 0.9}
        base = PipelineConfig(
            profile="paper",
            preset="paper",
            pretrained=True,
            amp=True,
            num_workers=8,
            coarse=TrainConfig(epochs=10, batch_size=20, lr=1e-3, image_size=256, **sgd),
            fine=TrainConfig(epochs=10, batch_size=3, lr=1e-3, image_size=356, **sgd),
            switch=TrainConfig(epochs=5, batch_size=20, lr=1e-3, image_size=256, **sgd),
            mg=TrainConfig(epochs=5, batch_size=16, lr=1e-3, image_size=256, **sgd),
            student=TrainConfig(epochs=5, batch_size=3, lr=5e-5, image_size=356, **sgd),
            student_plus=TrainConfig(epochs=5, batch_size=3, lr=5e-5, image_size=356, **sgd),
            ablation_students=True,
            full=TrainConfig(epochs=5, batch_size=3, lr=5e-5, image_size=356, **sgd),
        )
    else:
        raise ValueError(f"profile must be 'quick' or 'paper', got {name!r}")
    return base.replace(**changes) if changes else base


def config_to_dict(cfg: Any) -> Any:
    """Plain JSON-able structure of a (nested) config dataclass."""
    if is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in fields(cfg)}
    if isinstance(cfg, tuple):
        return list(cfg)
    return cfg


T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass from :func:`config_to_dict` output; unknown keys are errors."""
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif name == "datasets" and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


#: Settings every ``config.json`` written by a run holds; a file without them is not one.
_RUN_CONFIG_KEYS = ("profile", "seed", "preset", "data")


def load_config(path: str | Path) -> PipelineConfig:
    """Read a ``config.json`` written by a run.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not valid JSON, or not a scamlib run configuration (for example
            ``{}``, or a config of another tool); the message names the file and what is
            missing or unknown.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "config.json"
        >>> _ = path.write_text("{}")
        >>> load_config(path)
        Traceback (most recent call last):
        ...
        ValueError: ...config.json is not a scamlib run configuration: it lacks required keys: ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"run configuration not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(
            f"{path} is not a scamlib run configuration: expected a JSON object of settings, "
            f"found {type(data).__name__}"
        )
    check_required_keys(data, _RUN_CONFIG_KEYS, f"{path} is not a scamlib run configuration")
    try:
        return config_from_dict(PipelineConfig, data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid scamlib run configuration: {exc}") from exc


def check_config(cfg: PipelineConfig) -> PipelineConfig:
    """Check that the settings of a run agree with each other, before any stage runs.

    Single settings are checked where they are defined; this checks the pairs that only fail
    late, many stages in:

    * on the built-in set, ``data.synthetic`` must be valid settings of the generated set, and
      its frame rate must equal ``data.fps``: the set's ground truth (pseudo-fixation quality)
      is stored per generated frame, and AVE frame ``k`` is sampled at ``(k - 1) / fps``;
    * ``student_plus.image_size`` must equal ``student.image_size`` (the STA+ nets start from
      the STA net's weights and predict through one checkpoint format);
    * the thresholds of the fixation refine layer (Eqs. 13-14) lie in ``[0, 1]``;
    * on real data, at least one test set is named;
    * CAM baselines (every name of ``baselines`` but ``"centre"``) need the pytorch-grad-cam
      library installed.

    Returns:
        ``cfg`` unchanged.

    Raises:
        ValueError: the message names both settings and their values.
        ImportError: CAM baselines requested without pytorch-grad-cam (the message says what
            to install).

    Example:
        >>> check_config(profile("quick")).profile
        'quick'
        >>> check_config(profile("quick", data={"synthetic": {"fps": 4}}))
        Traceback (most recent call last):
        ...
        ValueError: data.synthetic fps = 4 disagrees with data.fps = 8.0: ...
    """
    data = cfg.data
    if data.builtin:
        from scamlib.data.synthetic import SyntheticConfig

        if not isinstance(data.synthetic, dict):
            raise ValueError(
                f"data.synthetic must be a JSON object of generated-set settings, got "
                f"{data.synthetic!r}"
            )
        try:
            world = SyntheticConfig(**data.synthetic)
        except TypeError as exc:
            raise ValueError(f"data.synthetic: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"data.synthetic: {exc}") from exc
        if float(world.fps) != float(data.fps):
            raise ValueError(
                f"data.synthetic fps = {world.fps} disagrees with data.fps = {data.fps}: the "
                "built-in set is generated at data.synthetic's fps and its frames are sampled at "
                "data.fps, so its ground truth would not match the sampled frames; set both to "
                "the same value"
            )
    elif not data.datasets:
        raise ValueError("data.datasets is empty: name at least one STAViS-layout test set")
    if cfg.student_plus.image_size != cfg.student.image_size:
        raise ValueError(
            f"student_plus.image_size = {cfg.student_plus.image_size} disagrees with "
            f"student.image_size = {cfg.student.image_size}: the STA+ nets start from the STA "
            "net's weights at the same input size; set both to the same value"
        )
    for name in ("t_d", "t_r"):
        value = getattr(cfg, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1] (Eqs. 13-14), got {value}")
    cams = [name for name in cfg.baselines if name != "centre"]
    if cams:
        try:
            import pytorch_grad_cam  # noqa: F401
        except ImportError as err:
            raise ImportError(
                f"baselines {cams} need the pytorch-grad-cam library (import name "
                "'pytorch_grad_cam'), which is not installed; install it with "
                'pip install "scamlib[baselines]", or run with --baselines centre (or none)'
            ) from err
    return cfg
