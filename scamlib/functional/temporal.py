"""Temporal smoothing and sparsification of pseudo-fixations (original STANet release).

The original STANet release smooths the Z-normalised pseudo-fixations of a video over time
before the student nets are trained on them, then keeps only the strong responses. The pipeline
applies both by default; each is a pure op here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from .._validation import check_finite, check_floating, check_ndim, check_real, check_tensor

__all__ = ["sparsify", "temporal_smooth"]


def temporal_smooth(maps: Tensor, window: int = 5, valid: Tensor | None = None) -> Tensor:
    """Centred moving average of per-frame maps over time (original STANet release).

    Frame ``t`` becomes the mean of frames ``t - r .. t + r`` (``r = window // 2``) that exist:
    at the ends of the video the average is taken over the frames inside it only (no zero
    padding, no wrap-around).

    Args:
        maps: ``(t, h, w)`` maps of one video, or ``(b, t, h, w)`` for ``b`` videos.
        window: odd number of frames (default 5); 1 returns the input unchanged (``valid`` is
            then ignored: no frame is averaged with another).
        valid: optional ``(t,)`` or ``(b, t)`` bool mask of the frames that have a map (e.g.
            SCAM's ``valid``): the others are treated like frames outside the video, so they
            neither enter their neighbours' averages nor dilute them. A frame with no valid
            frame in its window becomes 0.

    Returns:
        Smoothed maps, same shape and dtype. Empty input (``b``, ``t``, ``h`` or ``w`` = 0)
        comes back as an empty tensor of the same shape.

    Raises:
        TypeError: non-float maps.
        ValueError: wrong shape, NaN/Inf, ``window`` not a positive odd int.

    Example:
        >>> temporal_smooth(torch.tensor([0.0, 3.0, 0.0, 0.0]).view(4, 1, 1), window=3).flatten()
        tensor([1.5000, 1.0000, 1.0000, 0.0000])
        >>> ok = torch.tensor([True, True, False, True])
        >>> temporal_smooth(torch.tensor([0.0, 3.0, 9.0, 0.0]).view(4, 1, 1), 3, ok).flatten()
        tensor([1.5000, 1.5000, 1.5000, 0.0000])
    """
    check_floating(maps, "maps")
    check_ndim(maps, "maps", (3, 4), "(t, h, w) or (b, t, h, w)")
    check_finite(maps, "maps")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd int (a centred window), got {window!r}")
    batched = maps if maps.ndim == 4 else maps[None]
    if valid is not None:
        check_tensor(valid, "valid")
        if valid.dtype != torch.bool or tuple(valid.shape) != tuple(maps.shape[:-2]):
            raise ValueError(
                f"valid must be a bool tensor of shape {tuple(maps.shape[:-2])}, got "
                f"{valid.dtype} {tuple(valid.shape)}"
            )
    if window == 1:
        return maps
    if maps.numel() == 0:
        return maps.clone()
    h, w = batched.shape[-2:]
    pad = window // 2
    if valid is None:
        series = rearrange(batched, "b t h w -> b (h w) t")
        pooled = F.avg_pool1d(series, window, stride=1, padding=pad, count_include_pad=False)
    else:
        # Masked mean: window sums of the valid maps over window counts of valid frames.
        mask = (valid if maps.ndim == 4 else valid[None]).to(maps.dtype)
        series = rearrange(batched * mask[..., None, None], "b t h w -> b (h w) t")
        sums = F.avg_pool1d(series, window, stride=1, padding=pad, count_include_pad=True)
        counts = F.avg_pool1d(mask[:, None], window, stride=1, padding=pad, count_include_pad=True)
        pooled = torch.where(counts > 0, sums / counts.clamp_min(1e-12), torch.zeros_like(sums))
    out = rearrange(pooled, "b (h w) t -> b t h w", h=h, w=w)
    return out if maps.ndim == 4 else out[0]


def sparsify(maps: Tensor, factor: float = 3.0) -> Tensor:
    """Keep only values at or above ``factor x mean`` of each map; the rest become 0.

    The sparsification of the original STANet release, applied after :func:`temporal_smooth`.

    Args:
        maps: ``(..., h, w)`` non-negative maps.
        factor: threshold as a multiple of each map's spatial mean (default 3); finite and
            ``>= 0``.

    Returns:
        Same shape and dtype; a constant map is left as is when ``factor <= 1`` and set to 0
        when ``factor > 1`` (no value reaches the threshold). Empty input comes back empty.

    Raises:
        TypeError: non-float maps; ``factor`` not a number.
        ValueError: fewer than 2 dims, NaN/Inf, ``factor`` negative or not finite (a NaN
            factor would otherwise keep every value).

    Example:
        >>> sparsify(torch.tensor([[0.0, 0.1], [0.2, 1.0]]), factor=2.0)
        tensor([[0., 0.],
                [0., 1.]])
    """
    check_floating(maps, "maps")
    if maps.ndim < 2:
        raise ValueError(f"maps must have shape (..., h, w), got {tuple(maps.shape)}")
    check_finite(maps, "maps")
    factor = check_real(factor, "factor", low=0.0)
    if maps.numel() == 0:
        return maps.clone()
    threshold = factor * maps.mean(dim=(-2, -1), keepdim=True)
    return maps.masked_fill(maps < threshold, 0.0)
