"""Fusion modules of the classification and fixation nets: STANet+ Eqs. 5, 6 and 15.

Each module holds the learned layers of its equation (the audio ``DeConv``, the projection of
the temporal feature, the 1x1 convolution of Eq. 15); its ``forward`` is one call to the op of
``scamlib.functional.fuse``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_floating, check_ndim
from ..functional import fuse as FF
from ..functional.fuse import apply_gate

__all__ = ["AudioDeconv", "SAFuse", "STAFuse", "STFuse", "apply_gate"]


class AudioDeconv(nn.Module):
    """``DeConv`` of Eq. 5: transposed convolutions from an audio vector to a feature map.

    The vector ``(b, d)`` is read as a ``1 x 1`` map; a first ``4 x 4`` transposed conv gives a
    ``4 x 4`` map, each further stride-2 transposed conv doubles it, so ``num_upsample = k``
    layers give ``2^(k+1)``; the result is resized bilinearly to the requested ``(h, w)``
    (skipped when it already matches). The last layer outputs ``out_channels``.

    Args:
        in_dim: ``d``, audio feature size.
        out_channels: channels of the spatial feature to match.
        num_upsample: number of transposed convs (>= 1); 3 gives 32 x 32 (paper, 256 px input).
        hidden: channels of the intermediate layers (default ``out_channels``).

    Shapes: ``(b, d), (h, w) -> (b, out_channels, h, w)``.

    Example:
        >>> AudioDeconv(8, 4, num_upsample=2)(torch.rand(2, 8), (5, 7)).shape
        torch.Size([2, 4, 5, 7])
    """

    def __init__(
        self, in_dim: int, out_channels: int, num_upsample: int = 2, hidden: int | None = None
    ) -> None:
        super().__init__()
        if num_upsample < 1:
            raise ValueError(f"num_upsample must be >= 1, got {num_upsample}")
        hidden = hidden or out_channels
        widths = [in_dim] + [hidden] * (num_upsample - 1) + [out_channels]
        layers: list[nn.Module] = []
        for k in range(num_upsample):
            if k == 0:
                layers.append(nn.ConvTranspose2d(widths[0], widths[1], kernel_size=4))
            else:
                layers.append(nn.ConvTranspose2d(widths[k], widths[k + 1], 4, stride=2, padding=1))
            if k < num_upsample - 1:
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)
        self.in_dim = in_dim

    def forward(self, a: Tensor, size: tuple[int, int]) -> Tensor:
        check_floating(a, "a")
        check_ndim(a, "a", 2, "(b, d)")
        if a.shape[1] != self.in_dim:
            raise ValueError(f"a must have {self.in_dim} features, got {a.shape[1]}")
        x = self.layers(a[:, :, None, None])
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return x


def _check_spatial(s: Tensor, channels: int) -> None:
    check_floating(s, "s")
    check_ndim(s, "s", 4, "(b, c, h, w)")
    if s.shape[1] != channels:
        raise ValueError(f"s must have {channels} channels, got {s.shape[1]}")


class SAFuse(nn.Module):
    """SA Fuse, STANet+ Eq. 5: ``sa = cat[relu(sigmoid(DeConv(phi(a))) * s + s), s]``.

    ``phi(a) = g * a`` with ``g`` the audio-switch gate (``None``: no switch, ``g = 1``).

    Args:
        spatial_channels: ``c`` of the spatial feature ``s``.
        audio_dim: ``d`` of the audio feature ``a``.
        num_upsample: transposed convs of :class:`AudioDeconv` (then resized to ``s``'s size).

    Shapes: ``s (b, c, h, w)``, ``a (b, d)``, ``gate (b,)`` -> ``(b, 2c, h, w)``.

    Example:
        >>> fuse = SAFuse(4, 8)
        >>> fuse(torch.rand(2, 4, 6, 6), torch.rand(2, 8), torch.tensor([1.0, 0.0])).shape
        torch.Size([2, 8, 6, 6])
    """

    def __init__(self, spatial_channels: int, audio_dim: int, num_upsample: int = 2) -> None:
        super().__init__()
        self.spatial_channels = spatial_channels
        self.deconv = AudioDeconv(audio_dim, spatial_channels, num_upsample)

    def forward(self, s: Tensor, a: Tensor, gate: Tensor | None = None) -> Tensor:
        _check_spatial(s, self.spatial_channels)
        return FF.sa_fuse(s, a, self.deconv, gate)


class STFuse(nn.Module):
    """ST Fuse, STANet+ Eq. 6: ``st = cat[relu(sigmoid(v) * s + s), s]`` (no switch).

    ``v`` is the 3D-conv temporal feature ``(b, c_v, t', h, w)``, averaged over time; or a
    feature already of ``s``'s shape. When ``temporal_channels`` differs from
    ``spatial_channels`` a 1x1 conv projects ``v`` to ``c`` channels; otherwise the module is
    parameter-free.

    Args:
        spatial_channels: ``c`` of ``s``.
        temporal_channels: ``c_v`` of ``v`` (default ``spatial_channels``).

    Shapes: ``s (b, c, h, w)``, ``v (b, c_v, t', h, w)`` or ``(b, c_v, h, w)`` -> ``(b, 2c, h, w)``.

    Example:
        >>> STFuse(4)(torch.rand(2, 4, 6, 6), torch.rand(2, 4, 1, 6, 6)).shape
        torch.Size([2, 8, 6, 6])
    """

    def __init__(self, spatial_channels: int, temporal_channels: int | None = None) -> None:
        super().__init__()
        self.spatial_channels = spatial_channels
        temporal_channels = temporal_channels or spatial_channels
        self.temporal_channels = temporal_channels
        self.proj = (
            nn.Conv2d(temporal_channels, spatial_channels, 1)
            if temporal_channels != spatial_channels
            else None
        )

    def temporal(self, v: Tensor, s: Tensor) -> Tensor:
        """Reduce ``v`` to ``s``'s shape: mean over time, projection, bilinear resize.

        See :func:`scamlib.functional.fuse.temporal_feature`.
        """
        self._check_temporal(v, s)
        return FF.temporal_feature(v, s, self.proj)

    def _check_temporal(self, v: Tensor, s: Tensor) -> None:
        check_floating(v, "v")
        check_ndim(v, "v", (4, 5), "(b, c_v, t, h, w) or (b, c_v, h, w)")
        if v.shape[0] != s.shape[0] or v.shape[1] != self.temporal_channels:
            raise ValueError(
                f"v must have batch {s.shape[0]} and {self.temporal_channels} channels, "
                f"got {tuple(v.shape)}"
            )

    def forward(self, s: Tensor, v: Tensor) -> Tensor:
        _check_spatial(s, self.spatial_channels)
        self._check_temporal(v, s)
        return FF.st_fuse(s, v, self.proj)


class STAFuse(nn.Module):
    """STA Fuse, STANet+ Eq. 15:
    ``sta = relu(conv1x1(cat[sigmoid(DeConv(phi(a))) * s + s, sigmoid(v) * s + s]))``.

    The audio branch is Eq. 5's (``DeConv`` maps the gated vector to ``s``'s shape), the
    temporal branch Eq. 6's (``v`` reduced over time as in :class:`STFuse`).

    Args:
        spatial_channels: ``c`` of ``s`` (also the output channels).
        audio_dim: ``d`` of ``a``.
        temporal_channels: ``c_v`` of ``v`` (default ``c``).
        num_upsample: transposed convs of the audio ``DeConv``.

    Shapes: ``s (b, c, h, w)``, ``v (b, c_v, t', h, w)`` or ``(b, c_v, h, w)``, ``a (b, d)``,
    ``gate (b,)`` -> ``(b, c, h, w)``.

    Example:
        >>> fuse = STAFuse(4, 8)
        >>> fuse(torch.rand(2, 4, 6, 6), torch.rand(2, 4, 1, 6, 6), torch.rand(2, 8)).shape
        torch.Size([2, 4, 6, 6])
    """

    def __init__(
        self,
        spatial_channels: int,
        audio_dim: int,
        temporal_channels: int | None = None,
        num_upsample: int = 2,
    ) -> None:
        super().__init__()
        self.spatial_channels = spatial_channels
        self.deconv = AudioDeconv(audio_dim, spatial_channels, num_upsample)
        self.st = STFuse(spatial_channels, temporal_channels)
        self.conv = nn.Conv2d(2 * spatial_channels, spatial_channels, kernel_size=1)

    def forward(self, s: Tensor, v: Tensor, a: Tensor, gate: Tensor | None = None) -> Tensor:
        _check_spatial(s, self.spatial_channels)
        self.st._check_temporal(v, s)
        return FF.sta_fuse(
            s, v, a, self.deconv, self.conv.weight, self.conv.bias, gate, proj=self.st.proj
        )
