"""Coarse-to-fine geometry of multistage SCAM (STANet+ Sec. 3.2).

The coarse SCAM is binarised at ``2 x mean``, the tight box of the pixels above it crops every
frame of the clip, the crops are resized to the fine resolution, and the fine CAMs are pasted
back into a zero map at the box. All three steps are batched (each sample has its own box) and
exact to the pixel on integer boxes: :func:`crop_clip` equals cropping with slicing and then
``F.interpolate(mode="bilinear", align_corners=False)``, and :func:`paste_back` equals resizing
each map the same way to its box and assigning it into zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._validation import (
    as_size,
    check_finite,
    check_floating,
    check_ndim,
    check_real,
    check_tensor,
)

__all__ = ["coarse_box", "crop_clip", "paste_back", "scale_boxes"]


def coarse_box(maps: Tensor, factor: float = 2.0) -> Tensor:
    """Tight box of the pixels above ``factor x mean`` of each map (STANet+ Sec. 3.2).

    Args:
        maps: ``(b, h, w)`` coarse SCAM maps, ``h, w >= 1``.
        factor: binarisation threshold as a multiple of the map's mean (paper: 2); finite and
            ``>= 0`` (a negative factor would pass every pixel and silently give whole frames).

    Returns:
        ``(b, 4)`` int64 boxes ``(x0, y0, x1, y1)`` in the map's pixel grid, ``x1`` and ``y1``
        exclusive. A map where no pixel is strictly above the threshold (constant or all-zero
        maps) gets the whole map ``(0, 0, w, h)``. An empty batch gives a ``(0, 4)`` result.

    Raises:
        TypeError: non-float ``maps``; ``factor`` not a number.
        ValueError: wrong shape, an empty map (``h`` or ``w`` = 0), NaN/Inf, ``factor``
            negative or not finite.

    Example:
        >>> m = torch.zeros(1, 4, 6)
        >>> m[0, 1:3, 2:5] = 1.0
        >>> coarse_box(m)
        tensor([[2, 1, 5, 3]])
    """
    check_floating(maps, "maps")
    check_ndim(maps, "maps", 3, "(b, h, w)")
    factor = check_real(factor, "factor", low=0.0)
    b, h, w = maps.shape
    if h == 0 or w == 0:
        raise ValueError(f"maps must have a non-empty map (h, w >= 1), got {tuple(maps.shape)}")
    check_finite(maps, "maps")
    if b == 0:
        return torch.zeros(0, 4, dtype=torch.long, device=maps.device)
    threshold = factor * maps.mean(dim=(1, 2), keepdim=True)
    above = maps > threshold
    rows = above.any(dim=2)  # (b, h)
    cols = above.any(dim=1)  # (b, w)
    y0 = rows.int().argmax(dim=1)
    y1 = h - rows.flip(1).int().argmax(dim=1)
    x0 = cols.int().argmax(dim=1)
    x1 = w - cols.flip(1).int().argmax(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1).long()
    whole = torch.tensor([0, 0, w, h], dtype=torch.long, device=maps.device).expand(b, 4)
    return torch.where(rows.any(dim=1, keepdim=True), boxes, whole)


def scale_boxes(
    boxes: Tensor, from_size: int | Sequence[int], to_size: int | Sequence[int]
) -> Tensor:
    """Map integer boxes from one pixel grid to another, covering at least the same area.

    Used when the coarse SCAM is computed at a feature or coarse resolution and the crop is
    taken from the full frame: ``x0, y0`` are floored and ``x1, y1`` ceiled in the new grid.

    Args:
        boxes: ``(b, 4)`` int boxes ``(x0, y0, x1, y1)`` in the ``from_size`` grid.
        from_size: ``(h, w)`` (or ``int``) of the grid the boxes are in.
        to_size: ``(H, W)`` (or ``int``) of the target grid.

    Returns:
        ``(b, 4)`` int64 boxes in the ``to_size`` grid, non-empty and inside it.

    Example:
        >>> scale_boxes(torch.tensor([[1, 1, 3, 2]]), (4, 4), (10, 10))
        tensor([[2, 2, 8, 5]])
    """
    fh, fw = as_size(from_size, "from_size")
    th, tw = as_size(to_size, "to_size")
    _check_boxes(boxes, boxes.shape[0] if boxes.ndim == 2 else -1, (fh, fw))
    scale = torch.tensor([tw / fw, th / fh, tw / fw, th / fh], dtype=torch.float64)
    scaled = boxes.double().cpu() * scale
    x0y0 = scaled[:, :2].floor()
    x1y1 = scaled[:, 2:].ceil()
    out = torch.cat([x0y0, torch.maximum(x1y1, x0y0 + 1)], dim=1).long()
    limit = torch.tensor([tw, th, tw, th])
    return torch.minimum(out, limit).to(boxes.device)


def _check_boxes(boxes: Tensor, batch: int, grid: tuple[int, int]) -> None:
    check_tensor(boxes, "boxes")
    if boxes.is_floating_point() or boxes.dtype == torch.bool:
        raise TypeError(f"boxes must be an integer tensor, got dtype {boxes.dtype}")
    if boxes.shape != (batch, 4):
        raise ValueError(
            f"boxes must have shape ({batch}, 4) as (x0, y0, x1, y1), got {tuple(boxes.shape)}"
        )
    h, w = grid
    x0, y0, x1, y1 = boxes.unbind(1)
    ok = (x0 >= 0) & (y0 >= 0) & (x1 <= w) & (y1 <= h) & (x1 > x0) & (y1 > y0)
    if not bool(ok.all()):
        bad = int((~ok).nonzero()[0, 0])
        raise ValueError(
            f"boxes must satisfy 0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h}; "
            f"box {bad} is {boxes[bad].tolist()}"
        )


def _taps(
    dst: Tensor, in_len: Tensor, out_len: Tensor, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """Bilinear source taps for resizing ``in_len`` samples to ``out_len`` samples.

    The half-pixel rule of ``F.interpolate(mode="bilinear", align_corners=False)``:
    ``src = (dst + 0.5) * in / out - 0.5`` clamped at 0, taps ``floor(src)`` and the next
    sample (both clamped to the last one), weight ``src - floor(src)`` on the second.

    Args:
        dst: ``(b, n)`` (or broadcastable) output positions.
        in_len: ``(b, 1)`` (or broadcastable) long input lengths.
        out_len: ``(b, 1)`` (or broadcastable) long output lengths.

    Returns:
        ``i0, i1`` ``(b, n)`` long taps and ``frac`` ``(b, n)`` weights in ``dtype``.
    """
    scale = in_len.to(dtype) / out_len.to(dtype)
    src = ((dst.to(dtype) + 0.5) * scale - 0.5).clamp_min(0)
    last = in_len - 1
    i0 = torch.minimum(src.floor().long(), last)
    i1 = torch.minimum(i0 + 1, last)
    frac = (src - i0.to(dtype)).clamp(0, 1)
    return i0, i1, frac


def _lerp_gather(x: Tensor, dim: int, i0: Tensor, i1: Tensor, frac: Tensor) -> Tensor:
    """Linear interpolation of ``x`` along ``dim`` at per-sample taps ``(b, n)``."""
    shape = [1] * x.ndim
    shape[0], shape[dim] = i0.shape
    expand = list(x.shape)
    expand[dim] = i0.shape[1]
    a = x.gather(dim, i0.view(shape).expand(expand))
    b = x.gather(dim, i1.view(shape).expand(expand))
    f = frac.view(shape)
    return a + (b - a) * f


def crop_clip(frames: Tensor, boxes: Tensor, size: int | Sequence[int]) -> Tensor:
    """Crop every frame of each sample with its box and resize bilinearly (STANet+ Sec. 3.2).

    Equals ``F.interpolate(frames[b, ..., y0:y1, x0:x1], size, mode="bilinear",
    align_corners=False)`` per sample, computed for the whole batch at once; every frame of a
    clip is cropped with its sample's box. Differentiable with respect to ``frames``.

    Args:
        frames: ``(b, c, H, W)`` frames or ``(b, t, c, H, W)`` clips.
        boxes: ``(b, 4)`` int boxes ``(x0, y0, x1, y1)`` in the frame grid, end exclusive.
        size: crop size ``int`` or ``(h, w)`` (paper: 356).

    Returns:
        ``(b, c, h, w)`` or ``(b, t, c, h, w)`` crops. An empty batch or clip (``b``, ``t`` or
        ``c`` = 0) gives an empty result of that shape.

    Raises:
        TypeError: non-float frames or non-integer boxes.
        ValueError: wrong shapes, an empty frame (``H`` or ``W`` = 0), boxes outside the frame
            or empty, NaN/Inf in ``frames``.

    Example:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> crop_clip(x, torch.tensor([[1, 1, 3, 3]]), 2)
        tensor([[[[ 5.,  6.],
                  [ 9., 10.]]]])
    """
    check_floating(frames, "frames")
    check_ndim(frames, "frames", (4, 5), "(b, c, H, W) or (b, t, c, H, W)")
    out_h, out_w = as_size(size)
    b, height, width = frames.shape[0], frames.shape[-2], frames.shape[-1]
    if height == 0 or width == 0:
        raise ValueError(
            f"frames must have a non-empty frame (H, W >= 1), got {tuple(frames.shape)}"
        )
    _check_boxes(boxes, b, (height, width))
    check_finite(frames, "frames")
    if frames.numel() == 0:
        return frames.new_zeros(*frames.shape[:-2], out_h, out_w)
    boxes = boxes.to(frames.device)
    flat = frames.reshape(b, -1, height, width)
    x0, y0, x1, y1 = boxes.unbind(1)
    dev = frames.device
    rows_out = torch.arange(out_h, device=dev)[None]
    cols_out = torch.arange(out_w, device=dev)[None]
    r0, r1, rf = _taps(rows_out, (y1 - y0)[:, None], torch.tensor(out_h, device=dev), frames.dtype)
    c0, c1, cf = _taps(cols_out, (x1 - x0)[:, None], torch.tensor(out_w, device=dev), frames.dtype)
    rows = _lerp_gather(flat, 2, r0 + y0[:, None], r1 + y0[:, None], rf)
    out = _lerp_gather(rows, 3, c0 + x0[:, None], c1 + x0[:, None], cf)
    return out.reshape(*frames.shape[:-2], out_h, out_w)


def paste_back(maps: Tensor, boxes: Tensor, frame_size: int | Sequence[int]) -> Tensor:
    """Resize each map to its box and paste it into a zero map of frame size (STANet+ Sec. 3.2).

    Equals, per sample, ``out = zeros(H, W); out[y0:y1, x0:x1] = F.interpolate(map,
    (y1 - y0, x1 - x0), mode="bilinear", align_corners=False)``, for the whole batch at once.

    Args:
        maps: ``(b, h', w')`` fine-stage CAMs (of the crops).
        boxes: ``(b, 4)`` int boxes ``(x0, y0, x1, y1)`` in the frame grid, end exclusive.
        frame_size: ``(H, W)`` or ``int``, the frame grid of the boxes.

    Returns:
        ``(b, H, W)``: zero outside each box. An empty batch gives a ``(0, H, W)`` result.

    Raises:
        TypeError: non-float maps or non-integer boxes.
        ValueError: wrong shapes, an empty map (``h'`` or ``w'`` = 0), boxes outside the frame
            or empty, NaN/Inf in ``maps``.

    Example:
        >>> paste_back(torch.ones(1, 2, 2), torch.tensor([[1, 0, 3, 1]]), (2, 4))
        tensor([[[0., 1., 1., 0.],
                 [0., 0., 0., 0.]]])
    """
    check_floating(maps, "maps")
    check_ndim(maps, "maps", 3, "(b, h, w)")
    height, width = as_size(frame_size, "frame_size")
    b, h, w = maps.shape
    if h == 0 or w == 0:
        raise ValueError(f"maps must have a non-empty map (h, w >= 1), got {tuple(maps.shape)}")
    _check_boxes(boxes, b, (height, width))
    check_finite(maps, "maps")
    if b == 0:
        return maps.new_zeros(0, height, width)
    boxes = boxes.to(maps.device)
    x0, y0, x1, y1 = boxes.unbind(1)
    ys = torch.arange(height, device=maps.device)[None]  # (1, H)
    xs = torch.arange(width, device=maps.device)[None]
    inside_y = (ys >= y0[:, None]) & (ys < y1[:, None])  # (b, H)
    inside_x = (xs >= x0[:, None]) & (xs < x1[:, None])
    # Output positions relative to the box start; those outside the box are clamped into it
    # (any tap will do there) and masked out below.
    box_h, box_w = (y1 - y0)[:, None], (x1 - x0)[:, None]
    local_y = torch.minimum((ys - y0[:, None]).clamp(min=0), box_h - 1)
    local_x = torch.minimum((xs - x0[:, None]).clamp(min=0), box_w - 1)
    r0, r1, rf = _taps(local_y, torch.tensor(h, device=maps.device), box_h, maps.dtype)
    c0, c1, cf = _taps(local_x, torch.tensor(w, device=maps.device), box_w, maps.dtype)
    rows = _lerp_gather(maps, 1, r0, r1, rf)  # (b, H, w)
    out = _lerp_gather(rows, 2, c0, c1, cf)  # (b, H, W)
    mask = inside_y[:, :, None] & inside_x[:, None, :]
    return torch.where(mask, out, torch.zeros((), dtype=out.dtype, device=out.device))
