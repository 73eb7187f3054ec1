"""Shared plumbing of the saliency metrics: input checks, flattening, packing, ROC integration.

Private. Every metric flattens its maps to ``(b, p)`` rows of float64 values (``p = h * w``)
so that thresholds, sums and ranks never suffer float32 rounding, and packs the variable number
of fixated pixels per map into a padded ``(b, n_max)`` block with a validity mask.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_finite, check_floating, check_ndim, check_same_shape, check_tensor
from ..functional import minmax

__all__ = [
    "EPS",
    "as_mask_rows",
    "as_rows",
    "finish",
    "mit_minmax",
    "pack",
    "trapezoid",
    "uniform",
]

#: MATLAB's ``eps`` (the spacing of doubles at 1.0), the regulariser of the MIT KLD.
EPS = 2.220446049250313e-16


def as_rows(x: object, name: str) -> tuple[Tensor, bool]:
    """Check a ``(h, w)`` or ``(b, h, w)`` float map and return it as float64 ``(b, h*w)`` rows.

    The bool says whether the input was batched (so the caller can drop the batch axis again).
    """
    check_floating(check_tensor(x, name), name)
    check_ndim(x, name, (2, 3), "(h, w) or (b, h, w)")
    check_finite(x, name)
    batched = x.ndim == 3
    maps = x if batched else x[None]
    return maps.reshape(maps.shape[0], -1).to(torch.float64), batched


def as_mask_rows(x: object, name: str, like: Tensor, like_name: str) -> Tensor:
    """Check a binary map (bool or numeric, ``> 0`` counts) of ``like``'s shape; ``(b, p)`` bool."""
    check_tensor(x, name)
    check_same_shape(x, like, name, like_name)
    if x.is_complex():
        raise TypeError(f"{name} must be a bool or real tensor, got dtype {x.dtype}")
    if x.is_floating_point():
        check_finite(x, name)
    mask = x if x.dtype == torch.bool else x > 0
    mask = mask if mask.ndim == 3 else mask[None]
    return mask.reshape(mask.shape[0], -1).to(like.device)


def finish(scores: Tensor, batched: bool) -> Tensor:
    """Return ``(b,)`` scores for batched input, a 0-dim tensor otherwise."""
    return scores if batched else scores[0]


def mit_minmax(rows: Tensor) -> Tensor:
    """Min-max each row as the MIT code does: ``(s - min) / (max - min)``, NaN on a constant row.

    Reuses :func:`scamlib.functional.minmax` (which maps a constant row to 0) and restores the
    MATLAB behaviour, ``0 / 0 = NaN``, on the rows it reports as constant.
    """
    out, valid = minmax(rows, dims=-1, return_valid=True)
    return torch.where(valid[:, None], out, torch.nan)


def pack(values: Tensor, mask: Tensor, fill: float) -> tuple[Tensor, Tensor]:
    """Gather the masked entries of every row into a padded block.

    Args:
        values: ``(b, p)`` values.
        mask: ``(b, p)`` bool, which entries to keep.
        fill: value of the padding.

    Returns:
        ``(packed, counts)``: ``(b, n_max)`` kept values in row-major order followed by ``fill``
        (``n_max >= 1``), and ``(b,)`` int64 number of kept entries per row.
    """
    counts = mask.sum(dim=1)
    n_max = max(int(counts.max()) if counts.numel() else 0, 1)
    rows, cols = mask.nonzero(as_tuple=True)  # row-major: rows ascending
    starts = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(rows.numel(), device=mask.device) - starts[rows]
    packed = values.new_full((values.shape[0], n_max), fill)
    packed[rows, rank] = values[rows, cols]
    return packed, counts


def trapezoid(fp: Tensor, tp: Tensor) -> Tensor:
    """Trapezoid-rule area under the polyline ``(fp_k, tp_k)`` along the last axis (``trapz``)."""
    return ((fp[..., 1:] - fp[..., :-1]) * (tp[..., 1:] + tp[..., :-1])).sum(dim=-1) / 2


def uniform(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Uniform ``[0, 1)`` samples drawn on the generator's device, moved to ``device``.

    Drawing on the generator's own device keeps a seeded CPU generator reproducible bit for bit
    whatever device the maps live on.
    """
    draw_on = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=draw_on, dtype=dtype).to(device)
