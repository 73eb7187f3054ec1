"""AUC-Judd with MIT saliency benchmark semantics: kernels, registration, public function.

AUC-Judd as the MATLAB code of the MIT saliency benchmark (``cvzoya/saliency``,
``code_forMetrics/AUC_Judd.m``) computes it, batched over maps. It is not an equation of
STANet+; the papers report it with these semantics (STAViS evaluation code, STANet+ Sec. 4.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from ._engine import score_maps
from ._registry import Batch, Chunk, MetricSpec, register

__all__ = ["JuddParts", "auc_judd"]

#: Amplitude of the AUC-Judd jitter, MATLAB ``rand(size(S)) / 10000000``.
_JITTER = 1e-7
#: Target number of pixels per histogram bucket of the AUC-Judd counting.
_PIXELS_PER_BUCKET = 8


def auc_judd(
    pred: Tensor,
    fixations: Tensor,
    jitter: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """AUC-Judd: ROC area with every fixated value as a threshold (MIT ``AUC_Judd.m``).

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
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", maps if batched else maps[0], "pred")
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


def _update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    parts = _judd_parts(chunk.s, chunk.fix, batch.jitter, source=chunk.source, ws=chunk.ws)
    return parts.shifted(chunk.start, batch.p), chunk.s.min, chunk.s.max


def _cat(parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    judd, lo, hi = zip(*parts)
    return JuddParts.cat(judd), torch.cat(lo), torch.cat(hi)


def _compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    judd, lo, hi = parts
    gen = batch.generators.get("AUC_J")
    return _judd_finish(judd, batch.fix, lo == hi, batch.jitter, gen).clamp_(0.0, 1.0)


METRIC = register(MetricSpec("AUC_J", _update, _compute, fixations=True, cat=_cat))
