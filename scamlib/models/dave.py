"""DAVE (Tavakoli et al., "DAVE: A Deep Audio-Visual Embedding for Dynamic Saliency
Prediction"): a fully supervised audio-visual saliency baseline.

Two 3D ResNet-18 streams (DAVE Sec. IV, Fig. 3): one on 16 RGB frames, one on a log-mel
spectrogram arranged as 16 frames of ``64 x 64`` and replicated to 3 channels
(Sec. IV-A.2). Their features are concatenated and a 2D decoder (Sec. IV-A.4) turns them into
the saliency map. Build it with :func:`build` (``"paper"`` or ``"tiny"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from .._validation import check_finite, check_floating, check_ndim
from ._presets import ConfigJSON, build_preset
from ._presets import build_from_model_config as _build_from_model_config
from .batch import register_batch_adapter
from .video_backbones import R3D18, ResNet3D, check_clip, clip_audio_adapter, load_pretrained

__all__ = [
    "DAVE",
    "PRESETS",
    "DAVEConfig",
    "arrange_audio_frames",
    "build",
    "build_from_model_config",
]

_KINETICS_R3D18 = (
    "torchvision's Kinetics-400 3D ResNet-18 checkpoint (r3d_18-b3b3357e.pth, the file behind "
    "torchvision.models.video.R3D_18_Weights.KINETICS400_V1)"
)


@dataclass(frozen=True)
class DAVEConfig(ConfigJSON):
    """Configuration of :class:`DAVE`; everything a caller needs to feed it is here.

    Attributes:
        clip_len: frames per clip ``F`` (16, DAVE Sec. IV-A.1); the map is the centre frame's.
        input_size: ``(H, W)`` the frames are resized to (``256 x 320`` in the paper).
        audio: audio front end the caller computes: ``"mel"``, a log-mel spectrogram
            ``(b, 1, n_mels, S)`` of the window (scamlib.data's ``spectrogram="mel"``).
        sample_rate: audio sample rate (16 kHz, Sec. IV-A.2).
        audio_seconds: length of the audio window centred on the target frame. 1.24 s gives
            125 spectrogram steps (10 ms hop), so the 16 audio frames of 64 steps start 4 steps
            (one video frame at 25 fps) apart.
        n_mels: mel bands (64).
        audio_frame_steps: spectrogram steps per audio frame (64).
        backbone: ``"r3d_18"`` (torchvision's 3D ResNet-18, the paper) or ``"resnet3d"``
            (a :class:`~scamlib.models.video_backbones.ResNet3D` of ``widths`` / ``blocks``).
        widths: stage widths of the ``"resnet3d"`` backbone.
        blocks: blocks per stage of the ``"resnet3d"`` backbone.
        video_weights: local Kinetics-400 checkpoint for the video stream (``None``: scratch).
        audio_weights: local checkpoint for the audio stream (``None``: scratch). The paper
            starts it from Kinetics-400 weights re-trained on Speech Commands.
    """

    clip_len: int = 16
    input_size: tuple[int, int] = (256, 320)
    audio: str = "mel"
    sample_rate: int = 16_000
    audio_seconds: float = 1.24
    n_mels: int = 64
    audio_frame_steps: int = 64
    backbone: str = "r3d_18"
    widths: tuple[int, ...] = (64, 128, 256, 512)
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    video_weights: str | None = None
    audio_weights: str | None = None

#: ``"paper"``: DAVE Sec. IV-A (two torchvision 3D ResNet-18 streams, 16 x 256 x 320 input).
#: ``"tiny"``: 8 frames at 64 x 80, one-block 3D ResNets of widths 8-64 (CPU-sized; scratch).
PRESETS: dict[str, DAVEConfig] = {
    "paper": DAVEConfig(),
    "tiny": DAVEConfig(
        clip_len=8,
        input_size=(64, 80),
        audio_seconds=0.92,
        backbone="resnet3d",
        widths=(8, 16, 32, 64),
        blocks=(1, 1, 1, 1),
    ),
}


def arrange_audio_frames(spec: Tensor, num_frames: int, steps: int) -> Tensor:
    """Cut a log-mel spectrogram into ``num_frames`` overlapping frames (DAVE Sec. IV-A.2).

    Frame ``j`` covers steps ``[s_j, s_j + steps)`` with the starts ``s_j`` evenly spaced
    from 0 to ``S - steps`` (rounded), so the frames span the whole window and overlap when
    ``S < num_frames * steps``.

    Args:
        spec: ``(b, 1, n_mels, S)`` log-mel spectrogram.
        num_frames: frames ``F`` to cut (16 in the paper).
        steps: steps per frame (64 in the paper).

    Returns:
        ``(b, F, n_mels, steps)``.

    Raises:
        ValueError: ``spec`` is not ``(b, 1, n_mels, S)`` or ``S < steps`` (the message says
        how long the window must be).

    Example:
        >>> spec = torch.arange(10.0).expand(1, 1, 2, 10)
        >>> arrange_audio_frames(spec, 3, 4)[0, :, 0]
        tensor([[0., 1., 2., 3.],
                [3., 4., 5., 6.],
                [6., 7., 8., 9.]])
    """
    check_floating(spec, "audio")
    check_ndim(spec, "audio", 4, "(b, 1, n_mels, S)")
    if spec.shape[1] != 1:
        raise ValueError(f"audio must have shape (b, 1, n_mels, S), got {tuple(spec.shape)}")
    total = spec.shape[-1]
    if total < steps:
        raise ValueError(
            f"audio has {total} spectrogram steps, fewer than one audio frame of {steps}: "
            "lengthen the audio window (audio_seconds) or lower audio_frame_steps"
        )
    starts = torch.linspace(0, total - steps, num_frames, device=spec.device).round().long()
    windows = spec[:, 0].unfold(-1, steps, 1)  # (b, n_mels, S - steps + 1, steps)
    return rearrange(windows[:, :, starts], "b f t s -> b t f s")


class _Stream(nn.Module):
    """One 3D-CNN stream: ``(b, 3, T, H, W) -> (b, C, h, w)`` (time averaged)."""

    def __init__(self, cfg: DAVEConfig) -> None:
        super().__init__()
        if cfg.backbone == "r3d_18":
            self.net: nn.Module = R3D18()
            self.out_channels = R3D18.out_channels
        elif cfg.backbone == "resnet3d":
            self.net = ResNet3D("basic", cfg.blocks, cfg.widths, cfg.widths[0], (3, 7, 7), False)
            self.out_channels = self.net.channels[-1]
        else:
            raise ValueError(f"backbone must be 'r3d_18' or 'resnet3d', got {cfg.backbone!r}")

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        out = out[-1] if isinstance(out, list) else out
        # torchvision's R3D-18 leaves T/8 steps (Hara's ResNet with its max-pool leaves 1).
        return out.mean(dim=2)


def _up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class DAVE(nn.Module):
    """DAVE audio-visual saliency network (DAVE Sec. IV, Eq. 1 ``S = f(I, A)``, Fig. 3).

    * video stream: 3D ResNet on the clip ``(b, 3, F, H, W)`` (Sec. IV-A.1);
    * audio stream: 3D ResNet on the spectrogram cut into ``F`` frames of
      ``n_mels x audio_frame_steps`` (:func:`arrange_audio_frames`) and replicated to 3
      channels (Sec. IV-A.2-3), globally pooled and tiled to the video features' size
      (Sec. VI-B);
    * decoder (Sec. IV-A.4): concatenation, 1x1 conv halving the channels + ReLU, two blocks
      of 2x bilinear up-sampling + 3x3 conv + BN + ReLU (the first halves the channels, the
      second divides them by 4), and a final 1x1 conv to one map.

    The map is resized (bilinear) to the input size and passed through a sigmoid, as the
    STA student's output, so the same losses and metrics apply; DAVE's KL objective (Eq. 2)
    normalises the map to a distribution, which :func:`scamlib.losses.kl_loss` does.

    Shapes: ``clip (b, F, 3, H, W)`` (ImageNet-normalised frames, target = centre frame),
    ``audio (b, 1, n_mels, S)`` log-mel -> ``(b, H, W)`` in ``(0, 1)``.

    Example:
        >>> net = build("tiny")
        >>> net(torch.rand(1, 8, 3, 64, 80), torch.rand(1, 1, 64, 93)).shape
        torch.Size([1, 64, 80])
    """

    def __init__(self, config: DAVEConfig) -> None:
        super().__init__()
        if config.audio != "mel":
            raise ValueError(f"DAVE's audio front end is 'mel', got audio={config.audio!r}")
        if config.clip_len < 1 or config.audio_frame_steps < 1 or config.n_mels < 1:
            raise ValueError(
                "clip_len, n_mels and audio_frame_steps must be positive, got "
                f"{config.clip_len}, {config.n_mels}, {config.audio_frame_steps}"
            )
        self.arch = config
        self.video = _Stream(config)
        self.audio = _Stream(config)
        c = self.video.out_channels + self.audio.out_channels
        self.decoder = nn.Sequential(
            nn.Conv2d(c, c // 2, 1),
            nn.ReLU(inplace=True),
            _up_block(c // 2, c // 4),
            _up_block(c // 4, c // 16),
            nn.Conv2d(c // 16, 1, 1),
        )
        which = config.backbone == "r3d_18"
        for stream, path, name in (
            (self.video, config.video_weights, "video_weights"),
            (self.audio, config.audio_weights, "audio_weights"),
        ):
            if path is not None:
                if not which:
                    raise ValueError(f"{name} needs backbone='r3d_18', got {config.backbone!r}")
                load_pretrained(
                    stream.net,
                    path,
                    what=f"DAVE {name.split('_')[0]} stream",
                    supply=_KINETICS_R3D18,
                    option=name,
                )

    def logits(self, clip: Tensor, audio: Tensor) -> Tensor:
        """Decoder output before resizing and sigmoid: ``(b, 1, h, w)`` (``H/4 x W/4``)."""
        cfg = self.arch
        check_finite(audio, "audio")
        if audio.ndim != 4 or audio.shape[2] != cfg.n_mels:
            raise ValueError(
                f"audio must be a log-mel spectrogram (b, 1, {cfg.n_mels}, S) (config.n_mels), "
                f"got {tuple(audio.shape)}"
            )
        check_clip(clip, audio, cfg.clip_len)
        v = self.video(rearrange(clip, "b t c h w -> b c t h w"))
        frames = arrange_audio_frames(audio, cfg.clip_len, cfg.audio_frame_steps)
        a = self.audio(repeat(frames, "b t f s -> b c t f s", c=3)).mean(dim=(-2, -1))
        a = repeat(a, "b c -> b c h w", h=v.shape[-2], w=v.shape[-1])
        return self.decoder(torch.cat([v, a], dim=1))

    def forward(self, clip: Tensor, audio: Tensor) -> Tensor:
        out = F.interpolate(
            self.logits(clip, audio), size=clip.shape[-2:], mode="bilinear", align_corners=False
        )
        return torch.sigmoid(out[:, 0])


register_batch_adapter(DAVE, clip_audio_adapter)


def build(preset: str = "tiny", **overrides) -> DAVE:
    """Build :class:`DAVE` from a preset of :data:`PRESETS` and :class:`DAVEConfig` field
    overrides (lists become tuples), e.g. ``video_weights="r3d_18.pth"``; the config is at
    ``net.config``.

    Raises:
        ValueError: a preset other than ``"paper"`` / ``"tiny"``, an unknown field, or stream
            weights without ``backbone="r3d_18"``.
        FileNotFoundError: a ``video_weights`` / ``audio_weights`` file that does not exist
            (the message names torchvision's Kinetics-400 R3D-18 file to supply).

    Example:
        >>> build("tiny", clip_len=4).config.clip_len
        4
    """
    return build_preset(DAVE, PRESETS, "DAVE", preset, overrides)


def build_from_model_config(config: Any, pretrained: bool | str | os.PathLike = False) -> DAVE:
    """The ``"dave"`` builder of :func:`scamlib.models.create`: ``config.arch`` when it is a
    :class:`DAVEConfig`, else the preset ``config.preset``; ``pretrained`` is ``False`` or the
    local torchvision R3D-18 file of the video stream (nothing is downloaded, so ``True``
    raises ``ValueError``, as does an unknown preset).

    Example:
        >>> from types import SimpleNamespace
        >>> build_from_model_config(SimpleNamespace(preset="tiny", arch=None)).arch.clip_len
        8
    """
    return _build_from_model_config(DAVE, PRESETS, "DAVE", config, pretrained)
