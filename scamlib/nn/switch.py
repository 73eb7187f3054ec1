"""The audio switch of STANet+ Sec. 3.3: a gate on the audio feature and its labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_ndim, check_tensor
from ..losses import switch_loss
from .fuse import SAFuse
from .heads import CAMHead

__all__ = ["AudioSwitch", "SwitchOutput", "switch_labels"]


class SwitchOutput(NamedTuple):
    """What :class:`AudioSwitch` returns.

    Attributes:
        gate: ``(b,)`` gate ``g`` in ``[0, 1]`` (hard 0/1 when ``hard=True``).
        logit: ``(b,)`` the switch logit (train it with :meth:`AudioSwitch.loss`).
    """

    gate: Tensor
    logit: Tensor


class AudioSwitch(nn.Module):
    """Audio switch (Sec. 3.3): a binary classifier with the SA net's structure.

    Spatial feature ``s`` and audio feature ``a`` (from the injected encoders), SA fusion
    (Eq. 5, without a gate), and a one-logit CAM-style head (1x1 conv + global average
    pooling). ``g = sigmoid(logit)`` is the gate of ``phi(a) = g a``.

    ``hard=True`` thresholds ``g`` at 0.5 with a straight-through estimator: the forward value is
    ``1[g >= 0.5]``, the gradient that of the soft ``g``. The switch is trained on its own with
    :meth:`loss` (BCE on "the audio carries the tag", labels from :func:`switch_labels`) and
    then used frozen, e.g. ``sa_net(frames, audio, gate=switch(frames, audio).gate.detach())``.

    Args:
        spatial_channels: channels ``c`` of the spatial feature.
        audio_dim: size ``d`` of the audio feature.
        visual_encoder: module ``(b, 3, H, W) -> (b, c, h, w)``; default identity (``frames``
            is then the feature itself).
        audio_encoder: module ``(b, 1, F, S) -> (b, d)``; default identity.
        hard: threshold the gate at 0.5 (straight-through).
        num_upsample: transposed convs of the SA fusion's ``DeConv``.

    Shapes: ``frames``, ``audio`` as the encoders take them -> :class:`SwitchOutput` of ``(b,)``.

    Example:
        >>> switch = AudioSwitch(4, 8)
        >>> out = switch(torch.rand(2, 4, 6, 6), torch.rand(2, 8))
        >>> out.gate.shape, bool(((out.gate >= 0) & (out.gate <= 1)).all())
        (torch.Size([2]), True)
    """

    def __init__(
        self,
        spatial_channels: int,
        audio_dim: int,
        visual_encoder: nn.Module | None = None,
        audio_encoder: nn.Module | None = None,
        hard: bool = False,
        num_upsample: int = 2,
    ) -> None:
        super().__init__()
        self.visual_encoder = visual_encoder if visual_encoder is not None else nn.Identity()
        self.audio_encoder = audio_encoder if audio_encoder is not None else nn.Identity()
        self.fuse = SAFuse(spatial_channels, audio_dim, num_upsample)
        self.head = CAMHead(2 * spatial_channels, 1)
        self.hard = hard

    def forward(self, frames: Tensor, audio: Tensor) -> SwitchOutput:
        s = self.visual_encoder(frames)
        a = self.audio_encoder(audio)
        logit = self.head(self.fuse(s, a))[0][:, 0]
        gate = torch.sigmoid(logit)
        if self.hard:
            gate = (gate >= 0.5).to(gate.dtype) + gate - gate.detach()
        return SwitchOutput(gate, logit)

    @staticmethod
    def loss(logits: Tensor, labels: Tensor) -> Tensor:
        """BCE of the switch logits against 0/1 labels; see :func:`scamlib.losses.switch_loss`."""
        return switch_loss(logits, labels)

    def extra_repr(self) -> str:
        return f"hard={self.hard}"


def switch_labels(
    audio_pred: Tensor,
    tags: Tensor,
    mapping: Mapping[int, int | None] | Tensor | None = None,
) -> Tensor:
    """Labels of the audio switch (Sec. 3.3): 1 where the audio's predicted class means the tag.

    The paper runs an off-the-shelf audio classifier (VGGSound) and labels a fragment 1 when
    its predicted category maps to the video's tag. Any classifier works: pass its predicted
    class indices and a ``mapping`` from its classes to tags (classes that correspond to no
    tag map to ``None`` / -1 or are left out). Fallback without such a classifier:
    train an audio-only tag classifier and pass its predicted tags with ``mapping=None``: the
    label is "its prediction equals the tag".

    Args:
        audio_pred: ``(b,)`` integer predicted classes of the audio classifier.
        tags: ``(b,)`` integer video tags.
        mapping: dict ``audio class -> tag or None``, or a ``(num_audio_classes,)`` integer
            tensor with -1 for "no tag"; ``None`` means the classes already are tags.

    Returns:
        ``(b,)`` float 0/1 labels.

    Raises:
        TypeError: non-integer inputs.
        ValueError: shapes differ; a predicted class outside a tensor mapping.

    Example:
        >>> switch_labels(torch.tensor([5, 7, 9]), torch.tensor([1, 1, 2]), {5: 1, 7: 2})
        tensor([1., 0., 0.])
        >>> switch_labels(torch.tensor([3, 4]), torch.tensor([3, 0]))  # audio-only fallback
        tensor([1., 0.])
    """
    for name, x in (("audio_pred", audio_pred), ("tags", tags)):
        check_tensor(x, name)
        check_ndim(x, name, 1, "(b,)")
        if x.is_floating_point() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class indices, got dtype {x.dtype}")
    if audio_pred.shape != tags.shape:
        raise ValueError(
            f"audio_pred and tags must have the same shape, got {tuple(audio_pred.shape)} "
            f"and {tuple(tags.shape)}"
        )
    if mapping is None:
        mapped = audio_pred
    elif isinstance(mapping, Tensor):
        check_ndim(mapping, "mapping", 1, "(num_audio_classes,)")
        if audio_pred.numel() and (
            int(audio_pred.min()) < 0 or int(audio_pred.max()) >= mapping.numel()
        ):
            raise ValueError(
                f"audio_pred must lie in [0, {mapping.numel()}) to index mapping, got values in "
                f"[{int(audio_pred.min())}, {int(audio_pred.max())}]"
            )
        mapped = mapping.to(audio_pred.device)[audio_pred]
    else:
        size = max([*mapping.keys(), int(audio_pred.max()) if audio_pred.numel() else 0]) + 1
        table = torch.full((size,), -1, dtype=torch.long, device=audio_pred.device)
        for audio_class, tag in mapping.items():
            if tag is not None:
                table[int(audio_class)] = int(tag)
        if audio_pred.numel() and int(audio_pred.min()) < 0:
            raise ValueError(f"audio_pred must be >= 0, got {int(audio_pred.min())}")
        mapped = table[audio_pred]
    return (mapped == tags.to(mapped.device)).float()
