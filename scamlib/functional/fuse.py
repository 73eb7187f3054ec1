"""Audio-visual fusion of the classification and fixation nets: STANet+ Eqs. 5, 6 and 15.

Each fusion attends the spatial feature ``s`` with a second feature ``x`` of the same shape as
``sigmoid(x) * s + s`` (a residual attention) and then concatenates or convolves. ``x`` is the
audio feature turned into a map by a learned ``DeConv`` (Eq. 5, after the audio switch
``phi``) or the temporal feature of a 3D convolution averaged over time (Eq. 6). The learned
layers (``DeConv``, the projection of ``v``, the 1x1 convolution of Eq. 15) are passed in;
:class:`scamlib.nn.SAFuse`, :class:`scamlib.nn.STFuse` and :class:`scamlib.nn.STAFuse` hold them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_floating, check_ndim

__all__ = ["apply_gate", "sa_fuse", "st_fuse", "sta_fuse", "temporal_feature"]

Deconv = Callable[[Tensor, tuple[int, int]], Tensor]


def apply_gate(a: Tensor, gate: Tensor | None) -> Tensor:
    """The audio switch ``phi(a) = g * a`` of STANet+ Eq. 5; ``gate=None`` means ``g = 1``.

    Args:
        a: ``(b, d)`` audio feature vectors.
        gate: ``(b,)`` switch probabilities in ``[0, 1]`` (a hard switch gives 0 or 1), or
            ``None`` for no switch.

    Returns:
        ``(b, d)`` gated audio features in ``a``'s dtype; ``a`` itself when ``gate`` is None.

    Raises:
        TypeError: ``gate`` is not a floating-point tensor.
        ValueError: ``gate`` is not ``(b,)``.

    Example:
        >>> apply_gate(torch.ones(2, 3), torch.tensor([1.0, 0.0]))
        tensor([[1., 1., 1.],
                [0., 0., 0.]])
    """
    if gate is None:
        return a
    check_floating(gate, "gate")
    if gate.shape != (a.shape[0],):
        raise ValueError(f"gate must have shape ({a.shape[0]},), got {tuple(gate.shape)}")
    return a * gate.to(a.dtype)[:, None]


def _attend(s: Tensor, x: Tensor) -> Tensor:
    return torch.sigmoid(x) * s + s


def _check_spatial(s: Tensor) -> None:
    check_floating(s, "s")
    check_ndim(s, "s", 4, "(b, c, h, w)")


def _audio_map(s: Tensor, a: Tensor, deconv: Deconv, gate: Tensor | None) -> Tensor:
    check_floating(a, "a")
    check_ndim(a, "a", 2, "(b, d)")
    if a.shape[0] != s.shape[0]:
        raise ValueError(f"a must have batch size {s.shape[0]} like s, got {a.shape[0]}")
    x = deconv(apply_gate(a, gate), tuple(s.shape[-2:]))
    if x.shape != s.shape:
        raise ValueError(
            f"deconv must map the audio feature to s's shape {tuple(s.shape)}, "
            f"got {tuple(x.shape)}"
        )
    return x


def temporal_feature(
    v: Tensor, s: Tensor, proj: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """The temporal feature ``v`` of Eqs. 6 and 15 brought to ``s``'s shape.

    Averages ``v`` over time (when it has a time axis), applies ``proj`` (a learned 1x1
    convolution when ``v``'s channels differ from ``s``'s) and resizes it bilinearly
    (``align_corners=False``) to ``s``'s spatial size when they differ.

    Args:
        v: ``(b, c_v, t, h', w')`` 3D-conv feature, or ``(b, c_v, h', w')`` already over time.
        s: ``(b, c, h, w)`` the spatial feature it will attend.
        proj: ``(b, c_v, h', w') -> (b, c, h', w')``; ``None`` when ``c_v == c``.

    Returns:
        ``(b, c, h, w)``.

    Raises:
        TypeError: non-float ``v``.
        ValueError: ``v`` not 4- or 5-D, or its batch differs from ``s``'s, or (after ``proj``)
            its channels differ from ``s``'s.

    Example:
        >>> temporal_feature(torch.ones(1, 2, 3, 2, 2), torch.zeros(1, 2, 4, 4)).shape
        torch.Size([1, 2, 4, 4])
    """
    check_floating(v, "v")
    check_ndim(v, "v", (4, 5), "(b, c_v, t, h, w) or (b, c_v, h, w)")
    if v.shape[0] != s.shape[0]:
        raise ValueError(f"v must have batch size {s.shape[0]} like s, got {tuple(v.shape)}")
    if v.ndim == 5:
        v = v.mean(dim=2)
    if proj is not None:
        v = proj(v)
    if v.shape[1] != s.shape[1]:
        raise ValueError(
            f"v must have {s.shape[1]} channels like s (after the projection), got "
            f"{tuple(v.shape)}"
        )
    if v.shape[-2:] != s.shape[-2:]:
        v = F.interpolate(v, size=s.shape[-2:], mode="bilinear", align_corners=False)
    return v


def sa_fuse(s: Tensor, a: Tensor, deconv: Deconv, gate: Tensor | None = None) -> Tensor:
    """SA Fuse, STANet+ Eq. 5: ``cat[relu(sigmoid(DeConv(phi(a))) * s + s), s]``.

    ``phi(a) = g * a`` is the audio switch (:func:`apply_gate`); ``DeConv`` maps the gated
    vector to a feature of ``s``'s shape.

    Args:
        s: ``(b, c, h, w)`` spatial feature.
        a: ``(b, d)`` audio feature.
        deconv: ``(vector (b, d), (h, w)) -> (b, c, h, w)``, e.g. :class:`scamlib.nn.AudioDeconv`.
        gate: ``(b,)`` switch gate ``g``; ``None`` means no switch (``g = 1``).

    Returns:
        ``(b, 2c, h, w)``.

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that disagree (batch, or ``deconv``'s output vs ``s``).

    Example:
        >>> s = torch.ones(1, 1, 1, 2)
        >>> sa_fuse(s, torch.ones(1, 3), lambda a, size: torch.zeros(1, 1, *size))
        tensor([[[[1.5000, 1.5000]],
        <BLANKLINE>
                 [[1.0000, 1.0000]]]])
    """
    _check_spatial(s)
    attended = _attend(s, _audio_map(s, a, deconv, gate))
    return torch.cat([F.relu(attended), s], dim=1)


def st_fuse(s: Tensor, v: Tensor, proj: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """ST Fuse, STANet+ Eq. 6: ``cat[relu(sigmoid(v) * s + s), s]`` (no switch).

    ``v`` is first brought to ``s``'s shape by :func:`temporal_feature`.

    Args:
        s: ``(b, c, h, w)`` spatial feature.
        v: ``(b, c_v, t, h', w')`` or ``(b, c_v, h', w')`` temporal feature.
        proj: projection of ``v`` to ``c`` channels, or ``None`` when ``c_v == c``.

    Returns:
        ``(b, 2c, h, w)``.

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that disagree.

    Example:
        >>> st_fuse(torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 4, 1, 1)).flatten()
        tensor([1.5000, 1.0000])
    """
    _check_spatial(s)
    return torch.cat([F.relu(_attend(s, temporal_feature(v, s, proj))), s], dim=1)


def sta_fuse(
    s: Tensor,
    v: Tensor,
    a: Tensor,
    deconv: Deconv,
    weight: Tensor,
    bias: Tensor | None = None,
    gate: Tensor | None = None,
    proj: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """STA Fuse, STANet+ Eq. 15 (STANet Eq. 5):
    ``relu(conv1x1(cat[sigmoid(DeConv(phi(a))) * s + s, sigmoid(v) * s + s]))``.

    The audio branch is Eq. 5's, the temporal branch Eq. 6's (``v`` through
    :func:`temporal_feature`); ``weight`` and ``bias`` are the 1x1 convolution.

    Args:
        s: ``(b, c, h, w)`` spatial feature.
        v: ``(b, c_v, t, h', w')`` or ``(b, c_v, h', w')`` temporal feature.
        a: ``(b, d)`` audio feature.
        deconv: ``(vector (b, d), (h, w)) -> (b, c, h, w)``.
        weight: ``(c_out, 2c, 1, 1)`` weight of the 1x1 convolution.
        bias: ``(c_out,)`` or ``None``.
        gate: ``(b,)`` audio switch gate, ``None`` for no switch.
        proj: projection of ``v`` to ``c`` channels, or ``None``.

    Returns:
        ``(b, c_out, h, w)``, non-negative.

    Raises:
        TypeError: non-float inputs.
        ValueError: shapes that disagree.

    Example:
        >>> s = torch.ones(1, 1, 1, 1)
        >>> deconv = lambda a, size: torch.zeros(1, 1, *size)
        >>> sta_fuse(s, torch.zeros(1, 1, 1, 1), torch.ones(1, 2), deconv, torch.ones(1, 2, 1, 1))
        tensor([[[[3.]]]])
    """
    _check_spatial(s)
    check_floating(weight, "weight")
    check_ndim(weight, "weight", 4, "(c_out, 2c, 1, 1)")
    if weight.shape[1:] != (2 * s.shape[1], 1, 1):
        raise ValueError(
            f"weight must have shape (c_out, {2 * s.shape[1]}, 1, 1) for s with {s.shape[1]} "
            f"channels, got {tuple(weight.shape)}"
        )
    audio = _attend(s, _audio_map(s, a, deconv, gate))
    temporal = _attend(s, temporal_feature(v, s, proj))
    return F.relu(F.conv2d(torch.cat([audio, temporal], dim=1), weight, bias))
