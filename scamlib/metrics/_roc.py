"""The fixed-step ROC shared by shuffled AUC and AUC-Borji (private).

MIT ``AUC_shuffled.m`` and ``AUC_Borji.m`` min-max normalise the map, sweep the thresholds
``0 : step : 1`` and integrate the ROC of the fixated values against sampled negatives by the
trapezoid rule, averaged over random splits. The values are compared with the thresholds
through their *level* (how many thresholds lie at or below a value), so that every split's
counts are one histogram.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._common import Positions, trapezoid

__all__ = [
    "check_splits",
    "histogram_auc",
    "positive_levels",
    "step_auc",
    "step_levels",
    "step_thresholds",
]


def check_splits(n_splits: int, step: float) -> None:
    """Raise ``ValueError`` naming ``n_splits`` or ``step`` when out of range."""
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 1:
        raise ValueError(f"n_splits must be a positive int, got {n_splits!r}")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
        raise ValueError(f"step must be a number in (0, 1], got {step!r}")


def step_thresholds(step: float, device: torch.device) -> Tensor:
    """``0 : step : 1`` ascending, as ``k * step`` (float64).

    MATLAB sweeps ``0 : step : max(values)``; thresholds above the largest sampled value only
    add ``(0, 0)`` points to the ROC, which leave the trapezoid sum unchanged, so one sweep up
    to 1 (the maximum of a min-max normalised map) serves every split.
    """
    count = math.floor(1.0 / step + 1e-9) + 1
    return torch.arange(count, device=device, dtype=torch.float64) * step


def step_levels(values: Tensor, lo: Tensor, span: Tensor, thr: Tensor) -> Tensor:
    """Threshold level of MIT-normalised values: ``#{k : (v - lo) / span >= thr[k]}``.

    ``lo`` and ``span`` broadcast against ``values``. ``value >= thr[t]`` exactly when
    ``level > t``. A constant map (``span == 0``) normalises to NaN, which is below every
    threshold (level 0), as in MATLAB.
    """
    return (((values - lo) / span)[..., None] >= thr).sum(dim=-1)


def step_auc(pos: Tensor, n: Tensor, neg: Tensor, k: Tensor, t: int) -> Tensor:
    """Mean over splits of the fixed-threshold ROC area, from threshold levels.

    Args:
        pos: ``(b, n_max)`` levels (:func:`step_levels`) of the fixated values, 0-padded.
        n: ``(b,)`` number of fixated values.
        neg: ``(b, s, k_max)`` levels of the negatives of every split (0 in unused slots).
        k: ``(b,)`` negatives per split. ``t``: number of thresholds.

    Returns:
        ``(b,)`` areas; NaN where ``n == 0`` or ``k == 0``.
    """
    b, splits, _ = neg.shape
    cell = torch.arange(b * splits, device=neg.device).view(b, splits, 1) * (t + 1)
    hist = torch.bincount((neg + cell).view(-1), minlength=b * splits * (t + 1))
    return histogram_auc(pos, n, hist.view(b, splits, t + 1), k, t)


def histogram_auc(pos: Tensor, n: Tensor, hist: Tensor, k: Tensor, t: int) -> Tensor:
    """:func:`step_auc` from each split's histogram of negative levels.

    Args:
        pos, n, k, t: as :func:`step_auc`.
        hist: ``(b, s, t + 1)`` number of negatives of each split at each level (row sums
            ``k``).
    """
    device = hist.device
    above = torch.arange(t, device=device)
    tp = (pos[..., None] > above).sum(dim=-2)[:, None, :] / n.to(torch.float64)[:, None, None]
    # #{level > t} for every threshold t
    counts = hist.flip(-1).cumsum(-1).flip(-1)[..., 1:]
    fp = counts / k.to(torch.float64)[:, None, None]  # (b, s, t)
    tp = tp.expand_as(fp)
    zeros = fp.new_zeros(fp.shape[:-1] + (1,))
    ones = fp.new_ones(fp.shape[:-1] + (1,))
    # descending thresholds, framed by (0, 0) and (1, 1)
    fp = torch.cat([zeros, fp.flip(-1), ones], dim=-1)
    tp = torch.cat([zeros, tp.flip(-1), ones], dim=-1)
    score = trapezoid(fp, tp).mean(dim=-1)
    return torch.where((n > 0) & (k > 0), score, torch.nan)


def positive_levels(
    fixated: Tensor, fix: Positions, lo: Tensor, span: Tensor, thr: Tensor
) -> Tensor:
    """``(b, n_max)`` levels of the fixated values (listed in ``fix`` order), 0-padded."""
    r = fix.rows
    return fix.pack_flat(step_levels(fixated, lo[r], span[r], thr), 0)
