"""Value- and distribution-based saliency metrics with MIT benchmark semantics (SPEC §11).

NSS, CC, SIM and KLD as the MATLAB code of the MIT saliency benchmark (``cvzoya/saliency``)
computes them, batched over maps. ``pred`` is ``(h, w)`` or ``(b, h, w)`` float at the
ground-truth size; internals run in float64 on the input's device; results are 0-dim or
``(b,)`` float64 tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_same_shape
from ._common import EPS, as_mask_rows, as_rows, finish, mit_minmax

__all__ = ["cc", "kld", "nss", "sim"]


def _constant(rows: Tensor) -> Tensor:
    """``(b,)`` bool: rows whose values are all equal."""
    return rows.amax(dim=1) == rows.amin(dim=1)


def _pair(pred: Tensor, density: Tensor) -> tuple[Tensor, Tensor, bool]:
    s, batched = as_rows(pred, "pred")
    check_same_shape(density, pred, "density", "pred")
    g, _ = as_rows(density, "density")
    return s, g.to(s.device), batched


def nss(pred: Tensor, fixations: Tensor) -> Tensor:
    """Normalized scanpath saliency (MIT ``NSS.m``; SPEC §11).

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
    s, batched = as_rows(pred, "pred")
    fix = as_mask_rows(fixations, "fixations", pred, "pred")
    return finish(_nss_rows(s, fix), batched)


def _nss_rows(s: Tensor, fix: Tensor) -> Tensor:
    """:func:`nss` on checked ``(b, p)`` float64 rows and bool masks."""
    mean = s.mean(dim=1)
    std = s.std(dim=1)
    n = fix.sum(dim=1)
    fixated_sum = torch.linalg.vecdot(s, fix.to(s.dtype))
    score = (fixated_sum / n - mean) / std
    return torch.where((n > 0) & ~_constant(s), score, torch.nan)


def cc(pred: Tensor, density: Tensor) -> Tensor:
    """Pearson linear correlation coefficient of prediction and ground truth (MIT ``CC.m``).

    SPEC §11. ``CC = sum(a b) / sqrt(sum(a^2) sum(b^2))`` with ``a``, ``b`` the mean-centred
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
    s, g, batched = _pair(pred, density)
    return finish(_cc_rows(s, g), batched)


def _cc_rows(s: Tensor, g: Tensor) -> Tensor:
    """:func:`cc` on checked ``(b, p)`` float64 rows."""
    a = s - s.mean(dim=1, keepdim=True)
    b = g - g.mean(dim=1, keepdim=True)
    vecdot = torch.linalg.vecdot
    score = vecdot(a, b) / torch.sqrt(vecdot(a, a) * vecdot(b, b))
    return torch.where(_constant(s) | _constant(g), torch.nan, score)


def _sim_normalise(rows: Tensor) -> Tensor:
    """MIT ``similarity.m``: a map that is not all zero is min-max normalised, then sums to 1."""
    nonzero = (rows != 0).any(dim=1, keepdim=True)
    scaled = mit_minmax(rows)
    scaled = scaled / scaled.sum(dim=1, keepdim=True)
    return torch.where(nonzero, scaled, rows)


def sim(pred: Tensor, density: Tensor) -> Tensor:
    """Similarity (histogram intersection) of prediction and ground truth (MIT ``similarity.m``).

    SPEC §11. Each map that is not all zero is min-max normalised and divided by its sum (an
    all-zero map stays zero); ``SIM = sum(min(P, G))``.

    pysaliency's ``SIM`` differs: it does not min-max normalise (it shifts a map only when it
    has negative values), so a map with a positive floor scores differently, and a constant map
    becomes uniform instead of NaN.

    Args:
        pred: ``(h, w)`` or ``(b, h, w)`` float prediction.
        density: same shape, continuous ground-truth map.

    Returns:
        ``()`` or ``(b,)`` float64 in ``[0, 1]``; NaN when either map is constant and non-zero;
        0 when either map is all zero.

    Raises:
        TypeError: non-tensor or non-float input.
        ValueError: shapes differ, wrong number of axes, NaN/Inf.

    Example:
        >>> sim(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        tensor(0.5000, dtype=torch.float64)
    """
    s, g, batched = _pair(pred, density)
    return finish(_sim_rows(s, g), batched)


def _sim_rows(s: Tensor, g: Tensor) -> Tensor:
    """:func:`sim` on checked ``(b, p)`` float64 rows."""
    return torch.minimum(_sim_normalise(s), _sim_normalise(g)).sum(dim=1)


def kld(pred: Tensor, density: Tensor) -> Tensor:
    """Kullback-Leibler divergence of the prediction from the ground truth (MIT ``KLdiv.m``).

    SPEC §11. Each map that is not all zero is divided by its sum (no min-max);
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
    s, g, batched = _pair(pred, density)
    return finish(_kld_rows(s, g), batched)


def _kld_rows(s: Tensor, g: Tensor) -> Tensor:
    """:func:`kld` on checked ``(b, p)`` float64 rows."""

    def normalise(rows: Tensor) -> Tensor:
        nonzero = (rows != 0).any(dim=1, keepdim=True)
        return torch.where(nonzero, rows / rows.sum(dim=1, keepdim=True), rows)

    s, g = normalise(s), normalise(g)
    return (g * torch.log(EPS + g / (s + EPS))).sum(dim=1)
