"""Class activation maps and their selective fusion: STANet+ Eqs. 1, 2, 3, 8 and 22."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import (
    as_size,
    check_finite,
    check_floating,
    check_ndim,
    check_tags,
)
from .norm import minmax

__all__ = ["SCAMResult", "average_cams", "cam", "scam", "scam_plus", "soft_filter"]


class SCAMResult(NamedTuple):
    """What :func:`scam` and :func:`scam_plus` return.

    Attributes:
        map: ``(b, h, w)`` pseudo-fixation map in ``[0, 1]``; all zeros where ``valid`` is False.
        valid: ``(b,)`` bool; False where no source classifies the frame as its tag (every
            soft-filtered confidence is 0) or the fused map is constant. Pipelines leave such
            frames out of pseudo-ground-truth training (SPEC §3).
    """

    map: Tensor
    valid: Tensor


def cam(class_maps: Tensor, tags: Tensor, size: int | tuple[int, int] | None = None) -> Tensor:
    """Class activation map of the tagged class, STANet+ Eq. 1.

    The classifier ends in a 1x1 conv to ``C`` channels and global average pooling, so the
    weighted sum of Eq. 1 is already channel ``tag`` of the pre-pooling map. This op takes that
    channel, applies ReLU, optionally resizes it bilinearly (``align_corners=False``), and
    min-max normalises it (SPEC §1).

    Args:
        class_maps: ``(b, c, h, w)`` pre-pooling class maps of a classifier.
        tags: ``(b,)`` int64 class indices in ``[0, c)``.
        size: output size ``int`` or ``(H, W)``; ``None`` keeps ``(h, w)``.

    Returns:
        ``(b, h, w)`` or ``(b, H, W)`` maps in ``[0, 1]``. A map that is constant after ReLU
        (e.g. all negative responses) comes out all zeros.

    Raises:
        TypeError: non-float maps or non-integer tags.
        ValueError: wrong shapes, NaN/Inf in ``class_maps``, tags outside ``[0, c)``.

    Example:
        >>> maps = torch.zeros(1, 2, 2, 2)
        >>> maps[0, 1] = torch.tensor([[-1.0, 1.0], [2.0, 3.0]])
        >>> cam(maps, torch.tensor([1]))
        tensor([[[0.0000, 0.3333],
                 [0.6667, 1.0000]]])
    """
    check_floating(class_maps, "class_maps")
    check_ndim(class_maps, "class_maps", 4, "(b, c, h, w)")
    check_finite(class_maps, "class_maps")
    b, c = class_maps.shape[:2]
    check_tags(tags, b, c)
    selected = class_maps[torch.arange(b, device=class_maps.device), tags.to(class_maps.device)]
    selected = F.relu(selected)
    if size is not None:
        size = as_size(size)
        selected = F.interpolate(
            selected[:, None], size=size, mode="bilinear", align_corners=False
        )[:, 0]
    return minmax(selected)


def soft_filter(confidences: Tensor, tags: Tensor) -> Tensor:
    """Soft filter of a classifier's confidence, STANet+ Eq. 3.

    ``UC = conf[tag]`` if the tag class is the strict argmax of ``conf`` (greater than every
    other class), else 0 (SPEC §2). A tie with another class gives 0.

    Args:
        confidences: ``(b, c)`` class confidences (softmax of the logits), or ``(b, k, c)``
            for ``k`` sources at once.
        tags: ``(b,)`` int64 class indices in ``[0, c)``.

    Returns:
        ``(b,)`` (or ``(b, k)``) soft-filtered confidences, same dtype as ``confidences``.

    Raises:
        TypeError: non-float confidences or non-integer tags.
        ValueError: wrong shapes, NaN/Inf, tags outside ``[0, c)``.

    Example:
        >>> conf = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1]])
        >>> soft_filter(conf, torch.tensor([0, 0]))
        tensor([0.7000, 0.0000])
    """
    check_floating(confidences, "confidences")
    check_ndim(confidences, "confidences", (2, 3), "(b, c) or (b, k, c)")
    check_finite(confidences, "confidences")
    b, c = confidences.shape[0], confidences.shape[-1]
    check_tags(tags, b, c)
    tags = tags.to(confidences.device)
    index = tags.view(b, *([1] * (confidences.ndim - 1))).expand(*confidences.shape[:-1], 1)
    tagged = confidences.gather(-1, index).squeeze(-1)
    is_tag = F.one_hot(tags, c).bool().view(b, *([1] * (confidences.ndim - 2)), c)
    others = confidences.masked_fill(is_tag, float("-inf")).amax(-1)
    return torch.where(tagged > others, tagged, torch.zeros_like(tagged))


def scam(cams: Tensor, confidences: Tensor, tags: Tensor, lam: float = 1e-4) -> SCAMResult:
    """Selective class activation mapping, STANet+ Eq. 2 (SPEC §3).

    ``SCAM = Z((sum_k UC_k * Phi_k + lam) / (sum_k UC_k + lam))`` with ``UC_k`` the
    soft-filtered confidence (Eq. 3) of source ``k`` and ``Phi_k`` its CAM. With the three
    sources S, ST, SA this is STANet's SCAM; any number of sources is accepted.

    Args:
        cams: ``(b, k, h, w)`` CAMs of the tagged class, already min-max normalised.
        confidences: ``(b, k, c)`` class confidences of the ``k`` sources.
        tags: ``(b,)`` int64 class indices in ``[0, c)``.
        lam: the small constant ``lambda`` of Eq. 2 (default 1e-4, >= 0).

    Returns:
        :class:`SCAMResult` ``(map, valid)``: ``map`` ``(b, h, w)`` in ``[0, 1]``; ``valid``
        ``(b,)`` is False where every ``UC_k`` is 0 or the fused map is constant, and ``map``
        is all zeros there.

    Raises:
        TypeError: non-float inputs or non-integer tags.
        ValueError: shapes that disagree, NaN/Inf, tags outside ``[0, c)``, ``lam < 0``.

    Example:
        >>> cams = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])  # b=1, k=2, h=1, w=2
        >>> conf = torch.tensor([[[0.9, 0.1], [0.2, 0.8]]])      # source 2 disagrees
        >>> out = scam(cams, conf, torch.tensor([0]))
        >>> out.map, out.valid
        (tensor([[[0., 1.]]]), tensor([True]))
    """
    check_floating(cams, "cams")
    check_ndim(cams, "cams", 4, "(b, k, h, w)")
    check_floating(confidences, "confidences")
    check_ndim(confidences, "confidences", 3, "(b, k, c)")
    if confidences.shape[:2] != cams.shape[:2]:
        raise ValueError(
            "cams (b, k, h, w) and confidences (b, k, c) must agree on (b, k), got "
            f"{tuple(cams.shape)} and {tuple(confidences.shape)}"
        )
    if cams.shape[1] == 0:
        raise ValueError(f"scam needs at least one source, got cams of shape {tuple(cams.shape)}")
    check_finite(cams, "cams")
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    weights = soft_filter(confidences, tags).to(torch.result_type(cams, confidences))
    numerator = torch.einsum("bk,bkhw->bhw", weights, cams.to(weights.dtype)) + lam
    denominator = (weights.sum(1) + lam)[:, None, None]
    safe = denominator > 0
    fused = torch.where(safe, numerator / torch.where(safe, denominator, 1.0), 0.0)
    fused_map, has_range = minmax(fused, return_valid=True)
    valid = (weights > 0).any(1) & has_range
    return SCAMResult(torch.where(valid[:, None, None], fused_map, 0.0), valid)


def scam_plus(
    base_cams: Tensor,
    base_confidences: Tensor,
    mg_cams: Tensor,
    mg_confidences: Tensor,
    tags: Tensor,
    lam: float = 1e-4,
) -> SCAMResult:
    """SCAM+, STANet+ Eq. 8: SCAM over the base sources and the multi-granularity sources.

    The base sources are SCAM's S, ST, SA (``UC``/``UR`` of Eq. 8); the multi-granularity
    ones are S+, ST+ x {short, long, cross} and SA+ x {long, cross} (``SC/SR``, ``LC/LR``,
    ``CC/CR``). Eq. 8 sums every soft-filtered confidence and weighted CAM in one numerator and
    one denominator, so it equals :func:`scam` over the concatenated sources (SPEC §8); any
    ``k1``, ``k2`` are accepted.

    Args:
        base_cams: ``(b, k1, h, w)`` min-max normalised CAMs of the SCAM sources.
        base_confidences: ``(b, k1, c)`` their confidences.
        mg_cams: ``(b, k2, h, w)`` CAMs of the multi-granularity sources.
        mg_confidences: ``(b, k2, c)`` their confidences.
        tags: ``(b,)`` int64 class indices.
        lam: ``lambda`` of Eq. 8 (default 1e-4).

    Returns:
        :class:`SCAMResult` ``(map, valid)`` as :func:`scam`.

    Raises:
        ValueError: the two groups disagree on ``b``, ``h``, ``w`` or ``c``, plus :func:`scam`'s.

    Example:
        >>> base = torch.rand(2, 3, 4, 4); mg = torch.rand(2, 8, 4, 4)
        >>> cb = torch.rand(2, 3, 5).softmax(-1); cm = torch.rand(2, 8, 5).softmax(-1)
        >>> t = torch.tensor([1, 4])
        >>> joint = scam(torch.cat([base, mg], 1), torch.cat([cb, cm], 1), t)
        >>> torch.equal(scam_plus(base, cb, mg, cm, t).map, joint.map)
        True
    """
    for name, x, layout in (
        ("base_cams", base_cams, "(b, k1, h, w)"),
        ("mg_cams", mg_cams, "(b, k2, h, w)"),
    ):
        check_floating(x, name)
        check_ndim(x, name, 4, layout)
    for name, x, layout in (
        ("base_confidences", base_confidences, "(b, k1, c)"),
        ("mg_confidences", mg_confidences, "(b, k2, c)"),
    ):
        check_floating(x, name)
        check_ndim(x, name, 3, layout)
    if base_cams.shape[0] != mg_cams.shape[0] or base_cams.shape[2:] != mg_cams.shape[2:]:
        raise ValueError(
            "base_cams and mg_cams must agree on (b, h, w), got "
            f"{tuple(base_cams.shape)} and {tuple(mg_cams.shape)}"
        )
    if base_confidences.shape[::2] != mg_confidences.shape[::2]:
        raise ValueError(
            "base_confidences and mg_confidences must agree on (b, c), got "
            f"{tuple(base_confidences.shape)} and {tuple(mg_confidences.shape)}"
        )
    return scam(
        torch.cat([base_cams, mg_cams], dim=1),
        torch.cat([base_confidences, mg_confidences], dim=1),
        tags,
        lam=lam,
    )


def average_cams(cams: Tensor) -> Tensor:
    """Plain average of the source CAMs, the "AC" ablation baseline, STANet+ Eq. 22.

    ``AC = (1/k) sum_k Phi_k``, no confidence weighting and no re-normalisation (with three
    sources this is exactly Eq. 22).

    Args:
        cams: ``(b, k, h, w)`` CAMs, ``k >= 1``.

    Returns:
        ``(b, h, w)`` mean over the ``k`` sources.

    Raises:
        TypeError: non-float ``cams``.
        ValueError: wrong shape, ``k = 0``, NaN/Inf.

    Example:
        >>> average_cams(torch.tensor([[[[0.0, 1.0]], [[1.0, 1.0]], [[0.5, 0.0]]]]))
        tensor([[[0.5000, 0.6667]]])
    """
    check_floating(cams, "cams")
    check_ndim(cams, "cams", 4, "(b, k, h, w)")
    if cams.shape[1] == 0:
        raise ValueError(f"average_cams needs at least one source, got {tuple(cams.shape)}")
    check_finite(cams, "cams")
    return cams.mean(dim=1)
