"""Shuffled AUC and AUC-Borji with MIT semantics: kernels, registration, public functions.

Both metrics draw negatives at random (MIT ``AUC_shuffled.m``: from other frames' fixations;
``AUC_Borji.m``: uniformly from all pixels) and integrate the fixed-step ROC of
:mod:`scamlib.metrics._roc`. Not equations of STANet+; the papers report them with these
semantics (STAViS evaluation code).

A constant map is no score for either: the MIT code min-max normalises the map, which turns
a constant map into NaN everywhere, and then returns NaN ("NaN saliencyMap").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._common import Positions, as_maps, as_mask_rows, finish
from ._engine import score_maps
from ._registry import Batch, Chunk, MetricSpec, register
from ._roc import (
    check_splits,
    histogram_auc,
    positive_levels,
    step_auc,
    step_levels,
    step_thresholds,
)

__all__ = ["auc_borji", "auc_shuffled"]


def _shuffled_finish(
    fixated: Tensor,
    fix: Positions,
    other_values: Tensor,
    other: Positions,
    lo: Tensor,
    hi: Tensor,
    step: float,
    n_splits: int,
    generator: torch.Generator | None,
) -> Tensor:
    """Shuffled AUC from the values at the fixated and at the ``other`` pixels.

    Args:
        fixated: ``(f,)`` values of the fixated pixels, in ``fix`` order (not normalised).
        fix: the fixations of the ``b`` maps.
        other_values: values of the ``other`` pixels, in ``other`` order.
        other: the candidate negatives.
        lo, hi: ``(b,)`` map minima and maxima (MATLAB's min-max, ``0 / 0 = NaN`` on a constant
            map, whose comparisons are then all false: the diagonal ROC).
        step: threshold step. ``n_splits``, ``generator``: the draws (:func:`_draw_histograms`).
    """
    span = hi - lo
    thr = step_thresholds(step, lo.device)
    t = thr.numel()
    pos = positive_levels(fixated, fix, lo, span, thr)
    r = other.rows
    level = step_levels(other_values, lo[r], span[r], thr)
    levels = torch.bincount(r * (t + 1) + level, minlength=other.b * (t + 1))
    k = torch.minimum(fix.counts, other.counts)
    hist = _draw_histograms(levels.view(other.b, t + 1), k, n_splits, generator)
    score = histogram_auc(pos, fix.counts, hist, k, t)
    return torch.where(span > 0, score, torch.nan)


def auc_shuffled(
    pred: Tensor,
    fixations: Tensor,
    other: Tensor,
    n_splits: int = 100,
    step: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Shuffled AUC: negatives drawn from other frames' fixations (MIT ``AUC_shuffled.m``).

    With ``S = minmax(S)`` (no jitter), ``N`` fixated pixels and the ``M`` pixels of
    ``other``: every split draws ``K = min(N, M)`` distinct pixels of ``other`` uniformly
    (without replacement). Thresholds sweep ``0 : step : max`` descending; ``tp(t) = #(S_fix >= t)
    / N``, ``fp(t) = #(S_neg >= t) / K``; the ROC is framed by ``(0, 0)`` and ``(1, 1)`` and
    integrated by the trapezoid rule; the score is the mean over splits. In the STAViS protocol
    ``other`` is the union of a video's fixation maps minus the current frame's fixations
    (:func:`scamlib.metrics.protocol.shuffled_other`).

    The score of a split depends on its negatives only through how many of them lie at each
    threshold level, so each split draws that histogram directly: for ``K`` pixels taken
    uniformly without replacement from ``M`` candidates of known levels it follows the
    multivariate hypergeometric distribution (numpy's ``multivariate_hypergeometric``, seeded
    from ``generator``). The scores have the distribution of the MIT code's draws at a cost
    independent of ``K``.

    Thresholds are computed as ``k * step``; MATLAB's colon operator may differ in the last bit,
    which matters only for a value exactly on a threshold. A constant map has no score (NaN):
    the MIT code's min-max turns it into NaN everywhere and it returns NaN for such a map.

    pysaliency's ``sAUC`` differs: it uses every fixation of the other images as a negative
    (no subsampling, no splits) and every distinct value as a threshold (exact ROC).

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction at the ground-truth size.
        fixations: same shape, bool (``> 0`` = fixated).
        other: same shape, bool map of the candidate negative locations.
        n_splits: number of random draws of negatives (MIT default 100).
        step: threshold step (MIT default 0.1).
        generator: random source of the draws; the same seed gives the same score.

    Returns:
        ``()`` or ``(b,)`` float64 scores in ``[0, 1]``; NaN without fixations, when ``other``
        is empty, or for a constant map.

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, NaN/Inf in ``pred``, ``n_splits`` or ``step`` out of range.

    Example:
        >>> pred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        >>> fix = torch.tensor([[True, False], [False, False]])
        >>> other = torch.tensor([[False, True], [True, True]])
        >>> auc_shuffled(pred, fix, other, n_splits=5)
        tensor(1., dtype=torch.float64)
    """
    check_splits(n_splits, step)
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", maps if batched else maps[0], "pred")
    oth = as_mask_rows(other, "other", maps if batched else maps[0], "pred")
    scores = score_maps(
        "sAUC",
        maps,
        fixations=fix,
        other=oth,
        n_splits=n_splits,
        step=step,
        generators={"sAUC": generator},
    )
    return finish(scores, batched)


def _draw_histograms(
    levels: Tensor, k: Tensor, n_splits: int, generator: torch.Generator | None
) -> Tensor:
    """Per row and split, the level histogram of ``k`` distinct negatives drawn uniformly.

    Args:
        levels: ``(b, t + 1)`` int64 number of candidate negatives at each level.
        k: ``(b,)`` negatives per split (``<=`` the row's candidates).
        n_splits: splits per row.
        generator: seeds the numpy generator that draws (one 63-bit seed per call).

    Returns:
        ``(b, n_splits, t + 1)`` int64 on ``levels``' device; a row with ``k = 0`` is zeros.

    Example:
        >>> levels = torch.tensor([[3, 0, 2], [1, 1, 0]])
        >>> hist = _draw_histograms(levels, torch.tensor([5, 1]), 4, torch.Generator())
        >>> hist[0].tolist()  # all five candidates, in every split
        [[3, 0, 2], [3, 0, 2], [3, 0, 2], [3, 0, 2]]
        >>> bool((hist[1].sum(-1) == 1).all()), bool((hist[1, :, 2] == 0).all())
        (True, True)
    """
    rng = np.random.default_rng(int(_seed(generator, levels.device)))
    counts = levels.cpu().numpy()
    out = np.zeros((counts.shape[0], n_splits, counts.shape[1]), dtype=np.int64)
    for row, (size, total) in enumerate(zip(k.tolist(), counts.sum(axis=1).tolist())):
        if size > 0:
            # numpy's "count" method is the faster one up to ~10^5 candidates (measured)
            method = "count" if total <= 100_000 else "marginals"
            out[row] = rng.multivariate_hypergeometric(counts[row], size, n_splits, method)
    return torch.from_numpy(out).to(levels.device)


def _seed(generator: torch.Generator | None, device: torch.device) -> Tensor:
    """One 63-bit seed from ``generator``, drawn on the generator's own device (a seeded CPU
    generator gives the same seed whatever device the maps are on)."""
    draw_on = generator.device if generator is not None else device
    return torch.randint(0, 2**63 - 1, (1,), generator=generator, device=draw_on)


def auc_borji(
    pred: Tensor,
    fixations: Tensor,
    n_splits: int = 100,
    step: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """AUC-Borji: negatives drawn uniformly from all pixels (MIT ``AUC_Borji.m``).

    As :func:`auc_shuffled`, except that every split draws ``N`` pixel positions uniformly from
    all ``P`` pixels *with* replacement (fixated pixels included) and ``fp(t) = #(S_neg >= t) /
    N``.

    NaN when ``N <= 1``, a decision of scamlib: with a single fixation every split
    draws a single negative, so each split's ROC has one step and ``fp`` only takes the values 0
    and 1; the MIT threshold sweep degenerates to a coin toss per split and the score says
    nothing about the map. (The MIT code itself only returns NaN for an empty fixation map.)

    pysaliency's ``AUC`` with ``nonfixations='uniform'`` differs: it uses every pixel as a
    negative with the exact ROC, so it has no sampling noise and no threshold step.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction at the ground-truth size.
        fixations: same shape, bool (``> 0`` = fixated).
        n_splits: number of random draws (MIT default 100).
        step: threshold step (MIT default 0.1).
        generator: random source of the draws; the same seed gives the same score.

    Returns:
        ``()`` or ``(b,)`` float64 scores in ``[0, 1]``; NaN with fewer than two fixated
        pixels, and for a constant map (see :func:`auc_shuffled`).

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, NaN/Inf in ``pred``, ``n_splits`` or ``step`` out of range.

    Example:
        >>> pred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        >>> fix = torch.tensor([[False, True], [False, True]])
        >>> auc_borji(pred, fix, n_splits=10)  # the fixated pixels are among the lowest
        tensor(0..., dtype=torch.float64)
    """
    check_splits(n_splits, step)
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", maps if batched else maps[0], "pred")
    scores = score_maps(
        "AUC_B", maps, fixations=fix, n_splits=n_splits, step=step, generators={"AUC_B": generator}
    )
    return finish(scores, batched)


def _borji_negatives(fix: Positions, n_splits: int, generator: torch.Generator | None) -> Tensor:
    """AUC-Borji negatives: ``(b, n_splits, n_max)`` uniform pixel indices, with replacement."""
    draw_on = generator.device if generator is not None else fix.rows.device
    shape = (fix.b, n_splits * fix.n_max)
    pixels = torch.randint(fix.p, shape, generator=generator, device=draw_on)
    return pixels.to(fix.rows.device).view(fix.b, n_splits, fix.n_max)


def _borji_finish(
    fixated: Tensor, fix: Positions, negatives: Tensor, lo: Tensor, hi: Tensor, step: float
) -> Tensor:
    """AUC-Borji from the fixated and the sampled ``(b, s, n_max)`` values; NaN if ``N <= 1``.

    See :func:`_shuffled_finish` for the arguments.
    """
    span = hi - lo
    thr = step_thresholds(step, lo.device)
    pos = positive_levels(fixated, fix, lo, span, thr)
    neg = step_levels(negatives, lo[:, None, None], span[:, None, None], thr)
    n = fix.counts
    neg = neg.masked_fill_(torch.arange(neg.shape[-1], device=neg.device) >= n[:, None, None], 0)
    score = step_auc(pos, n, neg, n, thr.numel())
    return torch.where((n > 1) & (span > 0), score, torch.nan)


def _fixated(batch: Batch, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
    return chunk.fixated, chunk.s.min, chunk.s.max


def _shuffled_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    there = chunk.other
    return (*_fixated(batch, chunk), chunk.s.gather(there.rows, there.cols))


def _shuffled_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    fixated, lo, hi, values = parts
    gen = batch.generators.get("sAUC")
    score = _shuffled_finish(
        fixated, batch.fix, values, batch.other, lo, hi, batch.step, batch.n_splits, gen
    )
    return score.clamp_(0.0, 1.0)


def _borji_prepare(batch: Batch) -> Tensor:
    return _borji_negatives(batch.fix, batch.n_splits, batch.generators.get("AUC_B"))


def _borji_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    rows, start = chunk.rows, chunk.start
    pixels = batch.prepared["AUC_B"][start : start + rows].reshape(rows, -1)
    values = chunk.s.values.gather(1, pixels).to(torch.float64)
    return (*_fixated(batch, chunk), values.view(rows, batch.n_splits, -1))


def _borji_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    fixated, lo, hi, values = parts
    return _borji_finish(fixated, batch.fix, values, lo, hi, batch.step).clamp_(0.0, 1.0)


SHUFFLED = register(
    MetricSpec(
        "sAUC",
        _shuffled_update,
        _shuffled_compute,
        fixations=True,
        other=True,
        pointwise=True,
    )
)
BORJI = register(
    MetricSpec(
        "AUC_B",
        _borji_update,
        _borji_compute,
        prepare=_borji_prepare,
        fixations=True,
        pointwise=True,
    )
)
