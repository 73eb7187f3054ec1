"""Value- and distribution-based saliency metrics with MIT benchmark semantics.

NSS, CC, SIM and KLD as the MATLAB code of the MIT saliency benchmark (``cvzoya/saliency``)
computes them, batched over maps: each metric's kernels, its registration and its public
function. ``pred`` is ``(h, w)`` or ``(b, h, w)`` float (a tensor or a numpy array) at the
ground-truth size; internals run in float64 on the input's device; results are 0-dim or
``(b,)`` float64 tensors. Not equations of STANet+; the papers report them with these
semantics (STAViS evaluation code).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._validation import check_same_shape
from ._common import EPS, Positions, Rows, Workspace, as_maps, as_mask_rows, finish, scratch
from ._engine import score_maps
from ._registry import Batch, Chunk, MetricSpec, register

__all__ = ["cc", "kld", "nss", "sim"]


def _pair(name: str, pred: Tensor, density: Tensor) -> Tensor:
    """Check a prediction / density pair and score metric ``name`` on it (chunked)."""
    maps, batched = as_maps(pred, "pred")
    dens, _ = as_maps(density, "density")
    check_same_shape(dens, maps, "density", "pred")
    return finish(score_maps(name, maps, density=dens.to(maps.device)), batched)


def nss(pred: Tensor, fixations: Tensor) -> Tensor:
    """Normalized scanpath saliency (MIT ``NSS.m``).

    ``NSS = mean over fixated pixels of (S - mean S) / std S``, ``std`` the sample standard
    deviation (MATLAB ``std``, divisor ``P - 1``), each fixated pixel counted once.

    pysaliency's ``NSS`` differs: population std (divisor ``P``, scores larger by
    ``sqrt(P / (P - 1))``), every fixation counted (duplicates twice), and no division for a
    constant map.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction.
        fixations: same shape, bool (``> 0`` = fixated).

    Returns:
        ``()`` or ``(b,)`` float64; NaN for a constant map or a map without fixations.

    Raises:
        TypeError: non-tensor or non-float ``pred``.
        ValueError: shapes differ, wrong number of axes, NaN/Inf in ``pred``.

    Example:
        >>> fix = torch.tensor([[False, True], [False, False]])
        >>> nss(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), fix)
        tensor(0.8660, dtype=torch.float64)
    """
    maps, batched = as_maps(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", maps if batched else maps[0], "pred")
    return finish(score_maps("NSS", maps, fixations=fix), batched)


def _nss_finish(
    total: Tensor, css: Tensor, constant: Tensor, fixated: Tensor, fix: Positions
) -> Tensor:
    """NSS from the row sums, centred sums of squares (:attr:`Rows.css`) and fixated values.

    ``mean = sum / P``, ``std = sqrt(css / (P - 1))``; the fixated values are listed in
    ``fix`` order, each fixated pixel once.
    """
    p = fix.p
    n = fix.counts
    mean = total / p
    std = torch.sqrt(css / (p - 1))
    fixated_sum = torch.zeros_like(mean).index_add_(0, fix.rows, fixated)
    score = (fixated_sum / n - mean) / std
    return torch.where((n > 0) & ~constant, score, torch.nan)


def cc(pred: Tensor, density: Tensor) -> Tensor:
    """Pearson linear correlation coefficient of prediction and ground truth (MIT ``CC.m``).

    ``CC = sum(a b) / sqrt(sum(a^2) sum(b^2))`` with ``a``, ``b`` the mean-centred
    maps (MATLAB standardises both, then ``corr2``: the same number).

    pysaliency's ``CC`` differs on a constant prediction: it returns 0 where MATLAB gives NaN.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction.
        density: same shape, continuous ground-truth map (the STAViS ``eyeMap``).

    Returns:
        ``()`` or ``(b,)`` float64 in ``[-1, 1]``; NaN when either map is constant.

    Raises:
        TypeError: non-tensor or non-float input.
        ValueError: shapes differ, wrong number of axes, NaN/Inf.

    Example:
        >>> cc(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[1.0, 3.0], [5.0, 7.0]]))
        tensor(1., dtype=torch.float64)
    """
    return _pair("CC", pred, density)


def _cc_finish(cov: Tensor, css_s: Tensor, css_g: Tensor, constant: Tensor) -> Tensor:
    """CC from the centred cross and square sums; NaN where either map is constant."""
    return torch.where(constant, torch.nan, cov / torch.sqrt(css_s * css_g))


def sim(pred: Tensor, density: Tensor) -> Tensor:
    """Similarity (histogram intersection) of prediction and ground truth (MIT ``similarity.m``).

    Each map that is not all zero is min-max normalised and divided by its sum (an
    all-zero map stays zero); ``SIM = sum(min(P, G))``.

    pysaliency's ``SIM`` differs: it does not min-max normalise (it shifts a map only when it
    has negative values), so a map with a positive floor scores differently, and a constant map
    becomes uniform instead of NaN.

    Args:
        pred, density: the prediction and the continuous ground-truth map, float tensors of
            one shape, ``(h, w)`` or ``(b, h, w)`` (as for :func:`cc`).

    Returns:
        ``()`` or ``(b,)`` float64 in ``[0, 1]``; NaN when either map is constant and non-zero;
        0 when either map is all zero.

    Raises:
        TypeError / ValueError: as :func:`cc` (non-float input; shapes, axes, NaN/Inf).

    Example:
        >>> sim(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        tensor(0.5000, dtype=torch.float64)
    """
    return _pair("SIM", pred, density)


class _SimStats(NamedTuple):
    """The row statistics SIM needs of one map: minimum, maximum, sum and the pixel count."""

    min: Tensor
    max: Tensor
    sum: Tensor
    p: int

    @staticmethod
    def of(rows: Rows) -> _SimStats:
        return _SimStats(rows.min, rows.max, rows.sum, rows.values.shape[1])

    def inverse_mass(self) -> Tensor:
        """``1 / sum(x - min x)``: the MIT normalisation is ``(x - min) / sum(x - min)``."""
        return 1 / (self.sum - self.p * self.min)


def _sim_excess(s: Rows, g: Rows, ws: Workspace | None = None) -> Tensor:
    """The one pass of SIM over the pixels: ``sum(max(S - r G, e)) - P e``, see :func:`_sim_finish`.

    With ``a = 1 / sum(S - min S)``, ``c = 1 / sum(G - min G)``, ``r = c / a`` and
    ``e = min S - r min G``: one pass for ``S - r G``, one clamp and one sum.
    """
    ss, gs = _SimStats.of(s), _SimStats.of(g)
    ratio = gs.inverse_mass() / ss.inverse_mass()
    e = ss.min - ratio * gs.min
    d = scratch(ws, "sim", s.values.shape, s.values.dtype, s.values.device)
    if d.device.type == "cpu":  # one fused pass per row (alpha is a number)
        for k, r in enumerate(ratio.tolist()):
            torch.add(s.values[k], g.values[k], alpha=-r, out=d[k])
    else:
        torch.mul(g.values, -ratio[:, None], out=d).add_(s.values)
    excess = torch.maximum(d, e.to(d.dtype)[:, None], out=d).sum(dim=1).to(torch.float64)
    return excess - ss.p * e.to(d.dtype).to(torch.float64)


def _sim_finish(excess: Tensor, s: _SimStats, g: _SimStats) -> Tensor:
    """SIM from :func:`_sim_excess`: ``1 - a excess``; zero and constant maps handled.

    With the MIT normalisation ``x = a (S - min S)`` and ``y = c (G - min G)`` (min-max, then
    divided by the sum), ``sum(x) = 1`` and ``SIM = sum(min(x, y)) = 1 - sum(max(x - y, 0))``,
    and ``max(x - y, 0) = a (max(S - r G, e) - e)``. All-zero maps (kept as zeros by MATLAB)
    score 0, constant non-zero maps NaN (MATLAB's ``0 / 0``).
    """
    score = 1 - s.inverse_mass() * excess
    zero_s = (s.max == 0) & (s.min == 0)
    zero_g = (g.max == 0) & (g.min == 0)
    score = torch.where(zero_s | zero_g, 0.0, score)
    constant = ((s.max == s.min) & ~zero_s) | ((g.max == g.min) & ~zero_g)
    return torch.where(constant, torch.nan, score)


def kld(pred: Tensor, density: Tensor) -> Tensor:
    """Kullback-Leibler divergence of the prediction from the ground truth (MIT ``KLdiv.m``).

    Each map that is not all zero is divided by its sum (no min-max);
    ``KLD = sum(G * log(eps + G / (S + eps)))`` with ``eps = 2.220446049250313e-16`` (MATLAB
    ``eps``). Lower is better.

    pysaliency's ``MIT_KLDiv`` uses the same formula with ``eps`` rounded to ``2.2204e-16`` and
    shifts maps with negative values to a zero minimum first.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction (non-negative for a meaningful score).
        density: same shape, continuous ground-truth map.

    Returns:
        ``()`` or ``(b,)`` float64, ``>= 0`` for non-negative maps.

    Raises:
        TypeError: non-tensor or non-float input.
        ValueError: shapes differ, wrong number of axes, NaN/Inf.

    Example:
        >>> g = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> bool(kld(g, g).abs() < 1e-12)
        True
    """
    return _pair("KLD", pred, density)


def _kld_rows(s: Rows, g: Rows) -> Tensor:
    """:func:`kld` on checked ``(b, p)`` float64 rows."""

    def normalise(rows: Rows) -> Tensor:
        total = torch.where(rows.zero, 1.0, rows.sum)
        return rows.values.to(torch.float64) / total[:, None]

    q, r = normalise(s), normalise(g)
    return (r * torch.log(EPS + r / (q + EPS))).sum(dim=1)


# ----------------------------------------------------------------------------------------------
# registration: the kernels the engine runs (see scamlib.metrics._registry)


def _nss_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    s = chunk.s
    return s.sum, s.css, s.constant, chunk.fixated


def _nss_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    total, css, constant, fixated = parts
    return _nss_finish(total, css, constant, fixated, batch.fix)


def _cc_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    s, g = chunk.s, chunk.g
    return s.cross(g), s.css, g.css, (s.max == s.min) | (g.max == g.min)


def _cc_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    return _cc_finish(*parts).clamp_(-1.0, 1.0)


def _sim_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    s, g = chunk.s, chunk.g
    return _sim_excess(s, g, chunk.ws), s.min, s.max, s.sum, g.min, g.max, g.sum


def _sim_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    excess, s_lo, s_hi, s_sum, g_lo, g_hi, g_sum = parts
    score = _sim_finish(
        excess, _SimStats(s_lo, s_hi, s_sum, batch.p), _SimStats(g_lo, g_hi, g_sum, batch.p)
    )
    return score.clamp_(0.0, 1.0)


def _kld_update(batch: Batch, chunk: Chunk) -> tuple[Any, ...]:
    return (_kld_rows(chunk.s, chunk.g),)


def _kld_compute(batch: Batch, parts: tuple[Any, ...]) -> Tensor:
    return parts[0]


METRICS = (
    register(MetricSpec("SIM", _sim_update, _sim_compute, density=True)),
    register(MetricSpec("CC", _cc_update, _cc_compute, density=True)),
    register(MetricSpec("NSS", _nss_update, _nss_compute, fixations=True, extrema=False)),
    register(MetricSpec("KLD", _kld_update, _kld_compute, density=True)),
)
