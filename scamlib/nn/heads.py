"""Classifier head (Eq. 1), saliency decoder (Eq. 16) and read-out (Eq. 19)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import as_size, check_floating, check_ndim

__all__ = ["CAMHead", "ReadOut", "Ref", "SaliencyDecoder"]


class CAMHead(nn.Module):
    """Plain classifier of the SCAM nets: 1x1 conv to ``C`` classes, then GAP (Sec. 3.3, Eq. 1).

    The pre-pooling map is returned too: its channel ``v`` is the class-``v`` CAM of Eq. 1
    (before ReLU and min-max normalisation, which :func:`scamlib.functional.cam` applies).

    Shapes: ``(b, c_in, h, w) -> (logits (b, C), class_maps (b, C, h, w))``.

    Example:
        >>> logits, maps = CAMHead(8, 3)(torch.rand(2, 8, 4, 4))
        >>> logits.shape, maps.shape, torch.allclose(logits, maps.mean((2, 3)))
        (torch.Size([2, 3]), torch.Size([2, 3, 4, 4]), True)
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_floating(x, "x")
        check_ndim(x, "x", 4, "(b, c, h, w)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        maps = self.conv(x)
        return maps.mean(dim=(2, 3)), maps


class Ref(nn.Sequential):
    """``Ref(.)`` of Eqs. 16 and 19: a conv to a fixed channel number (32 in the paper) + ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels (paper: 32).
        kernel_size: 3 for the decoder (Eq. 16), 1 for the read-out (Eq. 19).
        act: end with BatchNorm + ReLU (``True``) or return the raw conv output.

    Example:
        >>> Ref(8, 32)(torch.rand(2, 8, 5, 5)).shape
        torch.Size([2, 32, 5, 5])
    """

    def __init__(
        self, in_channels: int, out_channels: int = 32, kernel_size: int = 3, act: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        ]
        if act:
            layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class SaliencyDecoder(nn.Module):
    """Decoder of the STA net, STANet+ Eq. 16.

    ``out = up(Ref(Ref(F3) (+) up(Ref(Ref(F4) (+) up(Ref(Ref(F5) (+) sta))))))`` with ``(+)``
    channel concatenation and ``up`` bilinear upsampling to the next side output's size (the
    last one to the output size); a final 1x1 conv gives one logit channel. ``sta`` is resized
    to ``F5``'s size first when they differ.

    Args:
        in_channels: channels of ``sta``.
        side_channels: channels of ``(F3, F4, F5)`` (shallow to deep).
        width: the fixed channel number of ``Ref`` (paper: 32).

    Shapes: ``sta (b, c, h, w)``, sides ``[(b, c3, h3, w3), (b, c4, h4, w4), (b, c5, h5, w5)]``,
    ``size (H, W)`` -> logits ``(b, 1, H, W)`` (apply a sigmoid for the map).

    Example:
        >>> dec = SaliencyDecoder(16, (4, 8, 16))
        >>> sides = [torch.rand(2, 4, 8, 8), torch.rand(2, 8, 4, 4), torch.rand(2, 16, 2, 2)]
        >>> dec(torch.rand(2, 16, 2, 2), sides, (32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, in_channels: int, side_channels: Sequence[int], width: int = 32) -> None:
        super().__init__()
        if len(side_channels) < 1:
            raise ValueError("side_channels must name at least one side output")
        self.side_channels = tuple(side_channels)
        self.side_refs = nn.ModuleList(Ref(c, width) for c in self.side_channels)
        fuse_in = [width + width] * len(self.side_channels)
        fuse_in[-1] = width + in_channels  # the deepest stage concatenates sta itself
        self.fuse_refs = nn.ModuleList(Ref(c, width) for c in fuse_in)
        self.out = nn.Conv2d(width, 1, kernel_size=1)

    def forward(self, sta: Tensor, sides: Sequence[Tensor], size: int | tuple[int, int]) -> Tensor:
        check_floating(sta, "sta")
        check_ndim(sta, "sta", 4, "(b, c, h, w)")
        size = as_size(size)
        if len(sides) != len(self.side_channels):
            raise ValueError(
                f"sides must hold {len(self.side_channels)} feature maps, got {len(sides)}"
            )
        x = sta
        for k in reversed(range(len(sides))):
            side = sides[k]
            if side.shape[1] != self.side_channels[k]:
                raise ValueError(
                    f"sides[{k}] must have {self.side_channels[k]} channels, got {side.shape[1]}"
                )
            if x.shape[-2:] != side.shape[-2:]:
                x = F.interpolate(x, size=side.shape[-2:], mode="bilinear", align_corners=False)
            x = self.fuse_refs[k](torch.cat([self.side_refs[k](side), x], dim=1))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.out(x)


class ReadOut(nn.Module):
    """Read-out of the STA+ net, STANet+ Eq. 19: ``RO(h) = Ref_1(up(Ref_32(h (+) S)))``.

    ``Ref_32`` is a 1x1 conv (+ BN + ReLU) to ``width`` channels, ``up`` bilinear upsampling to
    the output size and ``Ref_1`` a 1x1 conv to one logit channel. ``S`` is the spatial feature
    of the node's middle frame (resized to ``h``'s size when it differs).

    Shapes: ``h (b, c, h, w)``, ``s (b, c_s, h', w')``, ``size (H, W)`` -> logits ``(b, 1, H, W)``.

    Example:
        >>> ReadOut(28, 16)(torch.rand(2, 28, 4, 4), torch.rand(2, 16, 4, 4), 16).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(self, node_channels: int, spatial_channels: int, width: int = 32) -> None:
        super().__init__()
        self.node_channels = node_channels
        self.spatial_channels = spatial_channels
        self.ref = Ref(node_channels + spatial_channels, width, kernel_size=1)
        self.out = nn.Conv2d(width, 1, kernel_size=1)

    def forward(self, h: Tensor, s: Tensor, size: int | tuple[int, int]) -> Tensor:
        check_floating(h, "h")
        check_ndim(h, "h", 4, "(b, c, h, w)")
        check_floating(s, "s")
        check_ndim(s, "s", 4, "(b, c_s, h, w)")
        if h.shape[1] != self.node_channels or s.shape[1] != self.spatial_channels:
            raise ValueError(
                f"h and s must have {self.node_channels} and {self.spatial_channels} channels, "
                f"got {h.shape[1]} and {s.shape[1]}"
            )
        if s.shape[-2:] != h.shape[-2:]:
            s = F.interpolate(s, size=h.shape[-2:], mode="bilinear", align_corners=False)
        x = self.ref(torch.cat([h, s], dim=1))
        x = F.interpolate(x, size=as_size(size), mode="bilinear", align_corners=False)
        return self.out(x)
