"""Training objectives: MSM (Eq. 7), BCE + KL (Eqs. 17, 20), audio-switch BCE (Sec. 3.3).

Every loss returns a scalar (mean over the batch). Saliency losses take predicted maps that are
already probabilities in ``[0, 1]`` (the STA / STA+ nets end in a sigmoid) and clamp them to
``[eps, 1 - eps]`` inside the logarithms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import check_finite, check_floating, check_ndim, check_same_shape, check_tags

__all__ = ["bce_kl_loss", "kl_loss", "msm_loss", "sta_plus_loss", "switch_loss"]


def msm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Multi-label soft margin loss, STANet+ Eq. 7 (``torch.nn.MultiLabelSoftMarginLoss``).

    ``L = -1/C sum_c [y_c log sigmoid(x_c) + (1 - y_c) log(1 - sigmoid(x_c))]``, averaged over
    the batch, ``y`` the one-hot tag (or a multi-hot tag set).

    Args:
        logits: ``(b, C)`` class scores.
        targets: ``(b,)`` int64 tags in ``[0, C)`` or ``(b, C)`` multi-hot (0/1, float or bool).

    Returns:
        Scalar loss.

    Raises:
        TypeError, ValueError: non-float logits, targets of the wrong shape, tags outside
        ``[0, C)``, NaN/Inf.

    Example:
        >>> logits = torch.tensor([[0.0, 0.0]])
        >>> float(msm_loss(logits, torch.tensor([0])))  # both classes: -log sigmoid(0) = log 2
        0.6931...
    """
    check_floating(logits, "logits")
    check_ndim(logits, "logits", 2, "(b, C)")
    check_finite(logits, "logits")
    b, c = logits.shape
    if targets.ndim == 1:
        check_tags(targets, b, c, "targets")
        onehot = F.one_hot(targets.to(logits.device), c).to(logits.dtype)
    else:
        check_ndim(targets, "targets", 2, "(b,) or (b, C)")
        check_same_shape(logits, targets, "logits", "targets")
        onehot = targets.to(device=logits.device, dtype=logits.dtype)
    return F.multilabel_soft_margin_loss(logits, onehot)


def _as_maps(x: Tensor, name: str) -> Tensor:
    check_floating(x, name)
    check_ndim(x, name, (3, 4), "(b, h, w) or (b, 1, h, w)")
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must have shape (b, 1, h, w), got {tuple(x.shape)}")
        x = x[:, 0]
    check_finite(x, name)
    return x


def _paired_maps(pred: Tensor, target: Tensor, name: str = "target") -> tuple[Tensor, Tensor]:
    """``pred`` and ``target`` as checked ``(b, h, w)`` maps of the same shape."""
    pred, target = _as_maps(pred, "pred"), _as_maps(target, name)
    check_same_shape(pred, target, "pred", name)
    return pred, target


def _masked_mean(per_sample: Tensor, valid: Tensor | None) -> Tensor:
    """Mean over axis 0 of ``per_sample`` counting only ``valid`` rows (0 when none is valid)."""
    if valid is None:
        return per_sample.mean(dim=0)
    if valid.shape != per_sample.shape:
        raise ValueError(
            f"valid must have shape {tuple(per_sample.shape)}, got {tuple(valid.shape)}"
        )
    weights = valid.to(device=per_sample.device, dtype=per_sample.dtype)
    return (per_sample * weights).sum(dim=0) / weights.sum(dim=0).clamp_min(1.0)


def _kl_per_map(pred: Tensor, target: Tensor, eps: float) -> Tensor:
    p = pred / (pred.sum(dim=(-2, -1), keepdim=True) + eps)
    q = target / (target.sum(dim=(-2, -1), keepdim=True) + eps)
    return (q * torch.log(eps + q / (p + eps))).sum(dim=(-2, -1))


def _bce_kl_per_map(pred: Tensor, target: Tensor, eps: float) -> Tensor:
    p = pred.clamp(eps, 1.0 - eps)
    bce = -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p)).mean(dim=(-2, -1))
    return bce + _kl_per_map(pred, target, eps)


def kl_loss(pred: Tensor, target: Tensor, eps: float = 1e-7, valid: Tensor | None = None) -> Tensor:
    """KL divergence between saliency maps (the ``L_KL`` of STANet+ Eqs. 17 and 20).

    Both maps are normalised to sum 1 over the spatial axes (``x / (sum x + eps)``), then
    ``KL = sum_p q_p log(eps + q_p / (p_p + eps))`` with ``q`` the target (MIT-benchmark KLD).
    A target that is all zeros gives 0.

    Args:
        pred: ``(b, h, w)`` or ``(b, 1, h, w)`` predicted map, non-negative.
        target: pseudo-ground truth of the same shape, non-negative.
        eps: stabiliser.
        valid: optional ``(b,)`` bool; samples marked False do not count (e.g. frames without
            a pseudo-fixation, ``SCAMResult.valid``); mean over valid samples (0 if none).

    Returns:
        Scalar: the mean KL of the valid samples.

    Raises:
        TypeError: non-float maps.
        ValueError: shapes that differ or are not ``(b, h, w)`` / ``(b, 1, h, w)``, NaN/Inf.

    Example:
        >>> m = torch.rand(2, 4, 4)
        >>> float(kl_loss(m, m)) < 1e-5
        True
    """
    pred, target = _paired_maps(pred, target)
    return _masked_mean(_kl_per_map(pred, target, eps), valid)


def bce_kl_loss(
    pred: Tensor, target: Tensor, eps: float = 1e-7, valid: Tensor | None = None
) -> Tensor:
    """Saliency loss of the STA net, STANet+ Eq. 17: ``L = BCE(pred, pGT) + KL(pred, pGT)``.

    BCE is the pixel mean of ``-(q log p + (1 - q) log(1 - p))`` with ``p`` clamped to
    ``[eps, 1 - eps]``; KL as :func:`kl_loss`. Both are averaged over the (valid) samples.

    Args:
        pred: ``(b, h, w)`` or ``(b, 1, h, w)`` predicted map in ``[0, 1]``.
        target: pseudo-ground truth of the same shape, in ``[0, 1]``.
        eps: stabiliser.
        valid: optional ``(b,)`` bool mask of the samples that count.

    Returns:
        Scalar loss.

    Raises:
        TypeError, ValueError: as :func:`kl_loss`.

    Example:
        >>> q = torch.tensor([[[0.0, 1.0]]])
        >>> float(bce_kl_loss(torch.tensor([[[0.5, 0.5]]]), q))  # BCE log 2 + KL log 2
        1.3862...
    """
    pred, target = _paired_maps(pred, target)
    return _masked_mean(_bce_kl_per_map(pred, target, eps), valid)


def sta_plus_loss(
    pred: Tensor, target: Tensor, eps: float = 1e-7, valid: Tensor | None = None
) -> Tensor:
    """Loss of the STA+ net, STANet+ Eq. 20: Eq. 17 summed over the target and MG nodes.

    Args:
        pred: ``(b, n, h, w)`` maps of the ``n`` nodes (node 0 the target) in ``[0, 1]``.
        target: ``(b, n, h, w)`` pseudo-ground truths of the same nodes.
        eps: stabiliser.
        valid: optional ``(b, n)`` bool mask; each node averages over its own valid samples.

    Returns:
        Scalar: ``sum_k bce_kl_loss(pred[:, k], target[:, k])``.

    Raises:
        ValueError: shapes differ or are not ``(b, n, h, w)``, NaN/Inf.

    Example:
        >>> p, q = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
        >>> total = sum(bce_kl_loss(p[:, k], q[:, k]) for k in range(3))
        >>> torch.allclose(sta_plus_loss(p, q), total)
        True
    """
    check_floating(pred, "pred")
    check_ndim(pred, "pred", 4, "(b, n, h, w)")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_finite(pred, "pred")
    check_finite(target, "target")
    return _masked_mean(_bce_kl_per_map(pred, target, eps), valid).sum()


def switch_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Training objective of the audio switch (Sec. 3.3): BCE on "the audio carries the tag".

    Args:
        logits: ``(b,)`` switch logits (before the sigmoid).
        labels: ``(b,)`` 0/1 labels (bool, int or float), e.g. from
            :func:`scamlib.nn.switch_labels`.

    Returns:
        Scalar ``binary_cross_entropy_with_logits`` (mean over the batch).

    Example:
        >>> float(switch_loss(torch.tensor([0.0]), torch.tensor([1])))  # log 2
        0.6931...
    """
    check_floating(logits, "logits")
    check_ndim(logits, "logits", 1, "(b,)")
    if labels.shape != logits.shape:
        raise ValueError(f"labels must have shape {tuple(logits.shape)}, got {tuple(labels.shape)}")
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def _stavis_terms(pred: Tensor, density: Tensor, fixations: Tensor | None, eps: float) -> Tensor:
    """``(b, 3)`` per-map ``D_CE, D_CC, D_NSS`` of STAViS Eqs. 8-10."""
    p = pred.clamp(eps, 1.0 - eps)
    ce = -(density * torch.log(p) + (1.0 - density) * torch.log1p(-p)).mean(dim=(-2, -1))
    pc = pred - pred.mean(dim=(-2, -1), keepdim=True)
    yc = density - density.mean(dim=(-2, -1), keepdim=True)
    cov = (pc * yc).sum(dim=(-2, -1))
    cc = cov / ((pc.square().sum(dim=(-2, -1)) * yc.square().sum(dim=(-2, -1))).sqrt() + eps)
    if fixations is None:
        nss = torch.zeros_like(cc)
    else:
        std = pred.flatten(-2).std(dim=-1, correction=1)
        normed = pc / (std[:, None, None] + eps)
        fix = fixations.to(pred.dtype)
        nss = (normed * fix).sum(dim=(-2, -1)) / fix.sum(dim=(-2, -1)).clamp_min(1.0)
    return torch.stack([ce, -cc, -nss], dim=-1)


def stavis_loss(
    pred: Tensor,
    density: Tensor,
    fixations: Tensor | None = None,
    sides: Tensor | None = None,
    weights: tuple[float, float, float] = (0.1, 2.0, 1.0),
    eps: float = 1e-7,
) -> Tensor:
    """Saliency loss of STAViS (Eqs. 6-11): ``w1 L_CE + w2 L_CC + w3 L_NSS``.

    Per map, ``D = w1 D_CE + w2 D_CC + w3 D_NSS`` with

    * ``D_CE`` (Eq. 8): binary cross-entropy of ``P`` against the dense map ``Y_den``,
      averaged over the pixels (the paper's sum, with its ``(1 - log P)`` read as
      ``log(1 - P)``); ``P`` is clamped to ``[eps, 1 - eps]``;
    * ``D_CC`` (Eq. 9): ``-cov(P, Y_den) / (std P std Y_den)`` (0 for a constant map);
    * ``D_NSS`` (Eq. 10): ``-(1/N_f) sum P~ Y_fix`` with ``P~ = (P - mean P) / std P``, the
      sample standard deviation (divisor ``n - 1``, as :func:`scamlib.metrics.nss`); 0 for a
      map without fixations, and the whole term is left out when ``fixations`` is None.

    Eq. 7 (audio-visual training) is ``D(sigmoid(S^av))``: pass the network's output as
    ``pred``. Eq. 6 (visual-only training with deep supervision) adds ``D(sigmoid(A^m))`` for
    every DSAM level: pass those maps as ``sides``. The default weights are the paper's
    ``(0.1, 2, 1)`` (Sec. 3.6).

    Args:
        pred: ``(b, h, w)`` or ``(b, 1, h, w)`` predicted map in ``[0, 1]``.
        density: dense ground truth of the same shape, in ``[0, 1]``.
        fixations: binary fixation map of the same shape (bool or 0/1), or None.
        sides: ``(b, M, h, w)`` deep-supervision maps in ``[0, 1]`` (Eq. 6), or None.
        weights: ``(w1, w2, w3)`` of Eq. 11.
        eps: stabiliser.

    Returns:
        Scalar: the mean over the batch of ``D(pred) + sum_m D(sides[:, m])``.

    Raises:
        ValueError: shapes differ, NaN/Inf, or ``weights`` is not three numbers.

    Example:
        >>> y = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
        >>> fix = y > 0.5
        >>> loss = stavis_loss(y.clamp(0.1, 0.9), y, fix, weights=(0.0, 1.0, 1.0))
        >>> round(float(loss), 4)  # -CC = -1, -NSS = -(0.9 - 0.3) / 0.4 = -1.5
        -2.5
    """
    pred, density = _paired_maps(pred, density, "density")
    if fixations is not None:
        if not isinstance(fixations, Tensor):
            raise TypeError(f"fixations must be a torch.Tensor, got {type(fixations).__name__}")
        if fixations.ndim == 4 and fixations.shape[1] == 1:
            fixations = fixations[:, 0]
        check_same_shape(pred, fixations, "pred", "fixations")
        fixations = fixations.to(pred.device)
    if len(tuple(weights)) != 3:
        raise ValueError(f"weights must be (w1, w2, w3), got {weights!r}")
    w = torch.tensor([float(x) for x in weights], dtype=pred.dtype, device=pred.device)
    total = (_stavis_terms(pred, density, fixations, eps) * w).sum(dim=-1)
    if sides is not None:
        check_floating(sides, "sides")
        check_ndim(sides, "sides", 4, "(b, M, h, w)")
        check_finite(sides, "sides")
        if sides.shape[0] != pred.shape[0] or sides.shape[-2:] != pred.shape[-2:]:
            raise ValueError(
                f"sides must have shape ({pred.shape[0]}, M, {pred.shape[-2]}, "
                f"{pred.shape[-1]}), got {tuple(sides.shape)}"
            )
        for m in range(sides.shape[1]):
            total = total + (_stavis_terms(sides[:, m], density, fixations, eps) * w).sum(-1)
    return total.mean()


__all__ += ["stavis_loss"]
