"""The student fixation-prediction nets: STA (Fig. 12-D, Eqs. 15-16) and STA+ (Fig. 12-H,
Eqs. 18-19). Train them on pseudo-fixations with :func:`scamlib.losses.bce_kl_loss` (Eq. 17)
and :func:`scamlib.losses.sta_plus_loss` (Eq. 20)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn

from ..nn import ConservativeGCN, ReadOut, SaliencyDecoder, STAFuse
from .backbones import Backbone
from .classifiers import TemporalConv, _check_frames, _join

__all__ = ["STAFeatures", "STANet", "STAPlusNet"]


class STAFeatures(NamedTuple):
    """Intermediate features of the STA branch: ``sta`` (Eq. 15), the centre frame's spatial
    feature ``s`` and the encoder side outputs ``sides`` = (F3, F4, F5) of the centre frame."""

    sta: Tensor
    s: Tensor
    sides: list[Tensor]


class STANet(nn.Module):
    """STA net (Sec. 5.1): encoder on the 3 frames, 3D conv (``v``), audio encoder (``a``),
    STA Fuse (Eq. 15) and the 3-stage decoder with side outputs F3, F4, F5 (Eq. 16).

    The encoder must return (at least) three levels; the last three are F3, F4, F5 and the
    deepest one is also ``s``. The output is ``sigmoid`` of the decoder at the input size.
    ``decoder=False`` builds the branch only (:meth:`features`), as STA+ uses it.

    Shapes: ``clip (b, 3, 3, H, W)`` (target = centre frame), ``audio`` as the encoder takes it,
    ``gate (b,)`` or None -> ``(b, H, W)`` fixation map in ``(0, 1)``.

    Example:
        >>> from scamlib.models.audio import SpectrogramEncoder
        >>> net = STANet(Backbone("resnet10t", (2, 3, 4)), SpectrogramEncoder((8,)))
        >>> net(torch.rand(1, 3, 3, 64, 64), torch.rand(1, 1, 16, 16)).shape
        torch.Size([1, 64, 64])
    """

    def __init__(
        self,
        backbone: Backbone,
        audio_encoder: nn.Module,
        num_upsample: int = 1,
        width: int = 32,
        switch: nn.Module | None = None,
        decoder: bool = True,
    ) -> None:
        super().__init__()
        if len(backbone.channels) < 3:
            raise ValueError(
                f"the STA encoder must return 3 levels (F3, F4, F5), got {backbone.channels}"
            )
        self.backbone = backbone
        self.audio_encoder = audio_encoder
        c = backbone.channels[-1]
        self.out_channels = c
        self.temporal = TemporalConv(c)
        self.fuse = STAFuse(c, audio_encoder.out_dim, num_upsample=num_upsample)
        self.decoder: SaliencyDecoder | None = (
            SaliencyDecoder(c, backbone.channels[-3:], width) if decoder else None
        )
        self.switch = switch

    def features(self, clip: Tensor, audio: Tensor, gate: Tensor | None = None) -> STAFeatures:
        _check_frames(clip, "clip", 2)
        b, t = clip.shape[:2]
        levels = self.backbone(rearrange(clip, "b t c h w -> (b t) c h w"))
        levels = [rearrange(x, "(b t) c h w -> b t c h w", b=b) for x in levels[-3:]]
        s = levels[-1][:, t // 2]
        if gate is None and self.switch is not None:
            with torch.no_grad():
                gate = self.switch(clip[:, t // 2], audio).gate
        sta = self.fuse(s, self.temporal(levels[-1]), self.audio_encoder(audio), gate)
        return STAFeatures(sta, s, [x[:, t // 2] for x in levels])

    def forward(self, clip: Tensor, audio: Tensor, gate: Tensor | None = None) -> Tensor:
        if self.decoder is None:
            raise RuntimeError("this STA branch was built without a decoder (decoder=False)")
        feats = self.features(clip, audio, gate)
        out = self.decoder(feats.sta, feats.sides, clip.shape[-2:])
        return torch.sigmoid(out[:, 0])


class STAPlusNet(nn.Module):
    """STA+ net (Sec. 5.2): STA branches (shared weights) on the target fragment and its n MG
    fragments (short- or long-term), a C-GCN over the ``n + 1`` nodes (Eq. 18) and a
    read-out per node (Eq. 19).

    Nodes: each branch's ``sta`` feature reduced by a 1x1 conv to ``node_channels`` (28 in the
    paper). Read-out: ``RO(h) = Ref_1(up(Ref_32(h (+) S)))``; the paper's ``S`` is the target's
    middle-frame spatial feature, scamlib gives each node its own fragment's ``S`` (each node
    is supervised with its own frame's pseudo-fixation in Eq. 20). The branch's Eq. 16
    decoder is unused here (the read-out replaces it) and is removed from ``branch``; load a
    trained STA net's weights before wrapping it, or with ``strict=False``.

    Shapes: ``clip (b, 3, 3, H, W)``, ``audio (b, 1, F, S)``, ``mg_clips (b, n, 3, 3, H, W)``,
    ``mg_audio (b, n, 1, F, S)`` -> ``(b, n + 1, H, W)`` maps in ``(0, 1)``, node 0 the target.

    Example:
        >>> from scamlib.models.audio import SpectrogramEncoder
        >>> sta = STANet(Backbone("resnet10t", (2, 3, 4)), SpectrogramEncoder((8,)))
        >>> net = STAPlusNet(sta, node_channels=6)
        >>> net(torch.rand(1, 3, 3, 64, 64), torch.rand(1, 1, 16, 16),
        ...     torch.rand(1, 2, 3, 3, 64, 64), torch.rand(1, 2, 1, 16, 16)).shape
        torch.Size([1, 3, 64, 64])
    """

    def __init__(
        self, branch: STANet, node_channels: int = 28, steps: int = 3, width: int = 32
    ) -> None:
        super().__init__()
        branch.decoder = None
        self.branch = branch
        self.reduce = nn.Conv2d(branch.out_channels, node_channels, kernel_size=1)
        self.gcn = ConservativeGCN(node_channels, steps=steps)
        self.readout = ReadOut(node_channels, branch.out_channels, width)

    def forward(
        self,
        clip: Tensor,
        audio: Tensor,
        mg_clips: Tensor,
        mg_audio: Tensor,
        gate: Tensor | None = None,
        mg_gate: Tensor | None = None,
    ) -> Tensor:
        _check_frames(clip, "clip", 2)
        _check_frames(mg_clips, "mg_clips", 3)
        b = len(clip)
        if (gate is None) != (mg_gate is None):
            raise ValueError("pass both gate and mg_gate, or neither")
        all_gate = None if gate is None else _join(gate, mg_gate, "mg_gate")
        feats = self.branch.features(
            _join(clip, mg_clips, "mg_clips"), _join(audio, mg_audio, "mg_audio"), all_gate
        )
        nodes = rearrange(self.reduce(feats.sta), "(b n) c h w -> b n c h w", b=b)
        target, mg = self.gcn(nodes[:, 0], nodes[:, 1:])
        blended = torch.cat([target[:, None], mg], dim=1).flatten(0, 1)
        maps = self.readout(blended, feats.s, clip.shape[-2:])
        return torch.sigmoid(rearrange(maps, "(b n) 1 h w -> b n h w", b=b))
