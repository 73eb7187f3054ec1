"""The classification nets of SCAM and SCAM+: S, ST, SA (Fig. 5 A-C) and S+, ST+, SA+ (E-G).

Every net returns ``(logits (b, C), class_maps (b, C, h, w))`` (the CAMHead contract of Eq. 1),
so its output plugs into :class:`scamlib.nn.SCAM` / :class:`scamlib.nn.SCAMPlus`. Train them
with :func:`scamlib.losses.msm_loss` (Eq. 7).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from .._validation import check_floating, check_ndim
from ..nn import CAMHead, ConservativeGCN, SAFuse, STFuse
from .backbones import Backbone

__all__ = ["SANet", "SAPlusNet", "SNet", "SPlusNet", "STNet", "STPlusNet", "TemporalConv"]


def _check_frames(x: Tensor, name: str, lead: int) -> None:
    layout = {1: "(b, 3, H, W)", 2: "(b, n, 3, H, W) / (b, t, 3, H, W)", 3: "(b, n, t, 3, H, W)"}
    check_floating(x, name)
    check_ndim(x, name, lead + 3, layout[lead])
    if x.shape[-3] != 3:
        raise ValueError(f"{name} must have 3 colour channels on axis -3, got {tuple(x.shape)}")


class SNet(nn.Module):
    """S net (Fig. 5-A): 2D backbone on one frame -> :class:`~scamlib.nn.CAMHead`.

    Shapes: ``frames (b, 3, H, W) -> (logits (b, C), class_maps (b, C, h, w))``;
    :meth:`features`: ``(b, 3, H, W) -> (b, c, h, w)`` (the branch output ``s``).

    Example:
        >>> net = SNet(Backbone("resnet10t", (2,)), num_classes=5)
        >>> [t.shape for t in net(torch.rand(2, 3, 64, 64))]
        [torch.Size([2, 5]), torch.Size([2, 5, 8, 8])]
    """

    def __init__(self, backbone: Backbone, num_classes: int = 28) -> None:
        super().__init__()
        self.backbone = backbone
        self.out_channels = backbone.channels[-1]
        self.head = CAMHead(self.out_channels, num_classes)

    def features(self, frames: Tensor) -> Tensor:
        _check_frames(frames, "frames", 1)
        return self.backbone(frames)[-1]

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.features(frames))


class TemporalConv(nn.Module):
    """3D conv over the backbone features of the frames of a clip (the ``v`` of Eq. 6).

    Conv3d (kernel ``(t, 3, 3)``, no temporal padding) + BN + ReLU: 3 frames give ``t' = 1``.

    Shapes: ``(b, t, c, h, w) -> (b, c, t - t_k + 1, h, w)``.
    """

    def __init__(self, channels: int, time_kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (time_kernel, 3, 3), padding=(0, 1, 1))
        self.bn = nn.BatchNorm3d(channels)
        self.time_kernel = time_kernel

    def forward(self, feats: Tensor) -> Tensor:
        if feats.shape[1] < self.time_kernel:
            raise ValueError(
                f"the clip must have at least {self.time_kernel} frames, got {feats.shape[1]}"
            )
        return torch.relu(self.bn(self.conv(rearrange(feats, "b t c h w -> b c t h w"))))


class STNet(nn.Module):
    """ST net (Fig. 5-C): backbone on every frame of a 3-frame clip, a 3D conv over their
    features (``v``), ST Fuse (Eq. 6) with the centre frame's feature ``s``, CAMHead.

    Shapes: ``clip (b, t, 3, H, W)`` (``t = 3``, target = centre frame) ->
    ``(logits (b, C), class_maps (b, C, h, w))``; :meth:`features` -> ``(b, 2c, h, w)``.

    Example:
        >>> net = STNet(Backbone("resnet10t", (2,)), num_classes=5)
        >>> net(torch.rand(2, 3, 3, 64, 64))[1].shape
        torch.Size([2, 5, 8, 8])
    """

    def __init__(self, backbone: Backbone, num_classes: int = 28) -> None:
        super().__init__()
        self.backbone = backbone
        c = backbone.channels[-1]
        self.temporal = TemporalConv(c)
        self.fuse = STFuse(c)
        self.out_channels = 2 * c
        self.head = CAMHead(self.out_channels, num_classes)

    def features(self, clip: Tensor) -> Tensor:
        _check_frames(clip, "clip", 2)
        b, t = clip.shape[:2]
        feats = self.backbone(rearrange(clip, "b t c h w -> (b t) c h w"))[-1]
        feats = rearrange(feats, "(b t) c h w -> b t c h w", b=b)
        return self.fuse(feats[:, t // 2], self.temporal(feats))

    def forward(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.features(clip))


class SANet(nn.Module):
    """SA net (Fig. 5-B): backbone + audio encoder, SA Fuse (Eq. 5) with the audio-switch gate,
    CAMHead.

    ``gate`` (b,) in ``[0, 1]`` is the audio switch's output (``phi(a) = g a``); with
    ``gate=None`` and a ``switch`` attached, the switch computes it (without gradient, the
    switch is trained separately); with neither, ``g = 1``.

    Shapes: ``frames (b, 3, H, W)``, ``audio`` as the encoder takes it (``(b, 1, F, S)``
    spectrogram or ``(b, 1, L)`` waveform), ``gate (b,)`` -> ``(logits, class_maps)``.

    Example:
        >>> from scamlib.models.audio import SpectrogramEncoder
        >>> net = SANet(Backbone("resnet10t", (2,)), SpectrogramEncoder((8, 16)), num_classes=5)
        >>> net(torch.rand(2, 3, 64, 64), torch.rand(2, 1, 32, 20))[0].shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        backbone: Backbone,
        audio_encoder: nn.Module,
        num_classes: int = 28,
        num_upsample: int = 2,
        switch: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.audio_encoder = audio_encoder
        c = backbone.channels[-1]
        self.fuse = SAFuse(c, audio_encoder.out_dim, num_upsample)
        self.out_channels = 2 * c
        self.head = CAMHead(self.out_channels, num_classes)
        self.switch = switch

    def features(self, frames: Tensor, audio: Tensor, gate: Tensor | None = None) -> Tensor:
        _check_frames(frames, "frames", 1)
        if gate is None and self.switch is not None:
            with torch.no_grad():
                gate = self.switch(frames, audio).gate
        s = self.backbone(frames)[-1]
        return self.fuse(s, self.audio_encoder(audio), gate)

    def forward(
        self, frames: Tensor, audio: Tensor, gate: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return self.head(self.features(frames, audio, gate))


class _PlusNet(nn.Module):
    """Shared tail of S+/ST+/SA+: node features -> C-GCN -> class maps of the target.

    ``blend="maps"`` (the paper's choice, STANet+ Sec. 4: nodes are the ``C``-channel class
    maps): each node's branch feature goes through the shared 1x1 classifier conv, the C-GCN
    blends the class maps, the target's blended maps are globally average pooled to logits.
    ``blend="features"``: the C-GCN blends the branch features, then the CAMHead classifies
    the target node. The classifier is the branch's own :class:`~scamlib.nn.CAMHead`, so a
    trained S/ST/SA net initialises its "+" version.
    """

    def __init__(self, branch: nn.Module, num_classes: int, steps: int, blend: str) -> None:
        super().__init__()
        if blend not in ("maps", "features"):
            raise ValueError(f"blend must be 'maps' or 'features', got {blend!r}")
        self.branch = branch
        self.blend = blend
        if branch.head.num_classes != num_classes:
            raise ValueError(
                f"the branch classifies {branch.head.num_classes} classes, expected {num_classes}"
            )
        node_channels = num_classes if blend == "maps" else branch.out_channels
        self.gcn = ConservativeGCN(node_channels, steps=steps)

    def _tail(self, feats: Tensor, b: int) -> tuple[Tensor, Tensor]:
        """``feats ((b N), c, h, w)`` node-major within each sample -> target (logits, maps)."""
        if self.blend == "maps":
            nodes = self.branch.head.conv(feats)
        else:
            nodes = feats
        nodes = rearrange(nodes, "(b n) c h w -> b n c h w", b=b)
        target, _ = self.gcn(nodes[:, 0], nodes[:, 1:])
        if self.blend == "maps":
            return target.mean(dim=(2, 3)), target
        return self.branch.head(target)


def _join(target: Tensor, mg: Tensor, name: str) -> Tensor:
    """Stack the target (b, ...) before its MG inputs (b, n, ...) and flatten to ((b N), ...)."""
    if mg.shape[0] != target.shape[0] or mg.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"{name} must have shape (b, n, *{tuple(target.shape[1:])}) with b = "
            f"{target.shape[0]} to match the target input, got {tuple(mg.shape)}"
        )
    if mg.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one MG input, got n = 0")
    return torch.cat([target[:, None], mg], dim=1).flatten(0, 1)


class SPlusNet(_PlusNet):
    """S+ net (Fig. 5-E): the S branch on the target frame and its n MG frames, C-GCN blending.

    Shapes: ``frames (b, 3, H, W)``, ``mg_frames (b, n, 3, H, W)`` ->
    ``(logits (b, C), class_maps (b, C, h, w))`` of the target node.

    Example:
        >>> net = SPlusNet(SNet(Backbone("resnet10t", (2,)), 5), 5)
        >>> net(torch.rand(1, 3, 64, 64), torch.rand(1, 2, 3, 64, 64))[1].shape
        torch.Size([1, 5, 8, 8])
    """

    def __init__(
        self, branch: SNet, num_classes: int = 28, steps: int = 3, blend: str = "maps"
    ) -> None:
        super().__init__(branch, num_classes, steps, blend)

    def forward(self, frames: Tensor, mg_frames: Tensor) -> tuple[Tensor, Tensor]:
        _check_frames(frames, "frames", 1)
        _check_frames(mg_frames, "mg_frames", 2)
        return self._tail(self.branch.features(_join(frames, mg_frames, "mg_frames")), len(frames))


class STPlusNet(_PlusNet):
    """ST+ net (Fig. 5-G): the ST branch on the target clip and n MG clips, C-GCN blending.

    Shapes: ``clip (b, 3, 3, H, W)``, ``mg_clips (b, n, 3, 3, H, W)`` -> target
    ``(logits, class_maps)``.

    Example:
        >>> net = STPlusNet(STNet(Backbone("resnet10t", (2,)), 5), 5)
        >>> net(torch.rand(1, 3, 3, 64, 64), torch.rand(1, 2, 3, 3, 64, 64))[0].shape
        torch.Size([1, 5])
    """

    def __init__(
        self, branch: STNet, num_classes: int = 28, steps: int = 3, blend: str = "maps"
    ) -> None:
        super().__init__(branch, num_classes, steps, blend)

    def forward(self, clip: Tensor, mg_clips: Tensor) -> tuple[Tensor, Tensor]:
        _check_frames(clip, "clip", 2)
        _check_frames(mg_clips, "mg_clips", 3)
        return self._tail(self.branch.features(_join(clip, mg_clips, "mg_clips")), len(clip))


class SAPlusNet(_PlusNet):
    """SA+ net (Fig. 5-F): the SA branch on the target frame + audio and n MG frames with
    their own audio, C-GCN blending.

    Shapes: ``frames (b, 3, H, W)``, ``audio (b, 1, F, S)``, ``mg_frames (b, n, 3, H, W)``,
    ``mg_audio (b, n, 1, F, S)``, optional gates ``gate (b,)``, ``mg_gate (b, n)`` ->
    target ``(logits, class_maps)``.

    Example:
        >>> from scamlib.models.audio import SpectrogramEncoder
        >>> sa = SANet(Backbone("resnet10t", (2,)), SpectrogramEncoder((8,)), 5)
        >>> net = SAPlusNet(sa, 5)
        >>> out = net(torch.rand(1, 3, 64, 64), torch.rand(1, 1, 16, 16),
        ...           torch.rand(1, 2, 3, 64, 64), torch.rand(1, 2, 1, 16, 16))
        >>> out[1].shape
        torch.Size([1, 5, 8, 8])
    """

    def __init__(
        self, branch: SANet, num_classes: int = 28, steps: int = 3, blend: str = "maps"
    ) -> None:
        super().__init__(branch, num_classes, steps, blend)

    def forward(
        self,
        frames: Tensor,
        audio: Tensor,
        mg_frames: Tensor,
        mg_audio: Tensor,
        gate: Tensor | None = None,
        mg_gate: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        _check_frames(frames, "frames", 1)
        _check_frames(mg_frames, "mg_frames", 2)
        b = len(frames)
        all_frames = _join(frames, mg_frames, "mg_frames")
        all_audio = _join(audio, mg_audio, "mg_audio")
        if (gate is None) != (mg_gate is None):
            raise ValueError("pass both gate and mg_gate, or neither")
        all_gate = None
        if gate is not None:
            all_gate = _join(gate, mg_gate, "mg_gate")
        return self._tail(self.branch.features(all_frames, all_audio, all_gate), b)
