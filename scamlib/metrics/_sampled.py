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

from ._common import Positions, as_maps, as_mask_rows, finish, uniform
from ._engine import score_maps
from ._registry import Batch, Chunk, MetricSpec, register
from ._roc import check_splits, positive_levels, step_auc, step_levels, step_thresholds

__all__ = ["auc_borji", "auc_shuffled"]


def _shuffled_finish(
    fixated: Tensor,
    fix: Positions,
    other_values: Tensor,
    other: Positions,
    draws: Tensor,
    k: Tensor,
    lo: Tensor,
    hi: Tensor,
    step: float,
) -> Tensor:
    """Shuffled AUC from the values at the fixated and at the ``other`` pixels.

    Args:
        fixated: ``(f,)`` values of the fixated pixels, in ``fix`` order (not normalised).
        fix: the fixations of the ``b`` maps.
        other_values: values of the ``other`` pixels, in ``other`` order.
        other: the candidate negatives. ``draws``: ``(b, s, k_max)`` indices into each row's
            list of ``other`` pixels (:func:`_shuffled_negatives`). ``k``: ``(b,)`` negatives
            per split.
        lo, hi: ``(b,)`` map minima and maxima (MATLAB's min-max, ``0 / 0 = NaN`` on a constant
            map, whose comparisons are then all false: the diagonal ROC).
        step: threshold step.
    """
    span = hi - lo
    thr = step_thresholds(step, lo.device)
    pos = positive_levels(fixated, fix, lo, span, thr)
    r = other.rows
    level = other.pack_flat(step_levels(other_values, lo[r], span[r], thr), 0)
    b, splits, k_max = draws.shape
    neg = level.gather(1, draws.view(b, -1)).view(b, splits, k_max)
    neg = neg.masked_fill_(torch.arange(k_max, device=neg.device) >= k[:, None, None], 0)
    score = step_auc(pos, fix.counts, neg, k, thr.numel())
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

    The draw without replacement costs ``O(K)`` per split, not ``O(M)``: ``K`` positions are
    drawn uniformly with replacement and repeated ones are drawn again until all differ (any
    rule that treats the ``M`` pixels symmetrically yields a uniformly random ``K``-subset);
    when ``K > M / 2`` the ``K`` smallest of ``M`` uniform keys are taken instead.

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


def _sort_rows(x: Tensor) -> Tensor:
    """Each row of a 2-D int64 tensor sorted ascending (numpy's sort on the CPU: ~10x faster)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return x.sort(dim=1).values


def _draw_subsets(m: Tensor, k: Tensor, n_splits: int, generator: torch.Generator | None) -> Tensor:
    """Per row and split, ``k`` distinct uniform indices into ``range(m)`` (``k <= m``).

    Returns ``(b, n_splits, max(k))`` int64; entries past a row's ``k`` are 0 (the order of a
    split's indices carries no meaning).
    Rows with ``2 k <= m`` draw with replacement, sort every split's draws and redraw the later
    copy of every repeat until all differ: the rule treats the ``m`` items alike, so the result
    is a uniformly random ``k``-subset, and it costs a sort of ``k`` numbers per split and
    round (a few rounds) instead of ``m`` random keys per split. Denser rows take the ``k``
    smallest of ``m`` uniform keys.
    """
    b = m.shape[0]
    device = m.device
    k_max = max(int(k.max()) if b else 0, 1)
    slot = torch.arange(k_max, device=device)
    dense = 2 * k > m
    sparse = (~dense).nonzero().view(-1)
    out = None
    if sparse.numel() < b:
        out = torch.zeros(b, n_splits, k_max, device=device, dtype=torch.int64)
        rows = dense.nonzero().view(-1)
        md = m[rows]
        m_max = max(int(md.max()), 1)
        keys = uniform((rows.numel(), n_splits, m_max), generator, device)
        keys = torch.where(torch.arange(m_max, device=device) < md[:, None, None], keys, 2.0)
        take = min(k_max, m_max)
        drawn = keys.topk(take, dim=-1, largest=False, sorted=True).indices
        out[rows, :, :take] = drawn.masked_fill_(slot[:take] >= k[rows, None, None], 0)
        if not sparse.numel():
            return out
    size = m[sparse].repeat_interleave(n_splits)  # per split
    per_split = k[sparse].repeat_interleave(n_splits)
    used = slot < per_split[:, None]  # (splits, k_max)
    limit = size.repeat_interleave(per_split).to(torch.float64)  # per drawn slot, row-major
    # unused slots hold distinct values above every index: they sort last and never repeat
    values = (int(size.max()) + 1 + slot).expand(size.numel(), k_max).clone()
    values.masked_scatter_(used, (uniform((limit.numel(),), generator, device) * limit).long())
    todo = torch.arange(size.numel(), device=device)  # splits that may hold a repeat
    while todo.numel():
        part = _sort_rows(values.index_select(0, todo)).to(device)
        values.index_copy_(0, todo, part)
        split, at = (part[:, 1:] == part[:, :-1]).nonzero(as_tuple=True)
        if not split.numel():
            break
        split = todo.index_select(0, split)
        fresh = uniform((split.numel(),), generator, device) * size.index_select(0, split)
        values.view(-1).index_copy_(0, split * k_max + at + 1, fresh.long())
        todo = torch.unique(split)
    flat = values.masked_fill_(~used, 0).view(sparse.numel(), n_splits, k_max)
    if out is None:
        return flat
    out[sparse] = flat
    return out


def _shuffled_negatives(
    n: Tensor, other: Positions, n_splits: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """The shuffled-AUC negatives: ``K = min(N, M)`` distinct pixels of ``other`` per split.

    Returns ``(draws, k)``: ``(b, n_splits, max(k))`` int64 indices into each row's list of
    ``other`` pixels (slots past ``k`` hold 0) and the ``(b,)`` int64 ``K``.
    """
    k = torch.minimum(n, other.counts)
    return _draw_subsets(other.counts, k, n_splits, generator), k


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


def _shuffled_prepare(batch: Batch) -> tuple[Tensor, Tensor]:
    gen = batch.generators.get("sAUC")
    return _shuffled_negatives(batch.fix.counts, batch.other, batch.n_splits, gen)


def _shuffled_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    there = chunk.other
    return (*_fixated(batch, chunk), chunk.s.gather(there.rows, there.cols))


def _shuffled_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    fixated, lo, hi, values = parts
    draws, k = batch.prepared["sAUC"]
    score = _shuffled_finish(fixated, batch.fix, values, batch.other, draws, k, lo, hi, batch.step)
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
        prepare=_shuffled_prepare,
        fixations=True,
        other=True,
    )
)
BORJI = register(
    MetricSpec("AUC_B", _borji_update, _borji_compute, prepare=_borji_prepare, fixations=True)
)
