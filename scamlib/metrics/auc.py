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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ._common import (
    EPS,
    Positions,
    Rows,
    Workspace,
    as_maps,
    as_mask_rows,
    finish,
    nonzero_rows,
    pack_by_row,
    scratch,
    trapezoid,
    uniform,
)

__all__ = ["auc_borji", "auc_judd", "auc_shuffled"]

#: Amplitude of the AUC-Judd jitter, MATLAB ``rand(size(S)) / 10000000``.
_JITTER = 1e-7
#: Target number of pixels per histogram bucket of the AUC-Judd counting.
_PIXELS_PER_BUCKET = 8


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


def _levels(values: Tensor, lo: Tensor, span: Tensor, thr: Tensor) -> Tensor:
    """Threshold level of MIT-normalised values: ``#{k : (v - lo) / span >= thr[k]}``.

    ``lo`` and ``span`` broadcast against ``values``. ``value >= thr[t]`` exactly when
    ``level > t``. A constant map (``span == 0``) normalises to NaN, which is below every
    threshold (level 0), as in MATLAB.
    """
    return (((values - lo) / span)[..., None] >= thr).sum(dim=-1)


def _step_auc(pos: Tensor, n: Tensor, neg: Tensor, k: Tensor, t: int) -> Tensor:
    """Mean over splits of the fixed-threshold ROC area, from threshold levels.

    Args:
        pos: ``(b, n_max)`` levels (:func:`_levels`) of the fixated values, 0-padded.
        n: ``(b,)`` number of fixated values.
        neg: ``(b, s, k_max)`` levels of the negatives of every split (0 in unused slots).
        k: ``(b,)`` negatives per split. ``t``: number of thresholds.

    Returns:
        ``(b,)`` areas; NaN where ``n == 0`` or ``k == 0``.
    """
    b, splits, _ = neg.shape
    device = neg.device
    above = torch.arange(t, device=device)
    tp = (pos[..., None] > above).sum(dim=-2)[:, None, :] / n.to(torch.float64)[:, None, None]
    # negatives per level, then #{level > t} for every threshold t
    cell = torch.arange(b * splits, device=device).view(b, splits, 1) * (t + 1)
    hist = torch.bincount((neg + cell).view(-1), minlength=b * splits * (t + 1))
    counts = hist.view(b, splits, t + 1).flip(-1).cumsum(-1).flip(-1)[..., 1:]
    fp = counts / k.to(torch.float64)[:, None, None]  # (b, s, t)
    tp = tp.expand_as(fp)
    zeros = fp.new_zeros(fp.shape[:-1] + (1,))
    ones = fp.new_ones(fp.shape[:-1] + (1,))
    # descending thresholds, framed by (0, 0) and (1, 1)
    fp = torch.cat([zeros, fp.flip(-1), ones], dim=-1)
    tp = torch.cat([zeros, tp.flip(-1), ones], dim=-1)
    score = trapezoid(fp, tp).mean(dim=-1)
    return torch.where((n > 0) & (k > 0), score, torch.nan)


def _positive_levels(fixated: Tensor, fix: Positions, lo: Tensor, span: Tensor, thr: Tensor):
    """``(b, n_max)`` levels of the fixated values (listed in ``fix`` order), 0-padded."""
    r = fix.rows
    return fix.pack_flat(_levels(fixated, lo[r], span[r], thr), 0)


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
    thr = _step_thresholds(step, lo.device)
    pos = _positive_levels(fixated, fix, lo, span, thr)
    r = other.rows
    level = other.pack_flat(_levels(other_values, lo[r], span[r], thr), 0)
    b, splits, k_max = draws.shape
    neg = level.gather(1, draws.view(b, -1)).view(b, splits, k_max)
    neg = neg.masked_fill_(torch.arange(k_max, device=neg.device) >= k[:, None, None], 0)
    return _step_auc(pos, fix.counts, neg, k, thr.numel())


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

    The counts ``#{S >= thr_i}`` are exact without sorting the map: a histogram of the pixels
    over ``~P / 8`` value buckets decides every pixel whose bucket is not next to a threshold,
    and only the pixels in the buckets around a threshold (a few dozen per threshold) are
    compared one by one. The min-max of step 2 is increasing, so the comparisons are made on the
    un-normalised values (identical up to double rounding). The jitter only matters for pixels
    within ``1e-7`` of a threshold, so the uniform noise is drawn for those pixels only (the
    compared ones, in row-major order from ``generator``); every other pixel compares the same
    with or without it. The scores are distributed exactly as with noise on every pixel.

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
    from ._engine import score_maps

    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    generators = {"AUC_J": generator}
    scores = score_maps("AUC_J", maps, fixations=fix, jitter=jitter, generators=generators)
    return finish(scores, batched)


def _bucket_count(p: int) -> int:
    """Histogram buckets for ``p`` pixels: a power of two near ``p / 8`` (16 to 65536)."""
    return 1 << min(max((p // _PIXELS_PER_BUCKET).bit_length(), 4), 16)


@dataclass(frozen=True)
class JuddParts:
    """What AUC-Judd needs from the pixels of some maps (:func:`_judd_parts`).

    Attributes:
        above: ``(f,)`` int64, per fixated pixel (row-major): the pixels of the map that lie in
            histogram buckets above the threshold's band and hold no threshold, all of which
            are ``>= thr`` whatever the jitter.
        cand_rows, cand_linear: ``(c,)`` int64 row and ``row * p + col`` (ascending) of the
            pixels in buckets that hold a threshold's band ("candidates"): every fixated pixel
            and the few pixels close to one, compared one by one in :func:`_judd_finish`.
        cand_values: ``(c,)`` float64 values of the candidates (without jitter).
    """

    above: Tensor
    cand_rows: Tensor
    cand_linear: Tensor
    cand_values: Tensor

    def shifted(self, rows: int, p: int) -> JuddParts:
        """The same parts with the map rows numbered from ``rows`` (``p`` pixels per map)."""
        return JuddParts(
            self.above, self.cand_rows + rows, self.cand_linear + rows * p, self.cand_values
        )

    @staticmethod
    def cat(parts: Sequence[JuddParts]) -> JuddParts:
        """Concatenate the parts of consecutive chunks of maps (already :meth:`shifted`)."""
        return JuddParts(
            torch.cat([q.above for q in parts]),
            torch.cat([q.cand_rows for q in parts]),
            torch.cat([q.cand_linear for q in parts]),
            torch.cat([q.cand_values for q in parts]),
        )


def _judd_parts(
    rows: Rows,
    fix: Positions,
    jitter: bool,
    *,
    source: Tensor | None = None,
    ws: Workspace | None = None,
) -> JuddParts:
    """The pixel passes of AUC-Judd: a bucket histogram and the candidates of every map.

    ``bucket(x) = trunc(x * scale + origin)`` with ``scale = nb / (max - min)`` and a per-row
    origin (each row owns ``nb + 4`` buckets): buckets of equal width ``1 / scale``, a
    multiply-add per pixel (in float32 when ``source`` is given and its rounding stays below
    half a bucket). The rounding may differ by a few ulps between pixels, so around every
    threshold the buckets within ``reach`` (its band ``thr +- d``, ``d`` larger than the jitter
    or ``0`` without jitter, plus the rounding bound, plus one bucket) are "ambiguous": their
    pixels are listed as candidates and compared exactly in :func:`_judd_finish`. A pixel in
    any other bucket is certainly above or below the threshold and counted from the histogram.

    Args:
        rows: the maps' rows (float32 or float64). ``fix``: their fixations.
        jitter: whether the scores will be jittered (widens the bands).
        source: the same values in float32, for a cheaper bucket pass (optional; float32 rows
            are their own source).
        ws: scratch buffers for the per-pixel temporaries.
    """
    s = rows.values
    b, p = s.shape
    device = s.device
    nb = _bucket_count(p)
    stride = nb + 4  # a row's buckets: 2 spare, nb + 1 for the values, 1 spare
    work = s if source is None else source
    # the per-row bucket geometry, in Python floats (a few numbers per row)
    rows_lo, rows_hi = rows.min.tolist(), rows.max.tolist()
    scales, origins, sizes, bands = [], [], [], []
    for k, (lo, hi) in enumerate(zip(rows_lo, rows_hi)):
        magnitude = max(abs(lo), abs(hi))
        first = k * stride + 2  # the row's origin
        # a constant row is a single bucket; so is a row whose span is too small against its
        # magnitude for float64 to place its pixels reliably (rounding bound below half a bucket)
        scale = nb / (hi - lo) if hi > lo else 0.0
        if not 16 * EPS * (magnitude * scale + first + nb) < 0.5:
            scale = 0.0
        origin = first - lo * scale
        scales.append(scale)
        origins.append(origin)
        sizes.append(magnitude * scale + abs(origin) + nb)
        bands.append(2 * _JITTER + 8 * EPS * magnitude if jitter else 0.0)
    if work.dtype != torch.float64 and 4 * torch.finfo(work.dtype).eps * max(sizes) >= 0.5:
        work = s.to(torch.float64)  # too coarse to place the pixels in buckets: float64 pass
    eps = torch.finfo(work.dtype).eps
    # a pixel reach + 1 buckets away from a threshold is farther than the band from it
    reaches = [
        math.floor(band * scale + 8 * eps * size) + 1
        for band, scale, size in zip(bands, scales, sizes)
    ]
    shifted = scratch(ws, "judd_shifted", (b, p), work.dtype, device)
    if device.type == "cpu":  # one fused pass per row (alpha is a number)
        for k, (origin, scale) in enumerate(zip(origins, scales)):
            torch.add(work.new_tensor(origin), work[k], alpha=scale, out=shifted[k])
    else:
        torch.mul(work, work.new_tensor(scales)[:, None], out=shifted)
        shifted += work.new_tensor(origins)[:, None]
    bucket = scratch(ws, "judd_bucket", (b, p), torch.int32, device)
    bucket.copy_(shifted)  # truncation toward zero, as .to(torch.int32)
    hist = torch.bincount(bucket.view(-1), minlength=b * stride).view(b, stride)

    r = fix.rows
    own = bucket[r, fix.cols].to(torch.int64) - r * stride  # the thresholds' buckets in a row
    reach = torch.tensor(reaches, device=device).index_select(0, r)
    b_lo = (own - reach).clamp_(min=0)
    b_hi = (own + reach).clamp_(max=stride - 1)
    # buckets b_lo..b_hi of every band are ambiguous: +1 at the start, -1 past the end, cumsum
    base = r * (stride + 1)
    marks = torch.zeros(b * (stride + 1), device=device, dtype=torch.int32)
    ones = torch.ones_like(b_lo, dtype=torch.int32)
    marks.index_add_(0, torch.cat([base + b_lo, base + b_hi + 1]), torch.cat([ones, -ones]))
    ambiguous = marks.view(b, stride + 1)[:, :stride].cumsum(dim=1) > 0  # (b, stride)
    clear = hist.masked_fill_(ambiguous, 0).cumsum(dim=1)
    above = clear[:, -1].index_select(0, r) - clear.view(-1).index_select(0, r * stride + b_hi)
    cand = scratch(ws, "judd_candidates", (b, p), torch.bool, device)
    torch.index_select(ambiguous.view(-1), 0, bucket.view(-1), out=cand.view(-1))
    cand_rows, cand_cols = nonzero_rows(cand)
    values = rows.gather(cand_rows, cand_cols)
    return JuddParts(above, cand_rows, cand_rows * p + cand_cols, values)


def _judd_finish(
    parts: JuddParts,
    fix: Positions,
    constant: Tensor,
    jitter: bool,
    generator: torch.Generator | None,
) -> Tensor:
    """AUC-Judd scores from :func:`_judd_parts` (jitter, exact counts, ROC); ``(b,)``.

    The jitter noise is drawn for the candidates only, in row-major order; every fixated pixel
    is a candidate (its bucket lies in its own band), so its jittered value is found there.
    ``#{S >= thr}`` is the ``above`` count plus the candidates at or above the threshold.
    """
    b, p = fix.b, fix.p
    device = parts.cand_values.device
    n = fix.counts
    values = parts.cand_values
    if jitter:
        noise = uniform((values.numel(),), generator, device, torch.float32)
        values = values + noise.to(torch.float64) * _JITTER
    at = torch.searchsorted(parts.cand_linear, fix.linear).clamp_(max=max(values.numel() - 1, 0))
    thr = values[at] if values.numel() else values.new_zeros(fix.rows.numel())
    thr_sorted, order = fix.pack_flat(thr, math.inf).sort(dim=1)
    above_sorted = fix.pack_flat(parts.above, 0).gather(1, order)
    # rank = #{thresholds <= value}: a candidate counts for the `rank` smallest thresholds
    packed, _ = pack_by_row(parts.cand_rows, values, b, -math.inf)
    rank = torch.searchsorted(thr_sorted, packed, right=True)
    n_max = thr_sorted.shape[1]
    rank += torch.arange(b, device=device)[:, None] * (n_max + 1)
    hist = torch.bincount(rank.view(-1), minlength=b * (n_max + 1)).view(b, n_max + 1)
    count_asc = above_sorted + hist.flip(1).cumsum(1).flip(1)[:, 1:]  # #{S >= thr}, ascending

    # the MIT ROC: the i-th largest threshold sits at ascending position n - i
    i = torch.arange(1, n_max + 1, device=device)
    count = count_asc.gather(1, (n[:, None] - i).clamp(min=0))
    valid = i <= n[:, None]
    nf = n.to(torch.float64)[:, None]
    tp = torch.where(valid, i / nf, 1.0)
    fp = torch.where(valid, (count - i) / (p - nf), 1.0)
    zeros = tp.new_zeros(b, 1)
    ones = tp.new_ones(b, 1)
    score = trapezoid(torch.cat([zeros, fp, ones], 1), torch.cat([zeros, tp, ones], 1))
    ok = (n > 0) & (n < p) & (~constant | jitter)
    return torch.where(ok, score, torch.nan)


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

    The draw without replacement costs ``O(K)`` per split, not ``O(M)``: ``K`` positions are
    drawn uniformly with replacement and repeated ones are drawn again until all differ (any
    rule that treats the ``M`` pixels symmetrically yields a uniformly random ``K``-subset);
    when ``K > M / 2`` the ``K`` smallest of ``M`` uniform keys are taken instead.

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
    from ._engine import score_maps

    _check_splits(n_splits, step)
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    oth = as_mask_rows(other, "other", pred, "pred")
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
    """AUC-Borji: negatives drawn uniformly from all pixels (MIT ``AUC_Borji.m``; SPEC §11).

    As :func:`auc_shuffled`, except that every split draws ``N`` pixel positions uniformly from
    all ``P`` pixels *with* replacement (fixated pixels included) and ``fp(t) = #(S_neg >= t) /
    N``.

    NaN when ``N <= 1``, as specified for scamlib (issue 3): with a single fixation every split
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
        pixels; 0.5 for a constant map (see :func:`auc_shuffled`).

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, NaN/Inf in ``pred``, ``n_splits`` or ``step`` out of range.

    Example:
        >>> pred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        >>> fix = torch.tensor([[False, True], [False, True]])
        >>> auc_borji(pred, fix, n_splits=10)  # the fixated pixels are among the lowest
        tensor(0..., dtype=torch.float64)
    """
    from ._engine import score_maps

    _check_splits(n_splits, step)
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
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
    thr = _step_thresholds(step, lo.device)
    pos = _positive_levels(fixated, fix, lo, span, thr)
    neg = _levels(negatives, lo[:, None, None], span[:, None, None], thr)
    n = fix.counts
    neg = neg.masked_fill_(torch.arange(neg.shape[-1], device=neg.device) >= n[:, None, None], 0)
    score = _step_auc(pos, n, neg, n, thr.numel())
    return torch.where(n > 1, score, torch.nan)
