"""3D ResNets for the fully supervised audio-visual baselines (DAVE, STAViS).

Two encoders live here:

* :class:`ResNet3D`: the 3D ResNet of Hara et al. (the backbone both papers cite: STAViS
  Sec. 3.1 / Table 4 and DAVE Sec. IV-A), with basic or bottleneck blocks, any widths and
  depths, and parameter names that match the Kinetics-400 checkpoints of that family
  (``conv1``, ``bn1``, ``layer1.0.conv1``, ... ``downsample.0``), so a local checkpoint loads
  into it. STAViS uses its first four blocks (3D ResNet-50); the CPU-sized presets use narrow,
  one-block versions.
* :class:`R3D18`: torchvision's ``r3d_18`` without its classifier, whose parameter names match
  torchvision's Kinetics-400 checkpoint ``r3d_18-b3b3357e.pth``.

Nothing here downloads: :func:`load_pretrained` reads a local file and, when it is absent,
raises an error that names the file to supply and the option that takes it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch  # noqa: F401  (doctests)
from torch import Tensor, nn

from .._validation import check_floating, check_ndim
from .backbones import load_weights

__all__ = ["R3D18", "ResNet3D", "check_clip", "clip_audio_adapter", "load_pretrained"]


class _Basic3D(nn.Module):
    """Two 3x3x3 convolutions with an identity (or 1x1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_ch, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_ch, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class _Bottleneck3D(nn.Module):
    """1x1x1 -> 3x3x3 (strided) -> 1x1x1 (x4 channels), STAViS Fig. 7."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_ch, planes * 4, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv3d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm3d(out_ch))


_BLOCKS = {"basic": _Basic3D, "bottleneck": _Bottleneck3D}


class ResNet3D(nn.Module):
    """3D ResNet (Hara et al.), returning the output of every block ``X^1 ... X^n``.

    ``conv1`` (``stem_kernel``, stride ``(1, 2, 2)``) + BN + ReLU gives ``X^1``; an optional
    3x3x3 max-pool with stride 2 follows; stage ``k`` (``layer<k>``) has ``blocks[k-1]`` blocks
    of width ``widths[k-1]`` (x4 for bottlenecks) and stride 1 for the first stage, 2 (in time
    and space) for the others. With ``block="bottleneck"``, ``widths=(64, 128, 256)``,
    ``blocks=(3, 4, 6)`` and ``max_pool=True`` it is STAViS Table 4 (3D ResNet-50 up to
    ``conv4``).

    Args:
        block: ``"basic"`` or ``"bottleneck"``.
        blocks: blocks per stage.
        widths: base width per stage.
        stem_channels: channels of ``conv1``.
        stem_kernel: ``(t, h, w)`` kernel of ``conv1``.
        max_pool: the max-pool after ``conv1``.

    Attributes:
        channels: output channels of ``X^1 ... X^n``.
        strides: spatial stride of each output relative to the input.

    Shapes: ``(b, 3, T, H, W)`` -> list of ``(b, channels[m], t_m, h_m, w_m)``.

    Example:
        >>> net = ResNet3D("basic", (1, 1), (8, 16), stem_channels=8)
        >>> [tuple(x.shape) for x in net(torch.rand(1, 3, 4, 32, 32))]
        [(1, 8, 4, 16, 16), (1, 8, 2, 8, 8), (1, 16, 1, 4, 4)]
        >>> net.strides
        (2, 4, 8)
    """

    def __init__(
        self,
        block: str,
        blocks: Sequence[int],
        widths: Sequence[int],
        stem_channels: int = 64,
        stem_kernel: Sequence[int] = (7, 7, 7),
        max_pool: bool = True,
    ) -> None:
        super().__init__()
        if block not in _BLOCKS:
            raise ValueError(f"block must be one of {tuple(_BLOCKS)}, got {block!r}")
        if len(blocks) != len(widths) or not blocks or min(blocks) < 1:
            raise ValueError(
                f"blocks and widths must be non-empty and of equal length with blocks >= 1, "
                f"got blocks={tuple(blocks)}, widths={tuple(widths)}"
            )
        cls = _BLOCKS[block]
        kt, kh, kw = (int(k) for k in stem_kernel)
        self.conv1 = nn.Conv3d(
            3, stem_channels, (kt, kh, kw), (1, 2, 2), (kt // 2, kh // 2, kw // 2), bias=False
        )
        self.bn1 = nn.BatchNorm3d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, 2, 1) if max_pool else nn.Identity()
        channels, strides = [stem_channels], [2]
        in_ch, stride = stem_channels, 4 if max_pool else 2
        for k, (n, w) in enumerate(zip(blocks, widths), start=1):
            step = 1 if k == 1 else 2
            layers = []
            for j in range(n):
                layers.append(cls(in_ch, w, step if j == 0 else 1))
                in_ch = w * cls.expansion
            self.add_module(f"layer{k}", nn.Sequential(*layers))
            stride *= step
            channels.append(in_ch)
            strides.append(stride)
        self.num_stages = len(blocks)
        self.channels = tuple(channels)
        self.strides = tuple(strides)

    def stem(self, x: Tensor) -> Tensor:
        """``X^1``: ``conv1`` + BN + ReLU (before the max-pool)."""
        return self.relu(self.bn1(self.conv1(x)))

    def stage(self, k: int, x: Tensor) -> Tensor:
        """Stage ``k`` (1-based) on the previous block's output (``k = 1`` max-pools first)."""
        if k == 1:
            x = self.maxpool(x)
        return getattr(self, f"layer{k}")(x)

    def forward(self, x: Tensor) -> list[Tensor]:
        check_floating(x, "clip")
        check_ndim(x, "clip", 5, "(b, 3, T, H, W)")
        outs = [self.stem(x)]
        for k in range(1, self.num_stages + 1):
            outs.append(self.stage(k, outs[-1]))
        return outs


class R3D18(nn.Module):
    """torchvision's 3D ResNet-18 (``r3d_18``) without its pooling and classifier.

    Stem: 3x7x7 conv with stride ``(1, 2, 2)`` and no max-pool, then four stages of two basic
    blocks (64, 128, 256, 512 channels; stride 2 from the second stage on). The parameter
    names are torchvision's, so ``r3d_18-b3b3357e.pth`` (Kinetics-400) loads as it is.

    Shapes: ``(b, 3, T, H, W) -> (b, 512, T/8, H/16, W/16)`` (sizes rounded up).

    Example:
        >>> R3D18()(torch.rand(1, 3, 8, 32, 32)).shape
        torch.Size([1, 512, 1, 2, 2])
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.video import r3d_18

        net = r3d_18(weights=None)
        self.stem = net.stem
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )

    def forward(self, x: Tensor) -> Tensor:
        check_floating(x, "clip")
        check_ndim(x, "clip", 5, "(b, 3, T, H, W)")
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def load_pretrained(
    module: nn.Module, path: str | os.PathLike, *, what: str, supply: str, option: str
) -> None:
    """Load a local pretrained checkpoint into ``module`` (every module key must be found).

    Args:
        module: the encoder to fill.
        path: local ``.pth`` / ``.pt`` / ``.safetensors`` file; ``module.`` / ``model.``
            prefixes and ``{"state_dict": ...}`` wrappers are accepted; keys the module does
            not have (a classifier head, deeper stages) are ignored.
        what: the part being loaded, for messages (``"DAVE video stream"``).
        supply: which checkpoint to supply, for the message when the file is absent.
        option: the config field that takes the path.

    Raises:
        FileNotFoundError: no file at ``path``; the message says what to supply and where.
        ValueError: the file lacks some of the module's keys or has other shapes.

    Example:
        >>> load_pretrained(nn.Linear(2, 2), "/no/such.pth", what="demo", supply="a file",
        ...                 option="video_weights")
        Traceback (most recent call last):
        ...
        FileNotFoundError: demo: pretrained weights not found at /no/such.pth; ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}: pretrained weights not found at {path}; supply {supply} as a local file "
            f"with {option}=<path>, or set {option}=None to train this part from scratch"
        )
    report = load_weights(module, path, strict=False)
    if report.missing:
        raise ValueError(
            f"{path} does not fit the {what}: {len(report.missing)} key(s) missing, e.g. "
            f"{report.missing[:5]} (expected {supply})"
        )


def clip_audio_adapter(model: nn.Module, batch: Any, switch: nn.Module | None = None) -> Tensor:
    """:func:`scamlib.models.run_batch` adapter of DAVE / STAViS: ``model(frames, audio)``.

    The whole ``frames`` clip ``(b, T, 3, H, W)`` and the ``audio`` the model's config asks
    for; an audio switch is ignored (these networks have none).

    Raises:
        KeyError: the batch lacks ``frames`` or ``audio`` (the message lists its keys).

    Example:
        >>> batch = {"frames": torch.ones(1), "audio": torch.ones(1)}
        >>> clip_audio_adapter(lambda f, a: f + a, batch)
        tensor([2.])
    """
    missing = [k for k in ("frames", "audio") if k not in batch]
    if missing:
        raise KeyError(f"the batch lacks {missing} (keys: {sorted(batch)})")
    return model(batch["frames"], batch["audio"])


def check_clip(clip: Tensor, audio: Tensor, clip_len: int) -> None:
    """Check the inputs of a baseline: ``clip (b, clip_len, 3, H, W)`` and a batch of audio.

    Args:
        clip: ImageNet-normalised frames; ``clip_len`` comes from the network's config.
        audio: the audio input; only its batch size is checked here.
        clip_len: frames the network was configured for.

    Returns:
        Nothing: it returns when the inputs fit and raises otherwise.

    Raises:
        TypeError: a non-float clip.
        ValueError: a clip of another layout or length (the message names ``clip_len``), or
            batch sizes that differ.

    Example:
        >>> check_clip(torch.zeros(2, 4, 3, 8, 8), torch.zeros(1, 1, 10), 4)
        Traceback (most recent call last):
        ...
        ValueError: clip has 2 samples, audio 1
    """
    check_floating(clip, "clip")
    check_ndim(clip, "clip", 5, f"(b, {clip_len}, 3, H, W)")
    if clip.shape[1] != clip_len or clip.shape[2] != 3:
        raise ValueError(
            f"clip must have shape (b, {clip_len}, 3, H, W) (config.clip_len={clip_len}), "
            f"got {tuple(clip.shape)}"
        )
    if audio.shape[0] != clip.shape[0]:
        raise ValueError(f"clip has {clip.shape[0]} samples, audio {audio.shape[0]}")
