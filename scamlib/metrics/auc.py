"""Area-under-ROC saliency metrics with MIT saliency benchmark semantics (SPEC §11).

AUC-Judd, shuffled AUC and AUC-Borji as the MATLAB code of the MIT saliency benchmark
(``cvzoya/saliency``, ``code_forMetrics``) computes them, batched over maps and vectorised over
thresholds and random splits. They are not equations of STANet+; the papers report them with
these semantics (STAViS evaluation code).

Shared conventions: ``pred`` is ``(h, w)`` or ``(b, h, w)`` float, already at the ground-truth
size (resizing is :mod:`scamlib.metrics.protocol`'s job); a fixation map is bool or numeric with
``> 0`` meaning fixated, each fixated pixel counting once. Internals run in float64 on the
input's device; the result is a 0-dim or ``(b,)`` float64 tensor.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._common import as_mask_rows, as_rows, finish, mit_minmax, pack, trapezoid, uniform

__all__ = ["auc_borji", "auc_judd", "auc_shuffled"]

#: Upper bound on random keys drawn at once by the shuffled AUC (memory guard, elements).
_CHUNK_ELEMENTS = 1 << 24


def _count_at_least(values: Tensor, thresholds: Tensor) -> Tensor:
    """``counts[..., k] = #{j : values[..., j] >= thresholds[..., k]}``, NaN values never count.

    ``thresholds`` is ascending, either ``(t,)`` shared by every row or ``(rows, t)`` with
    ``values`` ``(rows, m)``. Costs ``O(m log t)`` per row (a binary search per value and a
    histogram) instead of the ``O(m t)`` comparison table.
    """
    t = thresholds.shape[-1]
    safe = torch.nan_to_num(values, nan=-math.inf)
    # number of thresholds <= value, i.e. value >= thresholds[k] exactly for k < rank
    rank = torch.searchsorted(thresholds, safe.contiguous(), right=True)
    lead = rank.shape[:-1]
    rows = rank.reshape(-1, rank.shape[-1])
    offsets = torch.arange(rows.shape[0], device=rows.device)[:, None] * (t + 1)
    hist = torch.bincount((rows + offsets).flatten(), minlength=rows.shape[0] * (t + 1))
    hist = hist.view(rows.shape[0], t + 1)
    at_least = hist.flip(-1).cumsum(-1).flip(-1)[:, 1:]
    return at_least.reshape(*lead, t)


def _check_splits(n_splits: int, step: float) -> None:
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 1:
        raise ValueError(f"n_splits must be a positive int, got {n_splits!r}")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
        raise ValueError(f"step must be a number in (0, 1], got {step!r}")


def _step_thresholds(step: float, device: torch.device) -> Tensor:
    """``0 : step : 1`` ascending, as ``k * step`` (float64).

    MATLAB sweeps ``0 : step : max(values)``; thresholds above the largest sampled value only
    add ``(0, 0)`` points to the ROC, which leave the trapezoid sum unchanged, so one sweep up
    to 1 (the maximum of a min-max normalised map) serves every split.
    """
    count = math.floor(1.0 / step + 1e-9) + 1
    return torch.arange(count, device=device, dtype=torch.float64) * step


def _step_auc(pos: Tensor, n: Tensor, neg_counts: Tensor, k: Tensor, thr: Tensor) -> Tensor:
    """Mean over splits of the fixed-threshold ROC area.

    Args:
        pos: ``(b, n_max)`` fixated values, NaN padded. ``n``: ``(b,)`` their number.
        neg_counts: ``(b, s, t)`` number of negatives ``>= thr[k]`` per split.
        k: ``(b,)`` negatives per split. ``thr``: ``(t,)`` ascending thresholds.

    Returns:
        ``(b,)`` areas; NaN where ``n == 0`` or ``k == 0``.
    """
    nf = n.to(torch.float64)[:, None, None]
    kf = k.to(torch.float64)[:, None, None]
    tp = _count_at_least(pos, thr)[:, None, :] / nf  # (b, 1, t)
    fp = neg_counts / kf  # (b, s, t)
    tp = tp.expand_as(fp)
    zeros = fp.new_zeros(fp.shape[:-1] + (1,))
    ones = fp.new_ones(fp.shape[:-1] + (1,))
    # descending thresholds, framed by (0, 0) and (1, 1)
    fp = torch.cat([zeros, fp.flip(-1), ones], dim=-1)
    tp = torch.cat([zeros, tp.flip(-1), ones], dim=-1)
    score = trapezoid(fp, tp).mean(dim=-1)
    return torch.where((n > 0) & (k > 0), score, torch.nan)


def auc_judd(
    pred: Tensor,
    fixations: Tensor,
    jitter: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """AUC-Judd: ROC area with every fixated value as a threshold (MIT ``AUC_Judd.m``; SPEC §11).

    With ``S`` the prediction, ``N`` fixated pixels out of ``P``:

    1. ``jitter``: ``S += U[0, 1) * 1e-7`` to break ties (MATLAB ``rand / 1e7``).
    2. ``S = (S - min S) / (max S - min S)``.
    3. Thresholds ``thr_i`` = the fixated values sorted descending, one per fixated pixel
       (ties are not merged). ``tp_i = i / N``, ``fp_i = (#{S >= thr_i} - i) / (P - N)``.
    4. Trapezoid area under ``(0, 0), (fp_1, tp_1), ..., (fp_N, tp_N), (1, 1)``.

    pysaliency's ``AUC_Judd`` differs: it merges tied thresholds, counts a pixel fixated twice
    twice and does not min-max normalise, so scores differ slightly on maps with ties.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction at the ground-truth size.
        fixations: same shape, bool (or numeric, ``> 0`` = fixated) fixation map.
        jitter: add the ``1e-7`` uniform noise (MIT default ``True``).
        generator: random source of the jitter (seed it for reproducible scores).

    Returns:
        ``()`` or ``(b,)`` float64 scores in ``[0, 1]``. NaN for a map without fixations, and
        for a constant map when ``jitter=False`` (MATLAB's ``0 / 0`` normalisation would give a
        meaningless number there). ``P == N`` (every pixel fixated) gives NaN as in MATLAB.

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, wrong number of axes, NaN/Inf in ``pred``.

    Example:
        >>> pred = torch.tensor([[0.9, 0.1, 0.2], [0.3, 0.8, 0.4], [0.5, 0.6, 0.7]])
        >>> fix = torch.zeros(3, 3, dtype=torch.bool)
        >>> fix[0, 0] = fix[1, 1] = True
        >>> auc_judd(pred, fix, jitter=False)
        tensor(1., dtype=torch.float64)
    """
    s, batched = as_rows(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    return finish(_auc_judd_rows(s, fix, jitter, generator), batched)


def _auc_judd_rows(
    s: Tensor, fix: Tensor, jitter: bool, generator: torch.Generator | None
) -> Tensor:
    """:func:`auc_judd` on checked ``(b, p)`` float64 rows and bool masks; ``(b,)`` scores."""
    b, p = s.shape
    if jitter:
        # float32 draws suffice: 24 random bits far below the 1e-7 amplitude
        s = s + uniform((b, p), generator, s.device, torch.float32) * 1e-7
    s = mit_minmax(s)
    constant = torch.isnan(s[:, 0])
    s = torch.nan_to_num(s, nan=0.0)
    thr, n = pack(s, fix, math.inf)
    thr_asc = thr.sort(dim=1).values  # padding (+inf) last
    at_least = _count_at_least(s, thr_asc)  # (b, n_max): #{S >= thr_asc[j]}
    i = torch.arange(1, thr.shape[1] + 1, device=s.device)
    # the i-th largest threshold sits at ascending position n - i
    above = at_least.gather(1, (n[:, None] - i).clamp(min=0))
    valid = i <= n[:, None]
    nf = n.to(torch.float64)[:, None]
    tp = torch.where(valid, i / nf, 1.0)
    fp = torch.where(valid, (above - i) / (p - nf), 1.0)
    zeros = tp.new_zeros(b, 1)
    ones = tp.new_ones(b, 1)
    score = trapezoid(torch.cat([zeros, fp, ones], 1), torch.cat([zeros, tp, ones], 1))
    return torch.where((n > 0) & ~constant, score, torch.nan)


def auc_shuffled(
    pred: Tensor,
    fixations: Tensor,
    other: Tensor,
    n_splits: int = 100,
    step: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Shuffled AUC: negatives drawn from other frames' fixations (MIT ``AUC_shuffled.m``).

    SPEC §11. With ``S = minmax(S)`` (no jitter), ``N`` fixated pixels and the ``M`` pixels of
    ``other``: every split draws ``K = min(N, M)`` distinct pixels of ``other`` uniformly
    (without replacement). Thresholds sweep ``0 : step : max`` descending; ``tp(t) = #(S_fix >= t)
    / N``, ``fp(t) = #(S_neg >= t) / K``; the ROC is framed by ``(0, 0)`` and ``(1, 1)`` and
    integrated by the trapezoid rule; the score is the mean over splits. In the STAViS protocol
    ``other`` is the union of a video's fixation maps minus the current frame's fixations
    (:func:`scamlib.metrics.protocol.shuffled_other`).

    Thresholds are computed as ``k * step``; MATLAB's colon operator may differ in the last bit,
    which matters only for a value exactly on a threshold. A constant map normalises to NaN in
    MATLAB, every comparison is false and the ROC is the diagonal: the score is 0.5, here too.

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
        ``()`` or ``(b,)`` float64 scores in ``[0, 1]``; NaN without fixations or when ``other``
        is empty.

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
    _check_splits(n_splits, step)
    s, batched = as_rows(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    oth = as_mask_rows(other, "other", pred, "pred")
    return finish(_auc_shuffled_rows(s, fix, oth, n_splits, step, generator), batched)


def _auc_shuffled_rows(
    s: Tensor,
    fix: Tensor,
    oth: Tensor,
    n_splits: int,
    step: float,
    generator: torch.Generator | None,
) -> Tensor:
    """:func:`auc_shuffled` on checked ``(b, p)`` rows and bool masks; ``(b,)`` scores."""
    b, p = s.shape
    s = mit_minmax(s)
    pos, n = pack(s, fix, math.nan)
    where_other, m = pack(torch.arange(p, device=s.device).expand(b, p), oth, -1)
    k = torch.minimum(n, m)
    k_max = max(int(k.max()), 1)
    m_max = where_other.shape[1]
    thr = _step_thresholds(step, s.device)
    slot_ok = where_other >= 0  # (b, m_max)
    take = torch.arange(k_max, device=s.device) < k[:, None]  # (b, k_max)
    chunk = max(1, min(n_splits, _CHUNK_ELEMENTS // max(b * m_max, 1)))
    counts = []
    for start in range(0, n_splits, chunk):
        splits = min(chunk, n_splits - start)
        keys = uniform((b, splits, m_max), generator, s.device)
        keys = torch.where(slot_ok[:, None, :], keys, 2.0)
        # the k smallest of i.i.d. keys: a uniform draw without replacement
        drawn = keys.topk(min(k_max, m_max), dim=-1, largest=False, sorted=True).indices
        pixels = where_other.gather(1, drawn.flatten(1)).clamp(min=0)
        values = s.gather(1, pixels).view(b, splits, -1)
        values = torch.where(take[:, None, : values.shape[-1]], values, torch.nan)
        counts.append(_count_at_least(values, thr))
    return _step_auc(pos, n, torch.cat(counts, dim=1), k, thr)


def auc_borji(
    pred: Tensor,
    fixations: Tensor,
    n_splits: int = 100,
    step: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """AUC-Borji: negatives drawn uniformly from all pixels (MIT ``AUC_Borji.m``; SPEC §11).

    As :func:`auc_shuffled`, except that every split draws ``N`` pixel positions uniformly from
    all ``P`` pixels *with* replacement (fixated pixels included) and ``fp(t) = #(S_neg >= t) /
    N``. The MIT code returns NaN only for an empty fixation map (its ``~any(fixationMap)``
    test), so a single fixation gets a score here too.

    pysaliency's ``AUC`` with ``nonfixations='uniform'`` differs: it uses every pixel as a
    negative with the exact ROC, so it has no sampling noise and no threshold step.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction at the ground-truth size.
        fixations: same shape, bool (``> 0`` = fixated).
        n_splits: number of random draws (MIT default 100).
        step: threshold step (MIT default 0.1).
        generator: random source of the draws; the same seed gives the same score.

    Returns:
        ``()`` or ``(b,)`` float64 scores in ``[0, 1]``; NaN without fixations; 0.5 for a
        constant map (see :func:`auc_shuffled`).

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, NaN/Inf in ``pred``, ``n_splits`` or ``step`` out of range.

    Example:
        >>> pred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        >>> fix = torch.tensor([[False, False], [False, True]])
        >>> auc_borji(pred, fix, n_splits=10)  # the fixated pixel is among the lowest
        tensor(0..., dtype=torch.float64)
    """
    _check_splits(n_splits, step)
    s, batched = as_rows(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    return finish(_auc_borji_rows(s, fix, n_splits, step, generator), batched)


def _auc_borji_rows(
    s: Tensor, fix: Tensor, n_splits: int, step: float, generator: torch.Generator | None
) -> Tensor:
    """:func:`auc_borji` on checked ``(b, p)`` rows and bool masks; ``(b,)`` scores."""
    b, p = s.shape
    s = mit_minmax(s)
    pos, n = pack(s, fix, math.nan)
    n_max = pos.shape[1]
    draw_on = generator.device if generator is not None else s.device
    pixels = torch.randint(p, (b, n_splits * n_max), generator=generator, device=draw_on)
    values = s.gather(1, pixels.to(s.device)).view(b, n_splits, n_max)
    take = torch.arange(n_max, device=s.device) < n[:, None]
    values = torch.where(take[:, None, :], values, torch.nan)
    thr = _step_thresholds(step, s.device)
    return _step_auc(pos, n, _count_at_least(values, thr), n, thr)
